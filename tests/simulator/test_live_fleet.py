"""Simulated agents against a real server process (gunicorn, gevent) on a free local port.

The agents poll every second (the system setting), so each test settles within seconds;
every wait is bounded and nothing here asserts timings.
"""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from vectorflow.models import NodePipelineStatus, NodeStatus, SystemSettings, VectorNode
from vectorflow.services.actors import Actor
from vectorflow.services.environments import issue_enrollment_token
from vectorflow.services.nodes import delete_node, trigger_agent_update
from vectorflow.services.pipelines import create_pipeline, deploy_pipeline, undeploy_pipeline
from vectorflow.simulator import Fleet, FleetThread
from vectorflow.simulator.server import ServerProcess

pytestmark = pytest.mark.slow

CONFIG = """\
sources:
  in_{n}:
    type: demo_logs
    format: json
sinks:
  out_{n}:
    type: blackhole
    inputs: [in_{n}]
"""
WAIT = 45.0


@pytest.fixture
def server(app, database_url, tmp_path):
    """The app served by gunicorn in a child process, on the test's database."""
    proc = ServerProcess(database_url=database_url, instance_path=tmp_path / "server",
                         env={"SECRET_KEY": app.config["SECRET_KEY"],
                              "VECTORFLOW_SWEEP_INTERVAL": "1"},
                         log_path=tmp_path / "server.log")
    proc.start(timeout=60)
    yield proc
    proc.stop()


@pytest.fixture
def fleet_env(db, world):
    """The world's environment with two deployed pipelines, a 1 s poll interval and a token."""
    settings = SystemSettings.get()
    settings.fleet_poll_interval_ms = 1000
    db.session.merge(settings)
    pipelines = []
    for n in (1, 2):
        pipeline = create_pipeline(world.env, f"pipeline-{n}", CONFIG.format(n=n), actor=Actor.cli())
        deploy_pipeline(pipeline, actor=Actor.cli())
        pipelines.append(pipeline)
    token = issue_enrollment_token(world.env, actor=Actor.cli())
    db.session.commit()
    return world.env, pipelines, token


@pytest.fixture
def start_fleet(server, tmp_path):
    """Start simulated agents in a thread; ``start_fleet.stop(fleet)`` waits for them to end."""
    running: dict[int, FleetThread] = {}

    def start(token, agents=3, **options):
        options.setdefault("push", False)
        fleet = Fleet(server.url, token, agents, poll=1.0, ramp=0.5,
                      state_dir=options.pop("state_dir", tmp_path / "agents"), **options)
        running[id(fleet)] = FleetThread(fleet)
        running[id(fleet)].start()
        return fleet

    start.stop = lambda fleet: running.pop(id(fleet)).stop()
    yield start
    for thread in running.values():
        thread.stop()


def eventually(check, timeout: float = WAIT, what: str = "condition"):
    """Wait (bounded) until ``check()`` returns a truthy value, and return it."""
    from vectorflow.extensions import db

    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()          # see what the server committed meanwhile
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.25)


def statuses(db, node_id=None):
    query = sa.select(NodePipelineStatus)
    if node_id:
        query = query.where(NodePipelineStatus.node_id == node_id)
    return db.session.scalars(query).all()


def test_agents_enroll_run_the_deployed_pipelines_and_show_healthy(db, fleet_env, start_fleet):
    env, pipelines, token = fleet_env
    fleet = start_fleet(token, agents=3)

    def all_running():
        nodes = db.session.scalars(sa.select(VectorNode).where(VectorNode.environment_id == env.id)).all()
        rows = statuses(db)
        return len(nodes) == 3 and len(rows) == 6 and all(r.status.name == "RUNNING" for r in rows) \
            and nodes

    nodes = eventually(all_running, what="3 nodes running 2 pipelines each")
    assert sorted(n.name for n in nodes) == ["sim-0001", "sim-0002", "sim-0003"]
    assert {n.status for n in nodes} == {NodeStatus.HEALTHY}
    assert all(n.agent_version and n.vector_version for n in nodes)
    assert {r.pipeline_id for r in statuses(db)} == {p.id for p in pipelines}
    assert all(r.events_in > 0 or r.uptime_seconds is not None for r in statuses(db))
    assert fleet.stats.total_errors() == 0


def test_undeploying_a_pipeline_makes_the_agents_stop_it(db, fleet_env, start_fleet):
    env, pipelines, token = fleet_env
    fleet = start_fleet(token, agents=2)
    eventually(lambda: len([r for r in statuses(db) if r.status.name == "RUNNING"]) == 4,
               what="both pipelines running on both nodes")
    undeploy_pipeline(pipelines[0], actor=Actor.cli())
    db.session.commit()
    eventually(lambda: {r.pipeline_id for r in statuses(db)} == {pipelines[1].id}
               and len(statuses(db)) == 2, what="the undeployed pipeline to disappear")
    assert all(set(agent.processes) == {pipelines[1].id} for agent in fleet.agents)


def test_a_node_in_maintenance_reports_no_pipelines_after_its_next_poll(db, fleet_env,
                                                                         start_fleet):
    maintenance = pytest.importorskip("vectorflow.services.maintenance")
    env, pipelines, token = fleet_env
    fleet = start_fleet(token, agents=2)
    eventually(lambda: len([r for r in statuses(db) if r.status.name == "RUNNING"]) == 4,
               what="both pipelines running on both nodes")
    node = db.session.scalar(sa.select(VectorNode).where(VectorNode.name == "sim-0001"))
    maintenance.set_maintenance(node, True, reason="kernel upgrade", force=True, actor=Actor.cli())
    db.session.commit()
    eventually(lambda: statuses(db, node.id) == [], what="the node in maintenance to report nothing")
    agent = next(a for a in fleet.agents if a.hostname == "sim-0001")
    assert agent.running_count() == 0
    other = next(a for a in fleet.agents if a.hostname == "sim-0002")
    assert other.running_count() == 2
    maintenance.set_maintenance(node, False, actor=Actor.cli())
    db.session.commit()
    eventually(lambda: len([r for r in statuses(db, node.id) if r.status.name == "RUNNING"]) == 2,
               what="the node to run its pipelines again")


def test_a_restarted_simulator_reuses_its_node_tokens(db, fleet_env, start_fleet, tmp_path):
    env, pipelines, token = fleet_env
    first = start_fleet(token, agents=2, state_dir=tmp_path / "kept")
    eventually(lambda: all(a.last_report for a in first.agents), what="two heartbeats")
    start_fleet.stop(first)
    again = start_fleet("vf_enroll_no_longer_needed", agents=2, state_dir=tmp_path / "kept")
    eventually(lambda: all(a.last_report for a in again.agents), what="heartbeats after a restart")
    count = db.session.scalar(sa.select(sa.func.count()).select_from(VectorNode))
    assert count == 2
    assert "enroll" not in again.stats.latencies and not again.stats.errors


def test_a_deleted_node_gets_401_but_keeps_its_pipelines_running(db, fleet_env, start_fleet):
    env, pipelines, token = fleet_env
    fleet = start_fleet(token, agents=1)
    eventually(lambda: len([r for r in statuses(db) if r.status.name == "RUNNING"]) == 2,
               what="the pipelines to run")
    delete_node(db.session.scalar(sa.select(VectorNode)), actor=Actor.cli())
    db.session.commit()
    eventually(lambda: fleet.stats.errors["poll"].get("401", 0) >= 2, what="polls refused with 401")
    assert fleet.agents[0].running_count() == 2


def test_pending_self_update_is_reported_as_the_new_agent_version(db, fleet_env, start_fleet):
    env, pipelines, token = fleet_env
    start_fleet(token, agents=1)
    node = eventually(lambda: db.session.scalar(sa.select(VectorNode)), what="enrollment")
    trigger_agent_update(node, "9.9.9", "https://updates.example.test/vf-agent",
                         "sha256:" + "0" * 64, actor=Actor.cli())
    db.session.commit()
    eventually(lambda: db.session.get(VectorNode, node.id).agent_version == "9.9.9",
               what="the agent to report the target version")
    assert db.session.get(VectorNode, node.id).pending_action is None
