"""The maintenance feature as the dashboard shows it: fleet table, node page, matrix."""
from __future__ import annotations

import re

from tests.factories import make_node, make_pipeline
from tests.maintenance.conftest import open_dialog, report
from vectorflow.extensions import db
from vectorflow.services.actors import Actor
from vectorflow.services.maintenance import set_maintenance

ALICE = Actor("user", "u-alice", "alice@example.com")


def row_html(page: str, node) -> str:
    start = page.index(f'id="node-row-{node.id}"')
    return page[start:page.index("</tr>", start)]


def enter(node, **kwargs):
    set_maintenance(node, True, force=True, actor=ALICE, **kwargs)
    db.session.commit()


# ------------------------------------------------------------------ fleet table

def test_toggling_from_the_fleet_table_shows_a_confirmation_dialog(client, login_as, world, node):
    report(node, make_pipeline(world.env, "logs"))
    report(node, make_pipeline(world.env, "metrics"))
    db.session.commit()
    login_as("ADMIN")
    row = row_html(client.get("/").get_data(as_text=True), node)
    assert 'data-testid="maintenance-toggle"' in row and 'data-dialog-open="maintenance-dialog-' in row
    assert "data-running-count" not in row  # read when the dialog opens, not for every row
    dialog = open_dialog(client, row)
    assert "Enter maintenance: edge-1?" in dialog
    assert 'data-running-count="2"' in dialog and ">2 pipelines<" in dialog
    assert 'name="reason"' in dialog and 'type="datetime-local"' in dialog
    assert f'action="/nodes/{node.id}/maintenance"' in dialog and 'name="csrf_token"' in dialog


def test_the_fleet_dialog_tells_what_is_true_when_it_opens_not_when_the_page_loaded(
        client, login_as, world, node):
    report(node, make_pipeline(world.env, "logs"))
    db.session.commit()
    login_as("ADMIN")
    row = row_html(client.get("/").get_data(as_text=True), node)
    report(node, make_pipeline(world.env, "metrics"))  # the agent started another since
    db.session.commit()
    assert ">2 pipelines<" in open_dialog(client, row)


def test_the_fleet_dialog_names_pipelines_that_would_lose_their_last_node(client, login_as, world, node):
    other, _ = make_node(world.env, "edge-2")
    only_here = make_pipeline(world.env, "billing")
    shared = make_pipeline(world.env, "access")
    report(node, only_here)
    report(node, shared)
    report(other, shared)
    db.session.commit()
    login_as("ADMIN")
    page = client.get("/").get_data(as_text=True)
    mine, theirs = open_dialog(client, row_html(page, node)), open_dialog(client, row_html(page, other))
    assert 'data-testid="coverage-warning"' in mine and "billing" in mine
    assert "access</li>" not in mine
    assert 'data-testid="coverage-warning"' not in theirs  # edge-1 still runs both


def test_the_toggle_is_shown_only_to_admins_of_the_nodes_team(client, login_as, world, node):
    theirs, _ = make_node(world.other_env, "theirs")
    db.session.commit()
    for kind, shown in (("VIEWER", False), ("EDITOR", False), ("ADMIN", True), ("superadmin", True)):
        login_as(kind)
        page = client.get("/").get_data(as_text=True)
        assert ('data-testid="maintenance-toggle"' in row_html(page, node)) is shown, kind
    login_as("superadmin")
    assert 'data-testid="maintenance-toggle"' in row_html(client.get("/").get_data(as_text=True), theirs)


def test_the_maintenance_badge_replaces_the_health_badge(client, login_as, world, node):
    other, _ = make_node(world.env, "edge-2")
    enter(node, reason="kernel 6.9", until="2099-01-01T00:00:00Z")
    login_as("VIEWER")
    page = client.get("/").get_data(as_text=True)
    row = row_html(page, node)
    badge = re.search(r'<span class="badge badge-maintenance" data-testid="maintenance-badge"[^>]*>', row).group(0)
    assert "<svg" in row[row.index('data-testid="maintenance-badge"'):]  # wrench icon
    title = re.search(r'title="([^"]*)"', badge).group(1)
    assert "Maintenance since" in title and "kernel 6.9" in title
    assert "alice@example.com" in title and "Until 2099-01-01 00:00 UTC" in title
    assert "badge-healthy" not in row
    assert "badge-healthy" in row_html(page, other) and "maintenance-badge" not in row_html(page, other)


def test_the_row_fragment_shows_the_new_state_and_the_exit_toggle(client, login_as, node):
    login_as("ADMIN")
    client.post(f"/nodes/{node.id}/maintenance", data={"enabled": "1"},
                headers={"Accept": "application/json", "X-CSRFToken": client.csrf_token()})
    row = client.get(f"/fleet/rows/{node.id}").get_data(as_text=True)
    assert 'data-testid="maintenance-badge"' in row
    assert 'data-maintenance-state="on"' in row and "Exit maintenance" in row
    assert f'data-maintenance-refresh="/fleet/rows/{node.id}?back=' in row  # keeps its page
    assert "Leave maintenance: edge-1?" in row  # leaving asks for confirmation too


def test_each_row_has_its_own_toggle_and_dialog(client, login_as, world, node):
    other, _ = make_node(world.env, "edge-2")
    db.session.commit()
    login_as("ADMIN")
    page = client.get("/").get_data(as_text=True)
    assert page.count('data-testid="maintenance-toggle"') == 2
    assert f'data-maintenance-toggle="{node.id}"' in page and f'data-maintenance-toggle="{other.id}"' in page
    assert "window.confirm" not in page and "js/maintenance.js" in page


# ------------------------------------------------------------------ node page

def test_the_node_page_shows_the_banner_toggle_and_history(client, login_as, node):
    enter(node, reason="swap the PSU", until="2099-05-06T07:08:00Z")
    login_as("ADMIN")
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    banner = page[page.index('id="maintenance-banner"'):]
    banner = banner[:banner.index("</section>")]
    for text in ("alice@example.com", "swap the PSU", "2099-05-06 07:08 UTC", "Entering"):
        assert text in banner
    assert 'data-testid="maintenance-toggle"' in page and "Exit maintenance" in page
    history = page[page.index('id="maintenance-history"'):]
    assert "swap the PSU" in history and "in progress" in history


def test_the_node_page_has_no_banner_outside_maintenance(client, login_as, node):
    login_as("VIEWER")
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    assert 'id="maintenance-banner"' not in page and 'id="maintenance-panel"' in page
    assert 'data-testid="maintenance-toggle"' not in page
    assert "never been in maintenance" in page


# ------------------------------------------------------------------ matrix

def test_the_matrix_dims_the_column_of_a_node_in_maintenance(client, login_as, world, node):
    other, _ = make_node(world.env, "edge-2")
    logs = make_pipeline(world.env, "logs")
    report(node, logs)
    report(other, logs)
    db.session.commit()
    enter(node)
    login_as("VIEWER")
    page = client.get(f"/matrix/{world.env.id}").get_data(as_text=True)
    header = re.search(rf'<th [^>]*id="matrix-col-{node.id}"[^>]*>', page).group(0)
    assert "matrix-col maintenance" in header and 'data-maintenance="true"' in header
    column = page[page.index(f'id="matrix-col-{node.id}"'):]
    assert 'data-testid="matrix-maintenance-label"' in column[:column.index("</th>")]
    cells = re.findall(rf'<td class="([^"]*)" data-node-id="{node.id}"', page)
    assert cells and all("matrix-col maintenance" in c for c in cells)
    other_header = re.search(rf'<th [^>]*id="matrix-col-{other.id}"[^>]*>', page).group(0)
    assert "maintenance" not in other_header
    assert all("maintenance" not in c for c in re.findall(rf'<td class="([^"]*)" data-node-id="{other.id}"', page))
