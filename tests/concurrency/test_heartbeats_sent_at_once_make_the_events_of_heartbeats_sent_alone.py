"""Heartbeats sent at the same moment are group-committed (services.heartbeats) and still
make exactly the rows and events of heartbeats sent one at a time.

40 agents of a two-worker server send their first heartbeat at once (each creates its status
row: one status event per node), then all report the pipeline CRASHED at once (one status
event and one node status change per node), while a revoked token in the same bursts gets its
401 and changes nothing.
"""
from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import (
    Event,
    NodePipelineStatus,
    NodeStatus,
    NodeStatusEvent,
    VectorNode,
)

from .. import factories
from .races import fire, statuses

AGENTS = 40


def test_a_burst_of_heartbeats_makes_one_status_row_and_one_event_per_node_and_change(
        world, agent_http):
    pipeline = factories.make_pipeline(world.env, "burst-logs")
    nodes = [factories.make_node(world.env, f"burst-{n:02d}") for n in range(AGENTS)]
    db.session.commit()
    ids = [node.id for node, _ in nodes]

    def burst(state: str):
        report = {"pipelines": [{"pipelineId": pipeline.id, "version": 1, "status": state}]}
        calls = [lambda token=token: agent_http.post(
            "/api/agent/heartbeat", json=report, headers={"Authorization": f"Bearer {token}"})
            for _, token in nodes]
        calls.append(lambda: agent_http.post("/api/agent/heartbeat", json=report,
                                             headers={"Authorization": "Bearer vf_node_revoked"}))
        return statuses(fire(calls))

    assert burst("RUNNING") == Counter({200: AGENTS, 401: 1})
    assert burst("CRASHED") == Counter({200: AGENTS, 401: 1})

    db.session.rollback()
    rows = db.session.execute(sa.select(NodePipelineStatus.node_id, NodePipelineStatus.status)
                              .where(NodePipelineStatus.node_id.in_(ids))).all()
    assert sorted(node_id for node_id, _ in rows) == sorted(ids)
    assert {status.value for _, status in rows} == {"CRASHED"}
    changes = db.session.execute(
        sa.select(Event.node_id, Event.payload).where(
            Event.node_id.in_(ids), Event.type == "node.pipeline_status_changed")).all()
    assert Counter(node_id for node_id, _ in changes) == Counter({node_id: 2 for node_id in ids})
    assert Counter((p["from"], p["to"]) for _, p in changes) == Counter(
        {(None, "RUNNING"): AGENTS, ("RUNNING", "CRASHED"): AGENTS})
    degraded = db.session.scalars(sa.select(NodeStatusEvent.node_id).where(
        NodeStatusEvent.node_id.in_(ids), NodeStatusEvent.to_status == NodeStatus.DEGRADED))
    assert sorted(degraded) == sorted(ids)
    assert set(db.session.scalars(sa.select(VectorNode.status).where(
        VectorNode.id.in_(ids)))) == {NodeStatus.DEGRADED}
