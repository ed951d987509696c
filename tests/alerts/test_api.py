"""REST: /api/v1/alerts, /alert-rules and /notification-channels (checked against OpenAPI)."""
from __future__ import annotations

import pytest

from vectorflow.extensions import db
from vectorflow.models import AuditLog

from .conftest import SECRET


def test_alerts_list_the_callers_teams_with_filters(api, world, fired):
    items = api.get("/api/v1/alerts", "VIEWER").get_json()["items"]
    assert sorted((a["subject"], a["state"], a["suppressed"]) for a in items) == [
        ("edge-loud", "firing", False), ("edge-quiet", "firing", True)]
    only = api.get(f"/api/v1/alerts?nodeId={fired['loud']}", "VIEWER").get_json()["items"]
    assert [a["nodeId"] for a in only] == [fired["loud"]]
    quiet = api.get("/api/v1/alerts?state=firing&suppressed=true", "VIEWER").get_json()["items"]
    assert [a["subject"] for a in quiet] == ["edge-quiet"]
    assert api.get("/api/v1/alerts?state=resolved", "VIEWER").get_json()["items"] == []
    env = api.get(f"/api/v1/alerts?environmentId={world.env.id}&limit=1", "VIEWER").get_json()
    assert len(env["items"]) == 1 and env["nextCursor"]
    everything = api.get("/api/v1/alerts", "superadmin").get_json()["items"]
    assert len(everything) == 3


@pytest.mark.parametrize("query,status", [
    ("state=burning", 400), ("suppressed=maybe", 400), ("colour=red", 400),
])
def test_bad_alert_filters_answer_400(api, world, query, status):
    response = api.get(f"/api/v1/alerts?{query}", "VIEWER")
    assert response.status_code == status


def test_another_teams_node_or_environment_filter_answers_404(api, world, fired):
    assert api.get(f"/api/v1/alerts?nodeId={fired['theirs']}", "VIEWER").status_code == 404
    assert api.get(f"/api/v1/alerts?environmentId={world.other_env.id}",
                   "VIEWER").status_code == 404


def test_an_editor_acknowledges_an_alert_once_and_it_is_audited(api, world, fired):
    [alert] = [a for a in api.get("/api/v1/alerts", "VIEWER").get_json()["items"]
               if a["subject"] == "edge-loud"]
    assert api.post(f"/api/v1/alerts/{alert['id']}/ack", "VIEWER").status_code == 403
    acked = api.post(f"/api/v1/alerts/{alert['id']}/ack", "EDITOR")
    assert acked.status_code == 200
    assert acked.get_json()["acknowledgedBy"] == "editor-laptop"
    again = api.post(f"/api/v1/alerts/{alert['id']}/ack", "ADMIN").get_json()
    assert again["acknowledgedBy"] == "editor-laptop"
    rows = db.session.scalars(db.select(AuditLog).where(AuditLog.action == "alert.acknowledged"))
    assert [r.actor_label for r in rows] == ["editor-laptop"]
    assert api.post(f"/api/v1/alerts/{alert['id']}/ack", "outsider").status_code == 404
    assert api.post("/api/v1/alerts/999999/ack", "EDITOR").status_code == 404
    assert api.post("/api/v1/alerts/nope/ack", "EDITOR").status_code == 404


def test_rules_list_every_builtin_rule_with_its_defaults(api, world):
    items = api.get(f"/api/v1/alert-rules?environmentId={world.env.id}", "VIEWER").get_json()["items"]
    assert [r["rule"] for r in items] == [
        "node_unreachable", "node_degraded", "pipeline_crashed", "pipeline_below_budget",
        "drain_overrun", "maintenance_overrun", "agent_update_failed"]
    assert all(r["enabled"] for r in items)
    assert {r["rule"]: r["suppressedInMaintenance"] for r in items}["maintenance_overrun"] is False


def test_an_admin_changes_a_rule_and_it_is_audited(api, world):
    body = {"environmentId": world.env.id, "rule": "node_unreachable", "thresholdMinutes": 12}
    assert api.call("PATCH", "/api/v1/alert-rules", "EDITOR", json=body).status_code == 403
    changed = api.call("PATCH", "/api/v1/alert-rules", "ADMIN", json=body).get_json()
    assert (changed["thresholdMinutes"], changed["enabled"]) == (12, True)
    off = api.call("PATCH", "/api/v1/alert-rules", "ADMIN",
                   json={"environmentId": world.env.id, "rule": "node_unreachable",
                         "enabled": False}).get_json()
    assert (off["thresholdMinutes"], off["enabled"]) == (12, False)
    listed = api.get(f"/api/v1/alert-rules?environmentId={world.env.id}", "VIEWER").get_json()
    assert listed["items"][0]["enabled"] is False
    [first, second] = db.session.scalars(
        db.select(AuditLog).where(AuditLog.action == "alert_rule.updated").order_by(AuditLog.id))
    assert first.after == {"enabled": True, "thresholdMinutes": 12}
    assert second.before == {"enabled": True, "thresholdMinutes": 12}


@pytest.mark.parametrize("body,field", [
    ({"rule": "node_unreachable"}, "environmentId"),
    ({"rule": "disk_full"}, "rule"),
    ({"rule": "node_unreachable", "thresholdMinutes": -1}, "thresholdMinutes"),
    ({"rule": "node_unreachable", "thresholdMinutes": 10**6}, "thresholdMinutes"),
    ({"rule": "node_unreachable", "enabled": "yes"}, "enabled"),
])
def test_bad_rule_changes_answer_400_naming_the_field(api, world, body, field):
    if field != "environmentId":
        body = {"environmentId": world.env.id, **body}
    response = api.call("PATCH", "/api/v1/alert-rules", "ADMIN", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["details"]


def test_another_teams_rules_are_not_found(api, world):
    assert api.get(f"/api/v1/alert-rules?environmentId={world.other_env.id}",
                   "ADMIN").status_code == 404
    assert api.call("PATCH", "/api/v1/alert-rules", "ADMIN", json={
        "environmentId": world.other_env.id, "rule": "node_unreachable",
        "enabled": False}).status_code == 404


def test_an_admin_adds_a_webhook_sends_a_test_and_reads_the_log(api, world, allow_private,
                                                                 receiver):
    created = api.post("/api/v1/notification-channels", "ADMIN", json={
        "teamId": world.team.id, "type": "webhook", "name": "on-call", "url": receiver.url,
        "secret": SECRET, "rules": ["node_unreachable"], "events": ["entered"]})
    assert created.status_code == 201
    channel = created.get_json()
    assert channel["hasSecret"] is True and "secret" not in channel
    assert (channel["rules"], channel["events"]) == (["node_unreachable"], ["entered"])
    listed = api.get("/api/v1/notification-channels", "ADMIN").get_json()["items"]
    assert [c["name"] for c in listed] == ["on-call"]

    tested = api.post(f"/api/v1/notification-channels/{channel['id']}/test", "ADMIN")
    assert tested.status_code == 200
    assert (tested.get_json()["status"], tested.get_json()["responseCode"]) == ("delivered", 200)
    [request] = receiver.requests
    assert request.json()["type"] == "test"
    assert request.headers["X-VectorFlow-Signature"].startswith("sha256=")
    log = api.get(f"/api/v1/notification-channels/{channel['id']}/deliveries", "ADMIN")
    assert [(d["kind"], d["status"], d["attempts"]) for d in log.get_json()["items"]] == [
        ("test", "delivered", 1)]


def test_a_failing_test_send_is_logged_as_failed(api, world, allow_private, receiver):
    receiver.answers = [500]
    channel = api.post("/api/v1/notification-channels", "ADMIN", json={
        "teamId": world.team.id, "type": "slack", "name": "chat", "url": receiver.url}).get_json()
    tested = api.post(f"/api/v1/notification-channels/{channel['id']}/test", "ADMIN").get_json()
    assert (tested["status"], tested["responseCode"], tested["lastError"]) == (
        "failed", 500, "HTTP 500")


def test_channels_are_for_team_admins(api, world, allow_private, receiver):
    body = {"teamId": world.team.id, "type": "slack", "name": "chat", "url": receiver.url}
    assert api.post("/api/v1/notification-channels", "EDITOR", json=body).status_code == 403
    assert api.post("/api/v1/notification-channels", "outsider", json=body).status_code == 404
    assert api.get("/api/v1/notification-channels", "VIEWER").status_code == 403
    channel = api.post("/api/v1/notification-channels", "ADMIN", json=body).get_json()
    assert api.post(f"/api/v1/notification-channels/{channel['id']}/test",
                    "outsider").status_code == 404
    assert api.get("/api/v1/notification-channels", "outsider").get_json()["items"] == []


@pytest.mark.parametrize("body,field,status", [
    ({"type": "pager", "name": "x", "url": "https://example.com/h"}, "type", 400),
    ({"type": "webhook", "name": "x", "url": "https://example.com/h"}, "secret", 400),
    ({"type": "webhook", "name": "x", "url": "https://example.com/h", "secret": "short"},
     "secret", 400),
    ({"type": "slack", "name": "x"}, "url", 400),
    ({"type": "slack", "name": "x", "url": "http://127.0.0.1:9/h"}, "url", 400),
    ({"type": "slack", "name": "x", "url": "http://169.254.169.254/"}, "url", 400),
    ({"type": "slack", "name": "x", "url": "https://example.com/h", "rules": ["nope"]},
     "rules[0]", 400),
    ({"type": "slack", "name": "x", "url": "https://example.com/h", "events": ["party"]},
     "events[0]", 400),
    ({"type": "email", "name": "x", "to": "ops@example.com"}, "type", 400),  # no SMTP here
    ({"type": "slack", "name": "", "url": "https://example.com/h"}, "name", 400),
])
def test_bad_channels_answer_400_naming_the_field_and_change_nothing(api, world, body, field,
                                                                     status):
    response = api.post("/api/v1/notification-channels", "ADMIN",
                        json={"teamId": world.team.id, **body})
    assert response.status_code == status, response.get_json()
    assert field in response.get_json()["details"]
    assert api.get("/api/v1/notification-channels", "ADMIN").get_json()["items"] == []


def test_a_second_channel_with_the_same_name_answers_409(api, world, allow_private, receiver):
    body = {"teamId": world.team.id, "type": "slack", "name": "chat", "url": receiver.url}
    assert api.post("/api/v1/notification-channels", "ADMIN", json=body).status_code == 201
    assert api.post("/api/v1/notification-channels", "ADMIN", json=body).status_code == 409
