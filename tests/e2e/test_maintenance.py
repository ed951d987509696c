"""The maintenance workflow as an admin sees it: fleet table, node page, matrix, agents."""
import json

import pytest
from playwright.sync_api import expect

from .conftest import wait_for


def row_of(page, name):
    return page.locator("#fleet-table tbody tr[data-node-id]", has_text=name)


def node_id_of(page, name):
    return row_of(page, name).get_attribute("data-node-id")


def node_state(stack, node_id):
    """The node as the database sees it (maintenance flag, drain state)."""
    from vectorflow.extensions import db
    from vectorflow.models import VectorNode

    app = stack.app()
    with app.app_context():
        node = db.session.get(VectorNode, node_id)
        state = (node.maintenance_mode, node.drain_state.value if node.drain_state else None,
                 node.maintenance_reason)
        db.session.remove()
        db.engine.dispose()
    return state


def running_on(stack, name):
    """How many pipelines the simulated agent called ``name`` runs right now."""
    fleet = stack.fleet_thread.fleet
    agent = next(a for a in fleet.agents if a.hostname == name)
    return agent.running_count()


@pytest.fixture
def admin_fleet(login):
    return login("ADMIN")


def enter_maintenance_from_the_fleet_table(page, name, reason, shot):
    row = row_of(page, name)
    row.get_by_test_id("maintenance-toggle").click()
    dialog = row.get_by_test_id("maintenance-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(name)
    expect(dialog.get_by_test_id("maintenance-running")).to_contain_text("2 pipelines")
    dialog.locator("textarea[name=reason]").fill(reason)
    shot(page, "dialog")
    dialog.locator("[data-maintenance-submit]").click()
    expect(row_of(page, name).get_by_test_id("maintenance-badge")).to_be_visible()


def leave_maintenance_from_the_node_page(page, shot):
    page.get_by_test_id("maintenance-toggle").first.click()
    dialog = page.get_by_test_id("maintenance-dialog").first
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("leaves maintenance")
    shot(page, "leave-dialog")
    dialog.locator("[data-maintenance-submit]").click()
    expect(page.get_by_test_id("maintenance-banner")).to_have_count(0)


def test_an_admin_puts_one_node_into_maintenance_and_everyone_sees_it(admin_fleet, stack, shot):
    page = admin_fleet
    node_id = node_id_of(page, "edge-0001")
    enter_maintenance_from_the_fleet_table(page, "edge-0001", "kernel upgrade OPS-42", shot)
    shot(page, "fleet-badge")

    # Only that row changed.
    for other in ("edge-0002", "edge-0003"):
        expect(row_of(page, other).get_by_test_id("maintenance-badge")).to_have_count(0)
        expect(row_of(page, other).locator(".badge-healthy")).to_be_visible()
    badge = row_of(page, "edge-0001").get_by_test_id("maintenance-badge")
    assert "kernel upgrade OPS-42" in badge.get_attribute("title")

    # The agent gets no pipelines on its next poll and stops them; the others keep theirs.
    wait_for(lambda: running_on(stack, "edge-0001") == 0, 15, "edge-0001 stops its pipelines")
    assert running_on(stack, "edge-0002") == 2 and running_on(stack, "edge-0003") == 2

    # The node page: banner with since, who, why; drained once the agent reported it.
    page.goto(f"{stack.url}/nodes/{node_id}")
    banner = page.get_by_test_id("maintenance-banner")
    expect(banner).to_be_visible()
    expect(banner.locator("[data-field=by]")).to_have_text("admin@example.com")
    expect(banner.locator("[data-field=reason]")).to_have_text("kernel upgrade OPS-42")
    assert banner.locator("[data-field=since] time").get_attribute("datetime")
    wait_for(lambda: node_state(stack, node_id)[1] == "DRAINED", 15, "the drain to be reported")
    page.reload()
    expect(page.locator("#maintenance-banner [data-drain-state=DRAINED]")).to_be_visible()
    shot(page, "node-banner")

    # The matrix: that column is dimmed and labelled, the others are not.
    page.goto(f"{stack.url}/matrix/{stack.env_id}")
    header = page.locator(f"#matrix-col-{node_id}")
    expect(header).to_have_attribute("data-maintenance", "true")
    expect(header.get_by_test_id("matrix-maintenance-label")).to_have_text("Maintenance")
    dimmed = page.locator(f"td[data-node-id='{node_id}']").first
    assert float(dimmed.evaluate("el => getComputedStyle(el).opacity")) < 1
    other = page.locator("th[data-node-id]:not([data-maintenance])").first
    assert float(other.evaluate("el => getComputedStyle(el).opacity")) == 1
    shot(page, "matrix-dimmed")

    # Leaving maintenance brings the pipelines back on the next poll.
    page.goto(f"{stack.url}/nodes/{node_id}")
    leave_maintenance_from_the_node_page(page, shot)
    wait_for(lambda: running_on(stack, "edge-0001") == 2, 15, "edge-0001 starts its pipelines again")
    page.goto(stack.url + "/")
    expect(row_of(page, "edge-0001").get_by_test_id("maintenance-badge")).to_have_count(0)
    shot(page, "fleet-after")

    # The audit log has one row for entering (with the reason) and, newest first above it, one
    # for leaving. Earlier tests of the shared fleet may have toggled this node too.
    page.goto(f"{stack.url}/audit/?node={node_id}")
    rows = page.locator("table tbody tr")
    expect(rows.filter(has_text="node.maintenance_entered")
           .filter(has_text="kernel upgrade OPS-42")).to_have_count(1)
    toggles = rows.filter(has_text="node.maintenance_")
    expect(toggles.nth(0)).to_contain_text("node.maintenance_left")
    expect(toggles.nth(1)).to_contain_text("node.maintenance_entered")
    expect(toggles.nth(1)).to_contain_text("kernel upgrade OPS-42")
    shot(page, "audit")


def test_a_viewer_sees_no_toggle_and_a_crafted_request_is_refused(login, stack, shot):
    page = login("VIEWER")
    expect(page.locator("#fleet-table tbody tr[data-node-id]")).to_have_count(3)
    expect(page.get_by_test_id("maintenance-toggle")).to_have_count(0)
    node_id = node_id_of(page, "edge-0002")
    result = page.evaluate(
        """async (nodeId) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const body = new URLSearchParams({enabled: '1', reason: 'sneaky', csrf_token: token});
            const response = await fetch('/nodes/' + nodeId + '/maintenance', {
                method: 'POST', body, headers: {'Accept': 'application/json', 'X-CSRFToken': token}});
            return {status: response.status, body: await response.text()};
        }""", node_id)
    assert result["status"] == 403, result
    assert json.loads(result["body"])["error"]
    assert node_state(stack, node_id)[0] is False
    shot(page, "viewer-fleet")
