"""Pruning nodes unseen for N days: REST (POST /api/v1/nodes/prune) and CLI (nodes prune)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from vectorflow.extensions import db
from vectorflow.models import AuditLog, VectorNode, utcnow


@pytest.fixture
def nodes(world):
    old = utcnow() - timedelta(days=40)
    made = {
        "gone-1": factories.make_node(world.env, "gone-1", last_seen=old, labels={"role": "edge"})[0],
        "gone-2": factories.make_node(world.env, "gone-2", last_seen=old, labels={"role": "db"})[0],
        "live-1": factories.make_node(world.env, "live-1", labels={"role": "edge"})[0],
        "theirs": factories.make_node(world.other_env, "theirs", last_seen=old)[0],
    }
    db.session.commit()
    return {name: node.id for name, node in made.items()}


def remaining() -> set[str]:
    return set(db.session.scalars(sa.select(VectorNode.name)))


def test_a_dry_run_lists_what_a_selector_would_prune_and_deletes_nothing(api, world, nodes):
    body = api.post("/api/v1/nodes/prune", "ADMIN", json={
        "olderThanDays": 30, "selector": {"environmentId": world.env.id}, "dryRun": True}).get_json()
    assert body["dryRun"] is True and body["olderThanDays"] == 30
    assert sorted(n["name"] for n in body["nodes"]) == ["gone-1", "gone-2"]
    assert remaining() == {"gone-1", "gone-2", "live-1", "theirs"}


def test_prune_by_labels_deletes_each_node_with_an_audit_row(api, world, nodes):
    body = api.post("/api/v1/nodes/prune", "service:ADMIN", json={
        "olderThanDays": 30, "selector": {"environmentId": world.env.id,
                                          "labels": {"role": "edge"}}}).get_json()
    assert [n["id"] for n in body["nodes"]] == [nodes["gone-1"]]
    assert remaining() == {"gone-2", "live-1", "theirs"}
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "node.pruned"))
    assert (row.entity_id, row.details, row.before["name"]) == (
        nodes["gone-1"], {"nodeName": "gone-1", "olderThanDays": 30}, "gone-1")


def test_prune_by_ids_keeps_a_node_seen_within_the_period(api, nodes):
    body = api.post("/api/v1/nodes/prune", "ADMIN", json={
        "olderThanDays": 30, "nodeIds": [nodes["gone-2"], nodes["live-1"]]}).get_json()
    assert [n["id"] for n in body["nodes"]] == [nodes["gone-2"]]
    assert body["keptNodeIds"] == [nodes["live-1"]]
    assert "live-1" in remaining() and "gone-2" not in remaining()


@pytest.mark.parametrize("kind, status", [("VIEWER", 403), ("EDITOR", 403), ("outsider", 404),
                                          ("service:EDITOR", 403)])
def test_prune_needs_an_admin_of_the_nodes_team(api, nodes, kind, status):
    response = api.post("/api/v1/nodes/prune", kind, json={
        "olderThanDays": 30, "nodeIds": [nodes["gone-1"]]})
    assert response.status_code == status
    assert "gone-1" in remaining()


def test_another_teams_node_answers_404(api, nodes):
    response = api.post("/api/v1/nodes/prune", "ADMIN", json={
        "olderThanDays": 1, "nodeIds": [nodes["theirs"]]})
    assert response.status_code == 404 and "theirs" in remaining()


@pytest.mark.parametrize("body, field", [
    ({"olderThanDays": 0, "nodeIds": ["x"]}, "olderThanDays"),
    ({"olderThanDays": 3651, "nodeIds": ["x"]}, "olderThanDays"),
    ({"olderThanDays": "7", "nodeIds": ["x"]}, "olderThanDays"),
    ({"olderThanDays": 10 ** 400, "nodeIds": ["x"]}, "olderThanDays"),
    ({"nodeIds": ["x"]}, "olderThanDays"),
    ({"olderThanDays": 7}, "selector"),
    ({"olderThanDays": 7, "nodeIds": ["x"], "selector": {"environmentId": "y"}}, "selector"),
])
def test_bad_input_is_a_400_naming_the_field(api, nodes, body, field):
    response = api.post("/api/v1/nodes/prune", "ADMIN", json=body)
    assert response.status_code == 400
    assert field in response.get_data(as_text=True)
    assert len(remaining()) == 4


def test_the_cli_prunes_with_a_dry_run_first(runner, nodes):
    dry = runner.invoke(args=["nodes", "prune", "--days", "30", "--label", "role=edge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete gone-1" in dry.output and "1 node would delete" in dry.output
    assert "gone-1" in remaining()
    done = runner.invoke(args=["nodes", "prune", "--days", "30", "--env", "production"])
    assert done.exit_code == 0, done.output
    assert remaining() == {"live-1", "theirs"}
    rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "node.pruned")).all()
    assert len(rows) == 2 and {r.actor_type for r in rows} == {"cli"}
    bad = runner.invoke(args=["nodes", "prune", "--days", "0"])
    assert bad.exit_code == 2 and "--days" in bad.output
