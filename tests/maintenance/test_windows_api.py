"""REST: /api/v1/maintenance-windows (every call is checked against the OpenAPI document).

Windows created through the API are checked against the real clock, so their dates lie far in
the future (2099); the sweep is then run with the test's clock.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.factories import make_node, make_pipeline
from tests.maintenance.conftest import report
from tests.maintenance.test_windows import sweep, t
from vectorflow.extensions import db
from vectorflow.models import AuditLog, MaintenanceWindow

URL = "/api/v1/maintenance-windows"


@pytest.fixture
def nodes(world):
    made = {name: make_node(world.env, name, labels={"rack": rack})[0]
            for name, rack in (("web-1", "r1"), ("web-2", "r1"), ("db-1", "r2"))}
    db.session.commit()
    return made


def body(world, **extra) -> dict:
    return {"environmentId": world.env.id, "name": "patch-tuesday",
            "selector": {"labels": {"rack": "r1"}}, "start": "2099-03-03T02:00:00+01:00",
            "durationMinutes": 60, "timezone": "Europe/Berlin", "rrule": "FREQ=WEEKLY;BYDAY=TU",
            "reason": "kernel upgrades"} | extra


def window_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(MaintenanceWindow))


def test_an_admin_creates_a_window_and_reads_it_back(api, world, nodes):
    response = api.post(URL, "ADMIN", json=body(world))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created | {"id": None, "createdAt": None, "updatedAt": None} == {
        "id": None, "environmentId": world.env.id, "name": "patch-tuesday", "nodeIds": None,
        "selector": {"labels": {"rack": "r1"}}, "start": "2099-03-03T02:00:00+01:00",
        "durationMinutes": 60, "timezone": "Europe/Berlin", "rrule": "FREQ=WEEKLY;BYDAY=TU",
        "reason": "kernel upgrades", "enabled": True, "active": False,
        "nextStart": "2099-03-03T02:00:00+01:00", "lastRun": None, "createdBy": "admin-laptop",
        "createdAt": None, "updatedAt": None}
    shown = api.get(f"{URL}/{created['id']}", "VIEWER")
    assert shown.status_code == 200 and shown.get_json() == created
    listed = api.get(f"{URL}?environmentId={world.env.id}", "VIEWER").get_json()
    assert [w["name"] for w in listed["items"]] == ["patch-tuesday"]
    assert api.get(URL, "outsider").get_json()["items"] == []
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "maintenance_window.created"))
    assert row.actor_type == "token" and row.actor_label == "admin-laptop"
    assert row.entity_id == created["id"] and row.team_id == world.team.id


@pytest.mark.parametrize("who, status", [
    (None, 401), ("VIEWER", 403), ("EDITOR", 403), ("outsider", 404), ("ADMIN", 201),
    ("superadmin", 201), ("service:EDITOR", 403), ("service:ADMIN", 201),
])
def test_only_admins_of_the_team_create_windows(api, world, nodes, who, status):
    assert api.post(URL, who, json=body(world)).status_code == status
    assert window_count() == (1 if status == 201 else 0)


@pytest.fixture
def window_id(api, world, nodes) -> str:
    return api.post(URL, "ADMIN", json=body(world)).get_json()["id"]


@pytest.mark.parametrize("method, who, status", [
    ("PATCH", "EDITOR", 403), ("PATCH", "outsider", 404), ("PATCH", "ADMIN", 200),
    ("DELETE", "VIEWER", 403), ("DELETE", "outsider", 404), ("DELETE", "ADMIN", 204),
    ("GET", "VIEWER", 200), ("GET", "outsider", 404),
])
def test_changing_and_deleting_need_admin_and_reading_needs_membership(api, window_id, method,
                                                                      who, status):
    json = {"reason": "changed"} if method == "PATCH" else None
    response = api.call(method, f"{URL}/{window_id}", who, json=json)
    assert response.status_code == status
    assert window_count() == (0 if status == 204 else 1)


@pytest.mark.parametrize("extra, field", [
    ({"durationMinutes": 0}, "durationMinutes"),
    ({"durationMinutes": "60"}, "durationMinutes"),
    ({"start": "2099-03-03T02:00:00"}, "start"),  # no offset
    ({"start": "soon"}, "start"),
    ({"start": "2001-01-01T00:00:00Z", "rrule": None}, "start"),
    ({"timezone": "Europe/Atlantis"}, "timezone"),
    ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule"),
    ({"rrule": "FREQ=SECONDLY"}, "rrule"),
    ({"nodeIds": ["x"]}, "selector"),  # both targets
    ({"selector": None}, "nodeIds"),  # no target
    ({"selector": {"labels": {"rack": 1}}}, "selector.labels.rack"),
    ({"selector": {"rack": "r1"}}, "selector.rack"),
    ({"name": ""}, "name"),
    ({"enabled": "yes"}, "enabled"),
    ({"colour": "red"}, "colour"),
])
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(api, world, nodes, extra, field):
    response = api.post(URL, "ADMIN", json=body(world, **extra))
    assert response.status_code == 400
    assert field in response.get_json()["details"], response.get_json()
    assert response.get_json()["error"]
    assert window_count() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.entity_type == "maintenance_window")) == 0


def test_a_missing_required_field_is_named(api, world, nodes):
    response = api.post(URL, "ADMIN", json={"environmentId": world.env.id})
    assert response.status_code == 400
    assert {"name", "start", "durationMinutes"} <= set(response.get_json()["details"])


def test_a_duplicate_name_is_a_409(api, world, window_id):
    response = api.post(URL, "ADMIN", json=body(world))
    assert response.status_code == 409 and "patch-tuesday" in response.get_json()["error"]


def test_patch_changes_what_it_is_given_and_refuses_moving_environments(api, world, window_id,
                                                                        nodes):
    response = api.patch(f"{URL}/{window_id}", "ADMIN",
                         json={"nodeIds": [nodes["db-1"].id], "durationMinutes": 30})
    assert response.status_code == 200
    changed = response.get_json()
    assert changed["nodeIds"] == [nodes["db-1"].id] and changed["selector"] is None
    assert changed["durationMinutes"] == 30 and changed["rrule"] == "FREQ=WEEKLY;BYDAY=TU"
    response = api.patch(f"{URL}/{window_id}", "ADMIN", json={"environmentId": world.other_env.id})
    assert response.status_code == 400 and "environmentId" in response.get_json()["details"]
    response = api.patch(f"{URL}/{window_id}", "ADMIN", json={"rrule": None, "enabled": False})
    assert response.get_json()["rrule"] is None and response.get_json()["nextStart"] is None
    rows = db.session.scalars(sa.select(AuditLog.action).where(
        AuditLog.entity_id == window_id).order_by(AuditLog.id)).all()
    assert rows == ["maintenance_window.created", "maintenance_window.updated",
                    "maintenance_window.updated"]


def test_delete_answers_204_and_the_window_is_gone(api, window_id):
    assert api.delete(f"{URL}/{window_id}", "ADMIN").status_code == 204
    assert api.get(f"{URL}/{window_id}", "ADMIN").status_code == 404
    assert db.session.scalar(sa.select(AuditLog.action).order_by(AuditLog.id.desc()).limit(1)) \
        == "maintenance_window.deleted"


def test_preview_lists_occurrences_in_the_windows_zone_and_the_nodes_it_would_take(api, world,
                                                                                   nodes):
    # 2099-03-29 is the day Berlin springs forward: 02:30 does not exist and runs at 03:30.
    created = api.post(URL, "ADMIN", json=body(
        world, name="nightly", start="2099-03-28T02:30:00+01:00", rrule="FREQ=DAILY",
        durationMinutes=30)).get_json()
    response = api.get(f"{URL}/{created['id']}/preview?count=3", "VIEWER")
    assert response.status_code == 200
    shown = response.get_json()
    assert shown["occurrences"] == [
        {"start": "2099-03-28T02:30:00+01:00", "end": "2099-03-28T03:00:00+01:00", "shifted": False},
        {"start": "2099-03-29T03:30:00+02:00", "end": "2099-03-29T04:00:00+02:00", "shifted": True},
        {"start": "2099-03-30T02:30:00+02:00", "end": "2099-03-30T03:00:00+02:00", "shifted": False},
    ]
    assert sorted(n["name"] for n in shown["nodes"]) == ["web-1", "web-2"]
    assert shown["skipped"] == []
    assert api.get(f"{URL}/{created['id']}/preview?count=0", "VIEWER").status_code == 400
    assert api.get(f"{URL}/{created['id']}/preview", "outsider").status_code == 404


def test_the_window_json_shows_the_current_run_with_the_skipped_nodes(api, world, nodes):
    pipeline = make_pipeline(world.env, "logs")
    for node in (nodes["web-1"], nodes["web-2"]):
        report(node, pipeline)
    db.session.commit()
    created = api.post(URL, "ADMIN", json=body(world, start="2099-01-06T02:00:00+01:00",
                                                rrule=None)).get_json()
    sweep(t("2099-01-06T01:00:00Z"))
    shown = api.get(f"{URL}/{created['id']}", "VIEWER").get_json()
    assert shown["active"] is True
    run = shown["lastRun"]
    assert (run["startedAt"], run["endsAt"], run["endedAt"]) == (
        "2099-01-06T01:00:00Z", "2099-01-06T02:00:00Z", None)
    assert run["nodeIds"] == [nodes["web-1"].id]
    assert run["skipped"] == [{"nodeId": nodes["web-2"].id, "reason": (
        "disruption budget: logs (needs 1 healthy node outside maintenance; 0 would remain)")}]
    sweep(t("2099-01-06T02:00:00Z"))
    shown = api.get(f"{URL}/{created['id']}", "VIEWER").get_json()
    assert shown["active"] is False and shown["lastRun"]["endedAt"] == "2099-01-06T02:00:00Z"
    assert shown["nextStart"] is None
