"""Pruning from several callers at once while one stale node's agent comes back.

Four prune requests for the same environment race each other and the returning agent's
polls and heartbeats: every stale node goes exactly once (one node.pruned audit row each,
whoever deleted it), the agent's calls answer 200 until its node is gone and 401 after, and
nobody gets a 5xx.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import VectorNode, utcnow

from .races import Meanwhile, audit_count, fire, statuses

pytestmark = pytest.mark.slow


def test_simultaneous_prunes_delete_each_stale_node_once(world, admin, enroll_agents):
    agents = enroll_agents(world.env, 6, prefix="stale")
    fresh = enroll_agents(world.env, 2, prefix="fresh")
    stale_ids = [a.node_id for a in agents]
    long_ago = utcnow() - timedelta(days=30)
    db.session.execute(sa.update(VectorNode).where(VectorNode.id.in_(stale_ids))
                       .values(last_seen=long_ago, last_heartbeat=long_ago))
    db.session.commit()
    returning = agents[0]
    body = {"olderThanDays": 7, "selector": {"environmentId": world.env.id}}
    with Meanwhile(returning.cycle) as talk:
        responses = fire([lambda: admin.post("/nodes/prune", body)] * 4)
    assert statuses(responses) == {200: 4}
    pruned = [n["id"] for r in responses for n in r.json()["nodes"]]
    assert len(pruned) == len(set(pruned)), "a node was reported pruned twice"
    assert set(statuses(talk.responses)) <= {200, 401}
    db.session.rollback()
    left = set(db.session.scalars(sa.select(VectorNode.id)))
    assert {a.node_id for a in fresh} <= left
    assert set(stale_ids[1:]).isdisjoint(left)
    for node_id in stale_ids:
        assert audit_count("node.pruned", entity_id=node_id) == (0 if node_id in left else 1)
    assert set(pruned) == set(stale_ids) - left
