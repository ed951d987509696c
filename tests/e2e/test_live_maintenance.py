"""Live maintenance for people watching: viewers see it appear and go without reloading,
and pages catch up after losing their event stream."""
import time

from playwright.sync_api import expect

from .conftest import wait_for
from .test_maintenance import node_state, row_of


def watch(page):
    """Mark the page so a reload would be noticed, once its stream is live."""
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
    page.evaluate("window.notReloaded = true")


def test_viewers_see_maintenance_come_and_go_without_reloading(login, stack, shot):
    admin = login("ADMIN")
    node_id = row_of(admin, "edge-0002").get_attribute("data-node-id")
    fleet_viewer = login("VIEWER")
    node_viewer = login("VIEWER", f"/nodes/{node_id}")
    matrix_viewer = login("VIEWER", f"/matrix/{stack.env_id}")
    for page in (fleet_viewer, node_viewer, matrix_viewer):
        watch(page)
    expect(fleet_viewer.get_by_test_id("maintenance-toggle")).to_have_count(0)
    expect(node_viewer.get_by_test_id("maintenance-toggle")).to_have_count(0)

    row = row_of(admin, "edge-0002")
    row.get_by_test_id("maintenance-toggle").click()
    dialog = row.get_by_test_id("maintenance-dialog")
    dialog.locator("textarea[name=reason]").fill("disk swap")
    dialog.locator("[data-maintenance-submit]").click()
    expect(row_of(admin, "edge-0002").get_by_test_id("maintenance-badge")).to_be_visible()
    toggled = time.monotonic()

    badge = row_of(fleet_viewer, "edge-0002").get_by_test_id("maintenance-badge")
    expect(badge).to_be_visible(timeout=3000)
    banner = node_viewer.get_by_test_id("maintenance-banner")
    expect(banner).to_be_visible(timeout=3000)
    expect(banner.locator("[data-field=reason]")).to_have_text("disk swap")
    expect(matrix_viewer.locator(f"#matrix-col-{node_id}")).to_have_attribute(
        "data-maintenance", "true", timeout=3000)
    seen_after = time.monotonic() - toggled
    print(f"maintenance visible to three viewers {seen_after:.2f}s after the toggle returned")
    expect(row_of(fleet_viewer, "edge-0001").get_by_test_id("maintenance-badge")).to_have_count(0)
    shot(fleet_viewer, "viewer-fleet-badge")
    shot(node_viewer, "viewer-node-banner")
    shot(matrix_viewer, "viewer-matrix-dimmed")

    admin.goto(f"{stack.url}/nodes/{node_id}")
    admin.get_by_test_id("maintenance-toggle").first.click()
    admin.get_by_test_id("maintenance-dialog").first.locator("[data-maintenance-submit]").click()
    expect(badge).to_have_count(0, timeout=3000)
    expect(banner).to_have_count(0, timeout=3000)
    expect(matrix_viewer.locator(f"#matrix-col-{node_id}")).not_to_have_attribute(
        "data-maintenance", "true", timeout=3000)
    expect(row_of(fleet_viewer, "edge-0002").locator(".badge-healthy")).to_be_visible()
    for page in (fleet_viewer, node_viewer, matrix_viewer):
        assert page.evaluate("window.notReloaded") is True
    shot(fleet_viewer, "viewer-fleet-after")


def set_maintenance_directly(stack, node_id, enabled):
    """Change the node while the server is down, through the service, as another process would."""
    from vectorflow.extensions import db
    from vectorflow.models import VectorNode
    from vectorflow.services.maintenance import set_maintenance

    app = stack.app()
    with app.app_context():
        set_maintenance(db.session.get(VectorNode, node_id), enabled, reason="while you were away",
                        force=True)
        db.session.commit()
        db.engine.dispose()


def test_a_page_reconnects_after_the_server_restarts_and_shows_what_changed(login, stack, shot):
    page = login("VIEWER")
    node_id = row_of(page, "edge-0003").get_attribute("data-node-id")
    watch(page)

    stack.server.stop(graceful=False)
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "reconnecting",
                                                              timeout=10000)
    shot(page, "reconnecting")
    try:
        set_maintenance_directly(stack, node_id, True)
        stack.server.start()
        expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live",
                                                                  timeout=30000)
        expect(row_of(page, "edge-0003").get_by_test_id("maintenance-badge")).to_be_visible(
            timeout=10000)
        assert page.evaluate("window.notReloaded") is True
        shot(page, "caught-up")
    finally:
        if not stack.server.alive():
            stack.server.start()
        set_maintenance_directly(stack, node_id, False)
    expect(row_of(page, "edge-0003").get_by_test_id("maintenance-badge")).to_have_count(0,
                                                                                      timeout=10000)
    wait_for(lambda: node_state(stack, node_id)[0] is False, 5, "edge-0003 out of maintenance")
