"""Maintenance requests racing on one server with two workers change a node once per transition.

Proven here, against gunicorn on PostgreSQL with truly parallel requests: twenty identical
toggles of one node make exactly one change (one audit row, one event, one period) and
answer 200 each; mixed on/off bursts, bulk calls naming the same nodes in opposite orders,
and leaves racing the node's own heartbeats all end in a clean alternation of entered and
left, never a 5xx, a deadlock or a second open maintenance period.
"""
from __future__ import annotations

import pytest

from vectorflow.extensions import db

from .. import factories
from .scenarios import (
    bulk_bursts_in_reversed_orders,
    heartbeats_racing_leaves,
    toggle_bursts_on_one_node,
)

pytestmark = pytest.mark.slow


def test_twenty_identical_toggles_make_one_change_and_mixed_bursts_alternate(world, admin):
    node, _ = factories.make_node(world.env, "edge-1")
    db.session.commit()
    toggle_bursts_on_one_node(admin, node.id)


def test_bulk_calls_naming_the_nodes_in_opposite_orders_neither_deadlock_nor_repeat(world, admin):
    nodes = [factories.make_node(world.env, f"edge-{n}")[0] for n in range(1, 5)]
    db.session.commit()
    bulk_bursts_in_reversed_orders(admin, [node.id for node in nodes])


def test_leaving_while_the_agents_heartbeat_without_pause_writes_one_row_per_transition(
        world, admin, enroll_agents):
    factories.make_pipeline(world.env, "logs")
    db.session.commit()
    agent, *others = enroll_agents(world.env, 3)
    heartbeats_racing_leaves(admin, agent, others)
