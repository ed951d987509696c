"""The audit log over the API: team ADMINs see their teams' rows."""
from __future__ import annotations

from datetime import timedelta

from vectorflow.extensions import db
from vectorflow.models import utcnow
from vectorflow.services.actors import Actor
from vectorflow.services.audit import record


def actions(response) -> list[str]:
    """The actions listed, leaving out the fixture's token.created rows."""
    return [row["action"] for row in response.get_json()["items"]
            if not row["action"].startswith("token.")]


def seed(world):
    node_id = "node0000000000000001"
    record("environment.created", entity_type="environment", entity_id=world.env.id,
           team_id=world.team.id, actor=Actor.cli())
    record("node.maintenance_changed", entity_type="node", entity_id=node_id,
           team_id=world.team.id, environment_id=world.env.id,
           before={"maintenanceMode": False}, after={"maintenanceMode": True},
           actor=Actor("token", "t1", "ci-admin"))
    record("environment.created", entity_type="environment", entity_id=world.other_env.id,
           team_id=world.other_team.id, actor=Actor.cli())
    db.session.commit()
    return node_id


def test_an_admin_sees_their_teams_rows_newest_first(api, world):
    seed(world)
    assert actions(api.get("/api/v1/audit", "ADMIN")) == [
        "node.maintenance_changed", "environment.created"]
    assert actions(api.get("/api/v1/audit", "service:ADMIN")) == [
        "node.maintenance_changed", "environment.created"]
    assert len(actions(api.get("/api/v1/audit", "superadmin"))) == 3
    assert "token.created" in [r["action"] for r in api.get("/api/v1/audit", "ADMIN").get_json()["items"]]


def test_viewers_and_editors_cannot_read_the_audit_log(api, world):
    seed(world)
    for who in ("VIEWER", "EDITOR", "service:EDITOR"):
        assert api.get("/api/v1/audit", who).status_code == 403
    assert api.get(f"/api/v1/audit?teamId={world.other_team.id}", "ADMIN").status_code == 404


def test_the_audit_log_filters_by_action_node_and_time(api, world):
    node_id = seed(world)
    by_action = api.get("/api/v1/audit?action=environment.created", "ADMIN")
    assert actions(by_action) == ["environment.created"]
    [row] = api.get(f"/api/v1/audit?nodeId={node_id}", "ADMIN").get_json()["items"]
    assert row["actor"] == {"type": "token", "id": "t1", "label": "ci-admin"}
    assert row["after"] == {"maintenanceMode": True}
    future = (utcnow() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert actions(api.get(f"/api/v1/audit?since={future}", "ADMIN")) == []
    past = (utcnow() - timedelta(hours=1)).isoformat()
    assert len(actions(api.get("/api/v1/audit", "ADMIN", query_string={"since": past}))) == 2


def test_a_bad_since_is_a_400(api):
    response = api.get("/api/v1/audit?since=yesterday", "ADMIN")
    assert response.status_code == 400
    assert "ISO 8601" in response.get_json()["details"]["since"]
    naive = api.get("/api/v1/audit?since=2026-01-01T00:00:00", "ADMIN")
    assert "time zone" in naive.get_json()["details"]["since"]


def test_audit_pages_walk_back_in_time(api, world):
    for i in range(5):
        record(f"test.step{i}", entity_type="x", entity_id=None, team_id=world.team.id,
               actor=Actor.cli())
    db.session.commit()
    first = api.get("/api/v1/audit?limit=3", "ADMIN").get_json()
    second = api.get(f"/api/v1/audit?limit=3&cursor={first['nextCursor']}", "ADMIN").get_json()
    assert [r["action"] for r in first["items"] + second["items"]][:5] == [
        "test.step4", "test.step3", "test.step2", "test.step1", "test.step0"]
    assert len(second["items"]) == 3 and second["nextCursor"] is not None
