"""REST: POST /api/v1/nodes/<id>/maintenance and the bulk POST /api/v1/nodes/maintenance."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.factories import make_node, make_pipeline
from tests.maintenance.conftest import report
from vectorflow.extensions import db
from vectorflow.models import AuditLog


def post(api, url, body, who="ADMIN"):
    """POST JSON as a personal token of ``who`` (None: no token); checked against the OpenAPI document."""
    return api.post(url, who, json=body)


def audit_count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                             .where(AuditLog.action.like("node.maintenance%")))


@pytest.mark.parametrize("who, status", [
    (None, 401), ("VIEWER", 403), ("EDITOR", 403), ("outsider", 404),
    ("ADMIN", 200), ("superadmin", 200),
])
def test_only_admins_of_the_nodes_team_may_toggle_it(api, node, who, status):
    response = post(api, f"/api/v1/nodes/{node.id}/maintenance", {"enabled": True}, who)
    assert response.status_code == status
    db.session.refresh(node)
    assert node.maintenance_mode is (status == 200)


@pytest.mark.parametrize("who, status", [
    (None, 401), ("VIEWER", 403), ("EDITOR", 403), ("outsider", 404),
    ("ADMIN", 200), ("superadmin", 200),
])
def test_only_admins_of_the_nodes_team_may_toggle_in_bulk(api, world, node, who, status):
    for body in ({"nodeIds": [node.id], "enabled": True},
                 {"selector": {"environmentId": world.env.id}, "enabled": True}):
        response = post(api, "/api/v1/nodes/maintenance", body, who)
        assert response.status_code == status
    db.session.refresh(node)
    assert node.maintenance_mode is (status == 200)


def test_entering_returns_the_node_with_its_maintenance_fields(api, world, node):
    response = post(api, f"/api/v1/nodes/{node.id}/maintenance",
                    {"enabled": True, "reason": "kernel 6.9", "until": "2099-01-01T00:00:00Z"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == node.id and body["maintenanceMode"] is True
    assert body["maintenanceReason"] == "kernel 6.9"
    assert body["maintenanceUntil"] == "2099-01-01T00:00:00Z"
    assert body["maintenanceModeAt"] and body["drainState"] == "DRAINING"
    assert body["maintenanceBy"] == "admin-laptop"
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "node.maintenance_entered"))
    assert row.actor_type == "token" and row.actor_label == "admin-laptop"

    response = post(api, f"/api/v1/nodes/{node.id}/maintenance", {"enabled": False})
    assert response.get_json()["maintenanceMode"] is False
    assert response.get_json()["maintenanceModeAt"] is None


@pytest.mark.parametrize("body, field", [
    ({}, "enabled"),
    ({"enabled": "yes"}, "enabled"),
    ({"enabled": True, "reason": "x" * 501}, "reason"),
    ({"enabled": True, "reason": 5}, "reason"),
    ({"enabled": True, "until": "next tuesday"}, "until"),
    ({"enabled": True, "until": "2001-01-01T00:00:00Z"}, "until"),
    ({"enabled": True, "until": "2099-01-01T00:00:00"}, "until"),
    ({"enabled": True, "force": "true"}, "force"),
])
def test_bad_input_is_a_400_with_the_field_and_changes_nothing(api, node, body, field):
    response = post(api, f"/api/v1/nodes/{node.id}/maintenance", body)
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert response.get_json()["error"]
    db.session.refresh(node)
    assert node.maintenance_mode is False and audit_count() == 0


def test_a_form_encoded_body_is_refused(api, node):
    response = api.post(f"/api/v1/nodes/{node.id}/maintenance", "ADMIN", data="enabled=1",
                        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_coverage_warning_answers_409_naming_the_pipelines_unless_forced(api, world, node):
    pipeline = make_pipeline(world.env, "audit-logs")
    report(node, pipeline)
    db.session.commit()
    response = post(api, f"/api/v1/nodes/{node.id}/maintenance", {"enabled": True})
    assert response.status_code == 409
    assert response.get_json()["details"]["pipelines"] == ["audit-logs"]
    assert "audit-logs" in response.get_json()["error"]
    db.session.refresh(node)
    assert node.maintenance_mode is False and audit_count() == 0

    response = post(api, f"/api/v1/nodes/{node.id}/maintenance",
                    {"enabled": True, "force": True})
    assert response.status_code == 200 and response.get_json()["maintenanceMode"] is True


def test_the_second_identical_call_is_a_no_op(api, world, node):
    for _ in range(2):
        assert post(api, f"/api/v1/nodes/{node.id}/maintenance", {"enabled": True}).status_code == 200
    assert audit_count() == 1


def test_session_callers_need_the_csrf_token(client, node, login_as):
    login_as("ADMIN")
    response = client.post(f"/api/v1/nodes/{node.id}/maintenance", json={"enabled": True})
    assert response.status_code == 400
    token = client.csrf_token()
    response = client.post(f"/api/v1/nodes/{node.id}/maintenance", json={"enabled": True},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 200


# ------------------------------------------------------------------ bulk

def test_bulk_dry_run_lists_what_would_change_and_changes_nothing(api, world, node):
    other, _ = make_node(world.env, "edge-2", maintenance_mode=True)
    pipeline = make_pipeline(world.env, "logs")
    report(node, pipeline)
    db.session.commit()
    response = post(api, "/api/v1/nodes/maintenance",
                    {"nodeIds": [node.id, other.id], "enabled": True, "dryRun": True})
    assert response.status_code == 200
    body = response.get_json()
    assert body["dryRun"] is True
    assert [n["id"] for n in body["nodes"]] == [node.id]
    assert body["unchangedNodeIds"] == [other.id]
    assert [w["pipelineName"] for w in body["coverageWarnings"]] == ["logs"]
    db.session.refresh(node)
    assert node.maintenance_mode is False and audit_count() == 0


def test_bulk_by_label_selector_changes_only_matching_nodes(api, world):
    eu, _ = make_node(world.env, "eu-1", labels={"region": "eu", "tier": "edge"})
    eu2, _ = make_node(world.env, "eu-2", labels={"region": "eu"})
    us, _ = make_node(world.env, "us-1", labels={"region": "us"})
    db.session.commit()
    response = post(api, "/api/v1/nodes/maintenance",
                    {"selector": {"environmentId": world.env.id, "labels": {"region": "eu"}},
                     "enabled": True, "reason": "eu patch night"})
    assert response.status_code == 200
    assert sorted(n["name"] for n in response.get_json()["nodes"]) == ["eu-1", "eu-2"]
    for n in (eu, eu2, us):
        db.session.refresh(n)
    assert eu.maintenance_mode and eu2.maintenance_mode and not us.maintenance_mode
    assert eu.maintenance_reason == "eu patch night"
    assert audit_count() == 2


def test_bulk_refuses_with_409_when_the_set_would_leave_a_pipeline_uncovered(api, world, node):
    other, _ = make_node(world.env, "edge-2")
    pipeline = make_pipeline(world.env, "logs")
    report(node, pipeline)
    report(other, pipeline)
    db.session.commit()
    body = {"nodeIds": [node.id, other.id], "enabled": True}
    response = post(api, "/api/v1/nodes/maintenance", body)
    assert response.status_code == 409 and response.get_json()["details"]["pipelines"] == ["logs"]
    assert audit_count() == 0
    response = post(api, "/api/v1/nodes/maintenance", body | {"force": True})
    assert response.status_code == 200 and len(response.get_json()["nodes"]) == 2


def test_bulk_with_a_node_of_another_team_is_404_and_changes_nothing(api, world, node):
    theirs, _ = make_node(world.other_env, "theirs")
    db.session.commit()
    response = post(api, "/api/v1/nodes/maintenance",
                    {"nodeIds": [node.id, theirs.id], "enabled": True})
    assert response.status_code == 404
    db.session.refresh(node)
    assert node.maintenance_mode is False


@pytest.mark.parametrize("body", [
    {"enabled": True},
    {"enabled": True, "nodeIds": [], },
    {"enabled": True, "nodeIds": "abc"},
    {"enabled": True, "selector": {}},
    {"enabled": True, "selector": {"environmentId": "x", "labels": ["a"]}},
    {"enabled": True, "nodeIds": ["a"], "selector": {"environmentId": "x"}},
    {"enabled": True, "nodeIds": ["a"], "dryRun": "yes"},
])
def test_malformed_bulk_bodies_are_400(api, body):
    response = post(api, "/api/v1/nodes/maintenance", body)
    assert response.status_code == 400 and response.get_json()["details"]
