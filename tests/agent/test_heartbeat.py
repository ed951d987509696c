"""POST /api/agent/heartbeat: liveness, versions, per-pipeline status and self-update results."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from vectorflow import transactions
from vectorflow.extensions import db
from vectorflow.live.broker import INTERNAL_EVENTS
from vectorflow.models import (
    DeploymentMode,
    Event,
    NodePipelineStatus,
    NodeStatus,
    NodeStatusEvent,
    ProcessStatus,
    VectorNode,
    utcnow,
)
from vectorflow.services.agent import is_version_older

from .. import factories
from ..lock_holder import LockHolder
from .conftest import count_queries

UPDATE = {"type": "self_update", "targetVersion": "2.0.1",
          "downloadUrl": "https://updates.example.test/vf-agent", "checksum": "sha256:abc"}


def status(pipeline_id, state="RUNNING", version=1, **extra):
    return {"pipelineId": pipeline_id, "version": version, "status": state, **extra}


def fresh(node) -> VectorNode:
    db.session.expire_all()
    return db.session.get(VectorNode, node.id)


def statuses(node) -> dict:
    rows = db.session.scalars(sa.select(NodePipelineStatus)
                              .where(NodePipelineStatus.node_id == node.id)).all()
    return {row.pipeline_id: row for row in rows}


def events(kind=None) -> list[Event]:
    """The events dashboards and agents see (not the processes' own)."""
    query = sa.select(Event).where(Event.type.not_in(INTERNAL_EVENTS)).order_by(Event.id)
    if kind:
        query = query.where(Event.type == kind)
    return db.session.scalars(query).all()


def test_a_heartbeat_records_liveness_versions_and_labels(agent):
    old = utcnow() - timedelta(minutes=5)
    agent.node.last_heartbeat = agent.node.last_seen = old
    db.session.commit()
    response = agent.heartbeat({"pipelines": [], "agentVersion": "2.0.0", "vectorVersion": "0.54.0",
                                "deploymentMode": "DOCKER", "runningAs": "vectorflow",
                                "labels": {"role": "ingest"}})
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}
    node = fresh(agent.node)
    assert node.last_heartbeat > old and node.last_seen == node.last_heartbeat
    assert (node.agent_version, node.vector_version) == ("2.0.0", "0.54.0")
    assert node.deployment_mode == DeploymentMode.DOCKER
    assert node.running_as == "vectorflow"
    assert node.labels == {"role": "ingest"}


def test_an_older_agent_sending_only_pipelines_keeps_what_is_known(agent):
    agent.heartbeat({"pipelines": [], "agentVersion": "2.0.0", "labels": {"a": "b"}})
    assert agent.heartbeat({"pipelines": []}).status_code == 200
    node = fresh(agent.node)
    assert node.agent_version == "2.0.0" and node.labels == {"a": "b"}


def test_an_agent_no_longer_running_as_a_named_user_clears_it_with_an_empty_string(agent):
    agent.heartbeat({"pipelines": [], "runningAs": "vectorflow"})
    assert agent.heartbeat({"pipelines": [], "runningAs": ""}).status_code == 200
    assert fresh(agent.node).running_as is None


def test_go_nulls_for_empty_lists_and_maps_are_accepted(agent):
    response = agent.heartbeat({"pipelines": None, "labels": None, "sampleResults": None,
                                "hostMetrics": None})
    assert response.status_code == 200


def test_pipeline_statuses_are_replaced_by_what_the_node_reports(agent, world):
    a, b = factories.make_pipeline(world.env, "a"), factories.make_pipeline(world.env, "b")
    foreign = factories.make_pipeline(world.other_env, "foreign")
    db.session.commit()
    agent.heartbeat({"pipelines": [
        status(a.id, eventsIn=10, eventsOut=9, errorsTotal=1, bytesIn=100, bytesOut=90,
               eventsDiscarded=2, pid=42, uptimeSeconds=60, utilization=0.5,
               recentLogs=["started"], configChecksum="abc"),
        status(b.id, "STARTING", version=3),
        status(foreign.id),
        status("no-such-pipeline"),
    ]})
    rows = statuses(agent.node)
    assert set(rows) == {a.id, b.id}
    row = rows[a.id]
    assert (row.events_in, row.events_out, row.errors_total, row.bytes_in, row.bytes_out,
            row.events_discarded) == (10, 9, 1, 100, 90, 2)
    assert (row.pid, row.uptime_seconds, row.utilization, row.recent_logs, row.config_checksum) == (
        42, 60, 0.5, ["started"], "abc")
    assert (rows[b.id].status, rows[b.id].version) == (ProcessStatus.STARTING, 3)

    agent.heartbeat({"pipelines": [status(b.id, "RUNNING", version=3)]})
    rows = statuses(agent.node)
    assert set(rows) == {b.id} and rows[b.id].status == ProcessStatus.RUNNING

    agent.heartbeat({"pipelines": []})
    assert statuses(agent.node) == {}


def test_a_crashed_pipeline_makes_the_node_degraded_and_a_recovery_healthy_again(agent, world):
    pipeline = factories.make_pipeline(world.env, "a")
    db.session.commit()
    agent.heartbeat({"pipelines": [status(pipeline.id, "CRASHED")]})
    assert fresh(agent.node).status == NodeStatus.DEGRADED
    agent.heartbeat({"pipelines": [status(pipeline.id, "RUNNING")]})
    assert fresh(agent.node).status == NodeStatus.HEALTHY
    history = db.session.scalars(sa.select(NodeStatusEvent).order_by(NodeStatusEvent.id)).all()
    assert [(h.from_status, h.to_status) for h in history] == [
        (NodeStatus.HEALTHY, NodeStatus.DEGRADED), (NodeStatus.DEGRADED, NodeStatus.HEALTHY)]
    assert [e.payload["to"] for e in events("node.status_changed")] == ["DEGRADED", "HEALTHY"]


def test_an_unreachable_node_that_heartbeats_is_healthy_again_with_the_transition_recorded(agent):
    agent.node.status = NodeStatus.UNREACHABLE
    db.session.commit()
    agent.heartbeat({"pipelines": []})
    assert fresh(agent.node).status == NodeStatus.HEALTHY
    [event] = events("node.status_changed")
    assert event.payload["from"] == "UNREACHABLE" and event.payload["to"] == "HEALTHY"
    assert event.node_id == agent.node.id


def test_events_are_emitted_only_when_something_a_user_sees_changed(agent, world):
    pipeline = factories.make_pipeline(world.env, "a")
    db.session.commit()
    agent.heartbeat({"pipelines": [status(pipeline.id, "STARTING", eventsIn=1)]})
    [appeared] = events("node.pipeline_status_changed")
    assert appeared.payload == {"pipelineId": pipeline.id, "from": None, "to": "STARTING",
                                "version": 1}

    # Counters move on every heartbeat; that alone is not a status change.
    for count in (2, 3):
        agent.heartbeat({"pipelines": [status(pipeline.id, "STARTING", eventsIn=count)]})
    assert len(events()) == 1

    agent.heartbeat({"pipelines": [status(pipeline.id, "RUNNING", eventsIn=4)]})
    agent.heartbeat({"pipelines": []})
    changes = [(e.payload["from"], e.payload["to"]) for e in events("node.pipeline_status_changed")]
    assert changes == [(None, "STARTING"), ("STARTING", "RUNNING"), ("RUNNING", None)]
    assert events("node.status_changed") == []


def test_the_host_card_shows_the_metrics_of_the_latest_heartbeat(agent, host_card):
    metrics = {"memoryTotalBytes": 16 * 2**30, "memoryUsedBytes": 8 * 2**30, "loadAvg1": 0.7}
    agent.heartbeat({"pipelines": [], "hostMetrics": metrics})
    assert "8.0 GiB of 16.0 GiB" in host_card(agent.node.id)
    agent.heartbeat({"pipelines": [], "hostMetrics": {**metrics, "memoryUsedBytes": 12 * 2**30,
                                                      "loadAvg1": 1.5, "futureMetric": 1}})
    card = host_card(agent.node.id)
    assert "75.0%" in card and "12.0 GiB of 16.0 GiB" in card and "load 1.5 / — / —" in card


@pytest.mark.parametrize("body, path", [
    ({}, "pipelines"),
    ({"pipelines": {}}, "pipelines"),
    ({"pipelines": [{"version": 1, "status": "RUNNING"}]}, "pipelines[0].pipelineId"),
    ({"pipelines": [{"pipelineId": "p", "status": "RUNNING"}]}, "pipelines[0].version"),
    ({"pipelines": [{"pipelineId": "p", "version": "7", "status": "RUNNING"}]},
     "pipelines[0].version"),
    ({"pipelines": [{"pipelineId": "p", "version": 1, "status": "FLYING"}]}, "pipelines[0].status"),
    ({"pipelines": [{"pipelineId": "p", "version": 1, "status": "RUNNING", "eventsIn": -1}]},
     "pipelines[0].eventsIn"),
    ({"pipelines": [{"pipelineId": "p", "version": 1, "status": "RUNNING", "eventsIn": True}]},
     "pipelines[0].eventsIn"),
    ({"pipelines": [{"pipelineId": "p", "version": 1, "status": "RUNNING", "recentLogs": [1]}]},
     "pipelines[0].recentLogs[0]"),
    ({"pipelines": [], "hostMetrics": {"loadAvg1": "high"}}, "hostMetrics.loadAvg1"),
    ({"pipelines": [], "deploymentMode": "KUBERNETES"}, "deploymentMode"),
    ({"pipelines": [], "agentVersion": 2}, "agentVersion"),
    ({"pipelines": [], "updateError": "x" * 501}, "updateError"),
    ({"pipelines": [], "labels": {"a": 1}}, "labels.a"),
    ({"pipelines": [], "agentHealth": []}, "agentHealth"),
])
def test_a_malformed_heartbeat_is_a_400_with_details(agent, body, path):
    response = agent.heartbeat(body)
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["error"] == "Invalid input" and path in payload["details"]


def test_a_rejected_heartbeat_changes_nothing(agent, world, host_card):
    pipeline = factories.make_pipeline(world.env, "a")
    old = utcnow() - timedelta(minutes=10)
    agent.node.last_heartbeat = agent.node.last_seen = old
    agent.node.status = NodeStatus.UNREACHABLE
    agent.node.pending_action = UPDATE
    db.session.commit()
    response = agent.heartbeat({
        "agentVersion": "2.0.1", "labels": {"x": "y"}, "hostMetrics": {"loadAvg1": 1},
        "pipelines": [status(pipeline.id, "CRASHED"), status(pipeline.id, "BROKEN")],
    })
    assert response.status_code == 400
    node = fresh(agent.node)
    assert node.last_heartbeat == old and node.status == NodeStatus.UNREACHABLE
    assert node.agent_version is None and node.labels == {} and node.pending_action == UPDATE
    assert statuses(node) == {} and events() == []
    assert "No host metrics reported yet." in host_card(node.id)


def test_unknown_keys_from_newer_agents_are_ignored(agent, world):
    pipeline = factories.make_pipeline(world.env, "a")
    db.session.commit()
    response = agent.heartbeat({
        "pipelines": [status(pipeline.id, spansIn=5, futureField={"x": 1})],
        "hostMetrics": {"loadAvg1": 0.1, "gpuTemperature": 71},
        "somethingNew": [1, 2, 3],
    })
    assert response.status_code == 200
    assert set(statuses(agent.node)) == {pipeline.id}


@pytest.mark.parametrize("reported", ["2.0.1", "2.0.2", "2.1", "10.0.0", "v2.0.1", "dev"])
def test_a_self_update_is_cleared_once_the_agent_reaches_the_target(agent, reported):
    agent.node.pending_action = UPDATE
    agent.node.last_update_error = "earlier failure"
    db.session.commit()
    agent.heartbeat({"pipelines": [], "agentVersion": reported})
    node = fresh(agent.node)
    assert node.pending_action is None and node.last_update_error is None
    assert [e.payload for e in events("node.updated")] == [{"pendingAction": None,
                                                            "agentVersion": reported}]


@pytest.mark.parametrize("reported", ["2.0.0", "1.9.9", "2", "0.10.0"])
def test_a_self_update_stays_pending_while_the_agent_is_older(agent, reported):
    agent.node.pending_action = UPDATE
    db.session.commit()
    agent.heartbeat({"pipelines": [], "agentVersion": reported})
    assert fresh(agent.node).pending_action == UPDATE
    assert events("node.updated") == []


def test_an_update_error_clears_the_action_and_is_kept_for_admins(agent):
    agent.node.pending_action = UPDATE
    db.session.commit()
    agent.heartbeat({"pipelines": [], "agentVersion": "2.0.0",
                     "updateError": "checksum mismatch"})
    node = fresh(agent.node)
    assert node.pending_action is None and node.last_update_error == "checksum mismatch"
    # Later heartbeats without an error keep it visible; only a completed update clears it.
    agent.heartbeat({"pipelines": [], "agentVersion": "2.0.0"})
    assert fresh(agent.node).last_update_error == "checksum mismatch"


def test_versions_compare_numerically_part_by_part():
    assert is_version_older("0.9.0", "0.10.0")
    assert is_version_older("2.0", "2.0.1")
    assert not is_version_older("2.0.0", "2.0")
    assert not is_version_older("dev", "9.9.9")
    assert not is_version_older("2.1.0-rc1", "2.0.9")


def test_a_heartbeat_runs_the_same_queries_whatever_the_fleet_size(make_agent, world):
    pipelines = [factories.make_pipeline(world.env, f"p{i}") for i in range(3)]
    agent = make_agent("first")
    body = {"pipelines": [status(p.id) for p in pipelines], "hostMetrics": {"loadAvg1": 1}}
    agent.heartbeat(body)
    with count_queries() as small:
        agent.heartbeat(body)
    for i in range(40):
        factories.make_node(world.env, f"other-{i}")
    db.session.commit()
    with count_queries() as large:
        agent.heartbeat(body)
    assert len(large) == len(small)


def test_a_steady_heartbeat_writes_the_node_its_statuses_and_its_samples_once_each(agent, world,
                                                                                  host_card):
    pipelines = [factories.make_pipeline(world.env, f"p{i}") for i in range(3)]
    db.session.commit()
    body = {"pipelines": [status(p.id, eventsIn=1) for p in pipelines],
            "hostMetrics": {"loadAvg1": 1}}
    agent.heartbeat(body)
    body = {"pipelines": [status(p.id, eventsIn=2) for p in pipelines],
            "hostMetrics": {"loadAvg1": 2}}
    with count_queries() as queries:
        agent.heartbeat(body)
    tables = sorted(s.split()[1].strip('"') for s in queries.writes)
    assert tables == ["node_pipeline_statuses", "node_samples", "pipeline_samples", "vector_nodes"]
    assert {row.events_in for row in statuses(agent.node).values()} == {2}
    assert "load 2.0 / — / —" in host_card(agent.node.id)  # the host metrics, in node_samples


def test_rows_the_session_has_loaded_show_what_a_heartbeat_wrote(agent, world):
    from vectorflow.schemas.agent import AgentHeartbeat
    from vectorflow.schemas.base import parse_body
    from vectorflow.services.agent import record_heartbeat

    pipeline = factories.make_pipeline(world.env, "a")
    db.session.commit()
    agent.heartbeat({"pipelines": [status(pipeline.id, eventsIn=1)], "hostMetrics": {"loadAvg1": 1}})
    node = fresh(agent.node)
    row = statuses(node)[pipeline.id]
    assert row.events_in == 1
    record_heartbeat(node, parse_body(AgentHeartbeat, {"pipelines": [status(pipeline.id, eventsIn=5)],
                                                       "hostMetrics": {"loadAvg1": 5}}))
    assert statuses(node)[pipeline.id] is row
    assert row.events_in == 5


def test_a_heartbeat_with_nothing_running_completes_a_maintenance_drain(agent, world):
    from vectorflow.models import DrainState

    pipeline = factories.make_pipeline(world.env, "a")
    agent.node.maintenance_mode, agent.node.drain_state = True, DrainState.DRAINING
    db.session.commit()
    agent.heartbeat({"pipelines": [status(pipeline.id, "RUNNING")]})
    assert fresh(agent.node).drain_state == DrainState.DRAINING
    agent.heartbeat({"pipelines": [status(pipeline.id, "STOPPED")]})
    assert fresh(agent.node).drain_state == DrainState.DRAINED


def test_a_group_commit_holding_two_heartbeats_of_one_node_applies_them_in_order(
        make_agent, world):
    from vectorflow.schemas.agent import AgentHeartbeat
    from vectorflow.schemas.base import parse_body
    from vectorflow.services.agent import record_heartbeats_by_token

    pipeline = factories.make_pipeline(world.env, "a")
    one, other = make_agent("node-1"), make_agent("node-2")
    db.session.commit()

    def beat(state):
        return parse_body(AgentHeartbeat, {"pipelines": [status(pipeline.id, state)]})

    matched = record_heartbeats_by_token([
        (one.token, beat("RUNNING")), (other.token, beat("RUNNING")),
        (one.token, beat("CRASHED")), ("vf_node_unknown", beat("RUNNING"))])
    db.session.commit()
    assert matched == {one.token, other.token}
    assert statuses(one.node)[pipeline.id].status == ProcessStatus.CRASHED
    assert statuses(other.node)[pipeline.id].status == ProcessStatus.RUNNING
    moves = [(e.payload["from"], e.payload["to"]) for e in events("node.pipeline_status_changed")
             if e.node_id == one.node.id]
    assert moves == [(None, "RUNNING"), ("RUNNING", "CRASHED")]
    assert fresh(one.node).status == NodeStatus.DEGRADED
    assert fresh(other.node).status == NodeStatus.HEALTHY


@pytest.fixture
def sqlite_lock(db):
    """The path of the SQLite database's write lock (PostgreSQL has none: row locks)."""
    path = transactions.write_lock_path(db.engine)
    if path is None:
        pytest.skip("PostgreSQL heartbeats wait on row locks, not on a lock file")
    return path


def heartbeat_in_thread(agent):
    """Send a heartbeat from another thread; return its event (set once answered) and the
    list its response lands in."""
    answered, responses = threading.Event(), []

    def send():
        responses.append(agent.heartbeat({"pipelines": []}))
        answered.set()

    threading.Thread(target=send, daemon=True).start()
    return answered, responses


def test_a_heartbeat_waits_while_another_process_writes_then_is_recorded(agent, sqlite_lock):
    old = utcnow() - timedelta(minutes=5)
    agent.node.last_heartbeat = old
    db.session.commit()
    with LockHolder(sqlite_lock) as other:
        answered, responses = heartbeat_in_thread(agent)
        assert not answered.wait(0.3)  # its batch waits for the other process's writer
        other.release()
        assert answered.wait(10)
    assert responses[0].status_code == 200
    assert fresh(agent.node).last_heartbeat > old


def test_a_heartbeat_kept_waiting_too_long_is_told_to_retry_and_changes_nothing(
        agent, sqlite_lock, monkeypatch):
    monkeypatch.setattr(transactions, "WRITE_LOCK_WAIT", 0.05)
    old = utcnow() - timedelta(minutes=5)
    agent.node.last_heartbeat = old
    db.session.commit()
    with LockHolder(sqlite_lock):
        response = agent.heartbeat({"pipelines": []})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert fresh(agent.node).last_heartbeat == old
