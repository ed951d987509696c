"""The maintenance toggle for browsers: dialog form endpoint, confirmation page, fragments."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests import roles
from tests.factories import make_node, make_pipeline
from tests.maintenance.conftest import open_dialog, report
from vectorflow.extensions import db
from vectorflow.models import AuditLog, Role, utcnow

ENTER = {"enabled": "1", "reason": "swap the disk"}


def audit_count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                             .where(AuditLog.action.like("node.maintenance%")))


@pytest.mark.parametrize("kind", roles.KINDS)
def test_the_form_endpoint_follows_the_role_table(client, login_as, node, kind):
    response = roles.call(client, login_as, kind, "POST", f"/nodes/{node.id}/maintenance", ENTER)
    roles.check(response, kind, Role.ADMIN, 302)
    db.session.refresh(node)
    assert node.maintenance_mode is (response.status_code == 302 and kind != "anonymous")


@pytest.mark.parametrize("kind", roles.KINDS)
def test_the_confirmation_page_follows_the_role_table(client, login_as, node, kind):
    response = roles.call(client, login_as, kind, "GET", f"/nodes/{node.id}/maintenance")
    roles.check(response, kind, Role.ADMIN, 200)


@pytest.mark.parametrize("kind", roles.KINDS)
def test_the_dialog_body_follows_the_role_table(client, login_as, node, kind):
    response = roles.call(client, login_as, kind, "GET", f"/nodes/{node.id}/maintenance/dialog?enabled=1")
    roles.check(response, kind, Role.ADMIN, 200)


def test_the_dialog_body_matches_the_direction_the_dialog_was_rendered_for(client, login_as, world, node):
    report(node, make_pipeline(world.env, "logs"))
    db.session.commit()
    login_as("ADMIN")
    enter = client.get(f"/nodes/{node.id}/maintenance/dialog?enabled=1&next=/matrix/x").get_data(as_text=True)
    assert 'name="enabled" value="1"' in enter and 'data-running-count="1"' in enter
    assert 'name="next" value="/matrix/x"' in enter and 'name="csrf_token"' in enter
    leave = client.get(f"/nodes/{node.id}/maintenance/dialog?enabled=0&next=https://evil.example/")
    text = leave.get_data(as_text=True)
    assert 'name="enabled" value="0"' in text and "leaves maintenance" in text
    assert "evil.example" not in text and "data-running-count" not in text


@pytest.mark.parametrize("kind", roles.KINDS)
def test_fragments_are_visible_to_every_member(client, login_as, node, kind):
    for url in (f"/nodes/{node.id}/maintenance/panel", f"/nodes/{node.id}/maintenance/history",
                f"/nodes/{node.id}/maintenance/toggle"):
        roles.check(roles.call(client, login_as, kind, "GET", url), kind, Role.VIEWER, 200)


def test_the_form_without_a_csrf_token_is_refused(client, login_as, node):
    login_as("ADMIN")
    response = client.post(f"/nodes/{node.id}/maintenance", data=ENTER)
    assert response.status_code == 400
    db.session.refresh(node)
    assert node.maintenance_mode is False


def test_a_plain_form_post_redirects_back_with_a_message(client, login_as, node):
    login_as("ADMIN")
    response = client.submit(f"/nodes/{node.id}/maintenance", ENTER | {"next": "/?env=x"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/?env=x")
    page = client.get("/?env=x").get_data(as_text=True)
    assert "edge-1 is in maintenance" in page
    db.session.refresh(node)
    assert node.maintenance_reason == "swap the disk"


def test_next_never_leaves_the_site(client, login_as, node):
    login_as("ADMIN")
    response = client.submit(f"/nodes/{node.id}/maintenance", ENTER | {"next": "https://evil.example/"})
    assert "evil" not in response.headers["Location"]


def test_next_with_a_line_break_never_reaches_the_location_header(client, login_as, node):
    login_as("ADMIN")
    response = client.submit(f"/nodes/{node.id}/maintenance", ENTER | {"next": "/\r\nX: 1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/" and "X" not in response.headers


@pytest.mark.parametrize("reason, problem", [
    ("kernel\ud800patch", "must be valid Unicode (it holds a lone surrogate)"),
    ("kernel\x00patch", "must not contain NUL characters"),
])
def test_a_reason_that_cannot_be_stored_is_refused_over_the_api(client, node, world, reason,
                                                                problem):
    from tests.factories import make_api_token

    token = make_api_token(world.users["ADMIN"])
    response = client.post(f"/api/v1/nodes/{node.id}/maintenance",
                           json={"enabled": True, "reason": reason},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert problem in response.get_json()["error"]
    db.session.refresh(node)
    assert node.maintenance_mode is False and audit_count() == 0


def test_fetch_gets_json_and_the_row_is_not_reloaded(client, login_as, node):
    login_as("ADMIN")
    token = client.csrf_token()
    response = client.post(f"/nodes/{node.id}/maintenance", data=ENTER,
                           headers={"Accept": "application/json", "X-CSRFToken": token})
    assert response.status_code == 200
    body = response.get_json()
    assert body["changed"] is True and body["node"]["maintenanceMode"] is True
    assert body["node"]["maintenanceReason"] == "swap the disk"


def test_the_dialog_sends_until_as_utc_iso(client, login_as, node):
    login_as("ADMIN")
    client.submit(f"/nodes/{node.id}/maintenance",
                  ENTER | {"until": "2099-03-01T17:30:00.000Z", "until_local": "2099-03-01T18:30"})
    db.session.refresh(node)
    assert node.maintenance_until.isoformat() == "2099-03-01T17:30:00+00:00"


def test_without_javascript_until_local_is_read_as_utc(client, login_as, node):
    login_as("ADMIN")
    client.submit(f"/nodes/{node.id}/maintenance", ENTER | {"until_local": "2099-03-01T18:30"})
    db.session.refresh(node)
    assert node.maintenance_until.isoformat() == "2099-03-01T18:30:00+00:00"


@pytest.mark.parametrize("data, message", [
    ({"reason": "x" * 501}, "at most 500 characters"),
    ({"until": "2001-01-01T00:00:00Z"}, "must be in the future"),
    ({"until_local": "someday"}, "ISO 8601"),
])
def test_bad_input_shows_a_form_message_and_changes_nothing(client, login_as, node, data, message):
    login_as("ADMIN")
    response = client.submit(f"/nodes/{node.id}/maintenance", {"enabled": "1"} | data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'data-testid="maintenance-error"' in page
    assert "<form" in page  # the form is shown again to correct
    db.session.refresh(node)
    assert node.maintenance_mode is False and audit_count() == 0


@pytest.mark.parametrize("data, message", [
    ({"reason": "x" * 501}, "at most 500 characters"),
    ({"until": "soon"}, "ISO 8601"),
])
def test_bad_input_from_fetch_is_a_json_400(client, login_as, node, data, message):
    login_as("ADMIN")
    response = client.post(f"/nodes/{node.id}/maintenance", data={"enabled": "1"} | data,
                           headers={"Accept": "application/json", "X-CSRFToken": client.csrf_token()})
    assert response.status_code == 400 and message in response.get_json()["error"]
    db.session.refresh(node)
    assert node.maintenance_mode is False


def test_the_confirmation_page_names_the_node_the_running_count_and_the_coverage_warning(
        client, login_as, world, node):
    only_here = make_pipeline(world.env, "billing")
    shared = make_pipeline(world.env, "access-logs")
    other, _ = make_node(world.env, "edge-2")
    report(node, only_here)
    report(node, shared)
    report(other, shared)
    db.session.commit()
    login_as("ADMIN")
    page = client.get(f"/nodes/{node.id}/maintenance").get_data(as_text=True)
    assert "Enter maintenance: edge-1?" in page
    assert 'data-running-count="2"' in page and "2 pipelines" in page
    warning = page[page.index('data-testid="coverage-warning"'):]
    warning = warning[:warning.index("</div>")]
    assert "billing" in warning and "access-logs" not in warning
    assert 'name="force" value="1"' in warning  # confirming after the warning is informed


def test_a_coverage_conflict_from_a_stale_form_asks_again(client, login_as, world, node):
    report(node, make_pipeline(world.env, "billing"))
    db.session.commit()
    login_as("ADMIN")
    response = client.submit(f"/nodes/{node.id}/maintenance", {"enabled": "1"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "billing" in page and 'name="force" value="1"' in page
    db.session.refresh(node)
    assert node.maintenance_mode is False


def test_leaving_asks_for_confirmation_too(client, login_as, node):
    login_as("ADMIN")
    client.submit(f"/nodes/{node.id}/maintenance", ENTER)
    page = client.get(f"/nodes/{node.id}/maintenance").get_data(as_text=True)
    assert "Leave maintenance: edge-1?" in page and 'name="enabled" value="0"' in page
    client.submit(f"/nodes/{node.id}/maintenance", {"enabled": "0"})
    db.session.refresh(node)
    assert node.maintenance_mode is False and audit_count() == 2


def test_toggling_twice_to_the_same_state_writes_one_audit_row(client, login_as, node):
    login_as("ADMIN")
    client.submit(f"/nodes/{node.id}/maintenance", ENTER)
    response = client.submit(f"/nodes/{node.id}/maintenance", ENTER, follow_redirects=True)
    assert "already in maintenance" in response.get_data(as_text=True)
    assert audit_count() == 1


# ------------------------------------------------------------------ fragments

def test_the_banner_says_since_by_why_until_and_draining(client, login_as, node):
    login_as("ADMIN")
    client.submit(f"/nodes/{node.id}/maintenance",
                  ENTER | {"until": "2099-01-02T03:04:00Z"})
    html = client.get(f"/nodes/{node.id}/maintenance/panel").get_data(as_text=True)
    banner = html[html.index('id="maintenance-banner"'):]
    assert "in maintenance" in banner
    assert utcnow().strftime("%Y-%m-%d") in banner  # since
    assert "admin@example.com" in banner  # by
    assert "swap the disk" in banner  # why
    assert "2099-01-02 03:04 UTC" in banner  # until
    assert 'data-drain-state="DRAINING"' in banner


def test_the_banner_shows_the_drain_time_once_drained(client, login_as, node):
    from vectorflow.services.maintenance import on_heartbeat

    login_as("ADMIN")
    client.submit(f"/nodes/{node.id}/maintenance", ENTER)
    db.session.refresh(node)
    on_heartbeat(node, [])
    db.session.commit()
    html = client.get(f"/nodes/{node.id}/maintenance/panel").get_data(as_text=True)
    assert re.search(r'data-drain-state="DRAINED">Drained in \d+s', html)


def test_no_banner_outside_maintenance(client, login_as, node):
    login_as("VIEWER")
    html = client.get(f"/nodes/{node.id}/maintenance/panel").get_data(as_text=True)
    assert 'id="maintenance-panel"' in html and 'id="maintenance-banner"' not in html


def test_the_history_lists_every_period_with_who_why_and_drain_time(client, login_as, node):
    login_as("ADMIN")
    client.submit(f"/nodes/{node.id}/maintenance", ENTER)
    client.submit(f"/nodes/{node.id}/maintenance", {"enabled": "0"})
    client.submit(f"/nodes/{node.id}/maintenance", {"enabled": "1", "reason": "second round"})
    html = client.get(f"/nodes/{node.id}/maintenance/history").get_data(as_text=True)
    rows = re.findall(r'<tr data-period-id="\d+">(.*?)</tr>', html, re.S)
    assert len(rows) == 2
    assert "second round" in rows[0] and "in progress" in rows[0]
    assert "swap the disk" in rows[1] and "by admin@example.com" in rows[1]


def test_the_toggle_is_shown_only_to_admins(client, login_as, node):
    for kind, shown in (("VIEWER", False), ("EDITOR", False), ("ADMIN", True), ("superadmin", True)):
        login_as(kind)
        html = client.get(f"/nodes/{node.id}/maintenance/toggle").get_data(as_text=True)
        assert ('data-testid="maintenance-toggle"' in html) is shown, kind


def test_the_toggle_carries_a_dialog_with_the_node_name_and_running_count(client, login_as, world, node):
    report(node, make_pipeline(world.env, "logs"))
    db.session.commit()
    login_as("ADMIN")
    html = client.get(f"/nodes/{node.id}/maintenance/toggle").get_data(as_text=True)
    dialog = open_dialog(client, html)
    assert "edge-1" in dialog and 'data-running-count="1"' in dialog and ">1 pipeline<" in dialog
    assert 'name="csrf_token"' in dialog and 'name="reason"' in dialog
    assert 'type="datetime-local"' in dialog and "window.confirm" not in html
