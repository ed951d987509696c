"""Node health: silent nodes turn UNREACHABLE without any other agent talking; heartbeats heal."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import (
    Event,
    NodeStatus,
    NodeStatusEvent,
    SystemSettings,
    VectorNode,
    utcnow,
)
from vectorflow.services.health import (
    effective_status,
    sweep_unreachable,
    unreachable_cutoff,
)
from vectorflow.sweeper import run_sweeps

from .conftest import count_queries


def ago(seconds: float):
    return utcnow() - timedelta(seconds=seconds)


def reload(node) -> VectorNode:
    db.session.expire_all()
    return db.session.get(VectorNode, node.id)


def history(node) -> list[tuple[NodeStatus, NodeStatus]]:
    rows = db.session.scalars(sa.select(NodeStatusEvent).where(NodeStatusEvent.node_id == node.id)
                              .order_by(NodeStatusEvent.id))
    return [(row.from_status, row.to_status) for row in rows]


def test_a_silent_node_becomes_unreachable_with_no_other_agent_talking(make_agent, world):
    silent = make_agent("silent", last_heartbeat=ago(46))  # default: 3 x 15 s
    degraded = make_agent("degraded", last_heartbeat=ago(300), status=NodeStatus.DEGRADED)
    fresh = make_agent("fresh", last_heartbeat=ago(44))

    run_sweeps()  # what the server's background loop does every few seconds

    assert reload(silent.node).status == NodeStatus.UNREACHABLE
    assert reload(degraded.node).status == NodeStatus.UNREACHABLE
    assert reload(fresh.node).status == NodeStatus.HEALTHY
    assert history(silent.node) == [(NodeStatus.HEALTHY, NodeStatus.UNREACHABLE)]
    assert history(degraded.node) == [(NodeStatus.DEGRADED, NodeStatus.UNREACHABLE)]
    changed = db.session.scalars(sa.select(Event).where(Event.type == "node.status_changed")).all()
    assert {(e.node_id, e.payload["from"], e.payload["to"], e.team_id) for e in changed} == {
        (silent.node.id, "HEALTHY", "UNREACHABLE", world.team.id),
        (degraded.node.id, "DEGRADED", "UNREACHABLE", world.team.id),
    }


def test_a_second_sweep_changes_and_emits_nothing_more(make_agent):
    make_agent("silent", last_heartbeat=ago(600))
    assert len(sweep_unreachable()) == 1
    db.session.commit()
    assert sweep_unreachable() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 1


def test_the_threshold_is_poll_interval_times_the_unreachable_threshold(make_agent):
    db.session.add(SystemSettings(id=1, fleet_poll_interval_ms=5000, unreachable_threshold=2))
    late = make_agent("late", last_heartbeat=ago(11))
    on_time = make_agent("on-time", last_heartbeat=ago(9))
    run_sweeps()
    assert reload(late.node).status == NodeStatus.UNREACHABLE
    assert reload(on_time.node).status == NodeStatus.HEALTHY


def test_a_heartbeat_brings_an_unreachable_node_back_and_the_history_shows_both(make_agent):
    agent = make_agent("flaky", last_heartbeat=ago(120))
    run_sweeps()
    assert agent.heartbeat({"pipelines": []}).status_code == 200
    node = reload(agent.node)
    assert node.status == NodeStatus.HEALTHY
    assert history(node) == [(NodeStatus.HEALTHY, NodeStatus.UNREACHABLE),
                             (NodeStatus.UNREACHABLE, NodeStatus.HEALTHY)]


def test_unknown_and_already_unreachable_nodes_are_left_alone(make_agent):
    unknown = make_agent("never-heard", status=NodeStatus.UNKNOWN, last_heartbeat=None)
    gone = make_agent("gone", status=NodeStatus.UNREACHABLE, last_heartbeat=ago(9999))
    run_sweeps()
    assert reload(unknown.node).status == NodeStatus.UNKNOWN
    assert history(unknown.node) == [] and history(gone.node) == []


def test_pages_see_the_same_rule_before_any_sweep(make_agent):
    silent = make_agent("silent", last_heartbeat=ago(46))
    fresh = make_agent("fresh", last_heartbeat=ago(1), status=NodeStatus.DEGRADED)
    assert silent.node.status == NodeStatus.HEALTHY  # stored status: no sweep yet
    assert effective_status(silent.node) == NodeStatus.UNREACHABLE
    assert effective_status(fresh.node) == NodeStatus.DEGRADED
    later = utcnow() + timedelta(minutes=5)
    assert effective_status(fresh.node, unreachable_cutoff(later)) == NodeStatus.UNREACHABLE


def test_the_sweep_costs_the_same_whatever_the_number_of_healthy_nodes(make_agent, world):
    from .. import factories

    make_agent("silent", last_heartbeat=ago(600))
    with count_queries() as small:
        sweep_unreachable()
    db.session.rollback()
    for i in range(40):
        factories.make_node(world.env, f"healthy-{i}")
    db.session.commit()
    with count_queries() as large:
        sweep_unreachable()
    assert len(large) == len(small)


@pytest.mark.parametrize("when", [0, 1, 2])
def test_only_the_overdue_nodes_of_every_environment_move(make_agent, world, when):
    agents = [make_agent(f"n{i}", env=env, last_heartbeat=ago(10 if i == when else 100))
              for i, env in enumerate([world.env, world.other_env, world.env])]
    moved = set(sweep_unreachable())
    assert moved == {a.node.id for i, a in enumerate(agents) if i != when}
