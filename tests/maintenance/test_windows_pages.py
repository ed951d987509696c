"""Maintenance window pages: list, create and edit with a preview, the window's page, and the
node page naming the window that holds it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.factories import make_node, make_pipeline
from tests.maintenance.conftest import report
from tests.maintenance.test_windows import sweep, t
from vectorflow import transactions
from vectorflow.extensions import db
from vectorflow.models import AuditLog, MaintenanceWindow
from vectorflow.services.actors import Actor
from vectorflow.services.windows import create_window

ALICE = Actor("user", "u-alice", "alice@example.com")
FORM = {"name": "patch-tuesday", "target": "labels", "labels": "rack=r1",
        "start": "2099-03-03T02:00", "duration": "60", "timezone": "Europe/Berlin",
        "rrule": "FREQ=WEEKLY;BYDAY=TU", "reason": "kernel upgrades", "enabled": "y"}


@pytest.fixture
def nodes(world):
    made = {name: make_node(world.env, name, labels={"rack": rack})[0]
            for name, rack in (("web-1", "r1"), ("web-2", "r1"), ("db-1", "r2"))}
    db.session.commit()
    return made


def windows_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(MaintenanceWindow))


def section(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[start:page.index("</section>", start)]


def test_preview_shows_the_occurrences_and_nodes_and_saves_nothing(client, login_as, world, nodes):
    login_as("ADMIN")
    response = client.submit(f"/environments/{world.env.id}/maintenance-windows",
                             FORM | {"action": "preview"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    shown = section(page, 'data-testid="window-preview"')
    assert "2099-03-03 02:00 CET" in shown and "2099-03-31 02:00 CEST" in shown
    assert "2099-03-31 00:00 UTC" in shown  # the same wall time, an hour earlier in UTC
    would = shown[shown.index('data-testid="window-would-take"'):]
    assert "web-1" in would and "web-2" in would and "db-1" not in would
    assert 'value="patch-tuesday"' in page  # the form keeps what was typed
    assert windows_count() == 0


def test_saving_creates_the_window_and_shows_its_page(client, login_as, world, nodes):
    login_as("ADMIN")
    response = client.submit(f"/environments/{world.env.id}/maintenance-windows",
                             FORM | {"action": "save"})
    assert response.status_code == 302
    window = db.session.scalar(sa.select(MaintenanceWindow))
    assert response.headers["Location"].endswith(f"/maintenance-windows/{window.id}")
    assert window.start_at == t("2099-03-03T01:00Z") and window.timezone == "Europe/Berlin"
    assert window.selector == {"labels": {"rack": "r1"}} and window.enabled
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "maintenance_window.created"))
    assert row.actor_label == "admin@example.com"

    page = client.get(f"/maintenance-windows/{window.id}").get_data(as_text=True)
    assert "patch-tuesday" in page and "FREQ=WEEKLY;BYDAY=TU" in page
    assert 'data-testid="window-state">enabled' in page
    listing = client.get(f"/environments/{world.env.id}/maintenance-windows").get_data(as_text=True)
    row = listing[listing.index(f'data-window-id="{window.id}"'):]
    assert "2099-03-03 02:00 CET" in row and "rack=r1" in row


@pytest.mark.parametrize("change, message", [
    ({"timezone": "Europe/Atlantis"}, "unknown IANA time zone"),
    ({"start": "2099-03-29T02:30"}, "does not exist in Europe/Berlin"),
    ({"labels": ""}, "Give at least one key=value"),
    ({"labels": "rack"}, "is not key=value"),
    ({"target": "nodes"}, "must be a non-empty list of node ids"),
    ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "not a valid RRULE"),
    ({"duration": "0"}, "from 1 to"),
    ({"name": ""}, "required"),
])
def test_bad_input_is_shown_on_the_form_and_nothing_is_saved(client, login_as, world, nodes,
                                                            change, message):
    login_as("ADMIN")
    for action in ("preview", "save"):
        response = client.submit(f"/environments/{world.env.id}/maintenance-windows",
                                 FORM | change | {"action": action})
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert message in page, page[page.index("<form"):][:3000]
        assert 'data-testid="window-preview"' not in page
    assert windows_count() == 0


def test_a_duplicate_name_is_refused_on_the_form(client, login_as, world, nodes):
    login_as("ADMIN")
    client.submit(f"/environments/{world.env.id}/maintenance-windows", FORM | {"action": "save"})
    response = client.submit(f"/environments/{world.env.id}/maintenance-windows",
                             FORM | {"action": "save"})
    assert response.status_code == 409
    assert "another window of this environment has this name" in response.get_data(as_text=True)
    assert windows_count() == 1


@pytest.mark.parametrize("who, status", [("VIEWER", 403), ("EDITOR", 403), ("outsider", 404),
                                         ("ADMIN", 302)])
def test_only_admins_create_windows_from_the_page(client, login_as, world, nodes, who, status):
    login_as(who)
    assert client.get(f"/environments/{world.env.id}/maintenance-windows/new").status_code == (
        200 if status == 302 else status)
    response = client.submit(f"/environments/{world.env.id}/maintenance-windows",
                             FORM | {"action": "save"})
    assert response.status_code == status


def test_members_see_the_list_without_the_new_button(client, login_as, world, nodes):
    login_as("VIEWER")
    page = client.get(f"/environments/{world.env.id}/maintenance-windows")
    assert page.status_code == 200
    assert 'data-testid="new-window"' not in page.get_data(as_text=True)
    login_as("outsider")
    assert client.get(f"/environments/{world.env.id}/maintenance-windows").status_code == 404


@pytest.fixture
def window(world, nodes):
    made = transactions.run(lambda: create_window(world.env, {
        "name": "patch-tuesday", "selector": {"labels": {"rack": "r1"}},
        "start": "2099-01-06T02:00:00+01:00", "durationMinutes": 60,
        "timezone": "Europe/Berlin", "rrule": "FREQ=WEEKLY;BYDAY=TU",
        "reason": "kernel upgrades"}, actor=ALICE))
    return made


def test_the_window_page_shows_the_run_with_the_skipped_nodes_and_why(client, login_as, world,
                                                                      nodes, window):
    pipeline = make_pipeline(world.env, "logs")
    for node in (nodes["web-1"], nodes["web-2"]):
        report(node, pipeline)
    db.session.commit()
    sweep(t("2099-01-06T01:00Z"))
    login_as("VIEWER")
    page = client.get(f"/maintenance-windows/{window.id}").get_data(as_text=True)
    assert 'data-testid="window-state">open until 2099-01-06 03:00 CET' in page
    assert 'data-testid="window-open-now"' in page  # no "if it opened now" while it is open
    runs = section(page, 'id="window-runs"')
    assert "web-1</a>" in runs
    skipped = runs[runs.index('data-testid="run-skipped"'):]
    assert ("<strong>web-2</strong>: disruption budget: logs (needs 1 healthy node outside "
            "maintenance; 0 would remain)") in skipped


def test_the_node_page_names_the_window_in_the_banner_details_and_history(client, login_as,
                                                                          world, nodes, window):
    sweep(t("2099-01-06T01:00Z"))
    login_as("VIEWER")
    page = client.get(f"/nodes/{nodes['web-1'].id}").get_data(as_text=True)
    banner = section(page, 'id="maintenance-banner"')
    assert 'data-field="window"' in banner and "patch-tuesday</a>" in banner
    assert "until <time" in banner and "2099-01-06 03:00 CET" in banner
    assert 'data-field="reason">kernel upgrades' in banner
    assert 'data-field="until"' not in banner
    details = section(page, 'id="node-details"')
    assert "patch-tuesday</a>" in details and "next 2099-01-13 02:00 CET" in details
    history = section(page, 'id="maintenance-history"')
    assert "window <a" in history and "patch-tuesday" in history
    # The banner alone, as the live update re-renders it.
    panel = client.get(f"/nodes/{nodes['web-1'].id}/maintenance/panel").get_data(as_text=True)
    assert "patch-tuesday</a>" in panel

    sweep(t("2099-01-06T02:00Z"))
    page = client.get(f"/nodes/{nodes['web-1'].id}").get_data(as_text=True)
    assert 'id="maintenance-banner"' not in page
    assert "window ended" in section(page, 'id="maintenance-history"')
    other = client.get(f"/nodes/{nodes['db-1'].id}").get_data(as_text=True)
    assert 'id="node-windows"' not in other  # not targeted


def test_disable_enable_edit_and_delete_from_the_page(client, login_as, world, nodes, window):
    sweep(t("2099-01-06T01:00Z"))
    login_as("ADMIN")
    response = client.submit(f"/maintenance-windows/{window.id}/enabled", {"enabled": "0"},
                             follow_redirects=True)
    assert "Maintenance window patch-tuesday disabled." in response.get_data(as_text=True)
    db.session.refresh(nodes["web-1"])
    assert nodes["web-1"].maintenance_mode is False  # the open occurrence ended at once
    client.submit(f"/maintenance-windows/{window.id}/enabled", {"enabled": "1"})
    db.session.refresh(window)
    assert window.enabled

    page = client.get(f"/maintenance-windows/{window.id}/edit").get_data(as_text=True)
    assert 'value="2099-01-06T02:00"' in page and 'value="rack=r1"' in page
    response = client.submit(f"/maintenance-windows/{window.id}",
                             FORM | {"name": "patch-tuesday", "start": "2099-01-06T02:00",
                                     "duration": "90", "action": "save"})
    assert response.status_code == 302
    db.session.refresh(window)
    assert window.duration_minutes == 90

    response = client.submit(f"/maintenance-windows/{window.id}/delete", follow_redirects=True)
    assert "Maintenance window patch-tuesday deleted." in response.get_data(as_text=True)
    assert windows_count() == 0


def test_the_audit_page_names_the_window_that_moved_a_node(client, login_as, world, nodes, window):
    sweep(t("2099-01-06T01:00Z"))
    sweep(t("2099-01-06T02:00Z"))
    login_as("ADMIN")
    page = client.get(f"/audit/?node={nodes['web-1'].id}").get_data(as_text=True)
    assert page.count("maintenance window patch-tuesday") == 2
    assert "maintenance window patch-tuesday ended" in page
