"""Maintenance windows as an admin plans them: a recurring window, previewed, then saved; the
server's sweep opens it and the node's page names the window."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from .conftest import wait_for
from .test_maintenance import node_id_of, node_state, running_on

ZONE = "Europe/Berlin"


def test_an_admin_previews_and_saves_a_recurring_window_and_the_node_banner_names_it(
        login, stack, shot):
    page = login("ADMIN")
    node_id = node_id_of(page, "edge-0003")
    page.goto(f"{stack.url}/environments/{stack.env_id}/maintenance-windows")
    page.get_by_test_id("new-window").click()

    # Began a minute ago, today, in Berlin time: the first occurrence is going on now.
    start = (datetime.now(timezone.utc) - timedelta(minutes=1)).astimezone(ZoneInfo(ZONE))
    form = page.locator("#window-form")
    form.locator("input[name=name]").fill("nightly-edge-3")
    form.locator("input[name=timezone]").fill(ZONE)
    form.locator("input[name=target][value=nodes]").check()
    form.get_by_label("edge-0003").check()
    form.locator("input[name=start]").fill(start.strftime("%Y-%m-%dT%H:%M"))
    form.locator("input[name=duration]").fill("30")
    form.locator("input[name=rrule]").fill("FREQ=DAILY")
    form.locator("textarea[name=reason]").fill("nightly restart of edge-3")
    page.get_by_test_id("window-preview-button").click()

    preview = page.get_by_test_id("window-preview")
    expect(preview).to_be_visible()
    occurrences = preview.get_by_test_id("window-occurrences").locator("tbody tr")
    expect(occurrences).to_have_count(5)
    expect(occurrences.first).to_contain_text(start.strftime("%Y-%m-%d %H:%M"))
    tomorrow = start + timedelta(days=1)
    expect(occurrences.nth(1)).to_contain_text(tomorrow.strftime("%Y-%m-%d"))
    expect(preview.get_by_test_id("window-would-take")).to_contain_text("edge-0003")
    expect(preview.get_by_test_id("window-would-take")).not_to_contain_text("edge-0001")
    shot(page, "preview")
    assert node_state(stack, node_id)[0] is False  # a preview saves nothing

    page.get_by_test_id("window-save-button").click()
    expect(page.locator(".flash-success")).to_contain_text("Maintenance window nightly-edge-3 saved.")
    shot(page, "saved")

    # The server's sweep (every second here) opens it; the agent stops its pipelines.
    wait_for(lambda: node_state(stack, node_id)[0] is True, 15, "the window to open")
    page.goto(f"{stack.url}/nodes/{node_id}")
    banner = page.get_by_test_id("maintenance-banner")
    expect(banner).to_be_visible()
    window = banner.locator("[data-field=window]")
    expect(window).to_contain_text("Maintenance window nightly-edge-3")
    expect(banner.locator("[data-field=reason]")).to_have_text("nightly restart of edge-3")
    expect(banner.locator("[data-field=by]")).to_have_text("system")
    wait_for(lambda: running_on(stack, "edge-0003") == 0, 15, "edge-0003 stops its pipelines")
    expect(page.get_by_test_id("maintenance-history")).to_contain_text("nightly-edge-3")
    shot(page, "node-banner")

    # The window's page shows the run; deleting the window lets the node go at once.
    window.get_by_role("link", name="nightly-edge-3").click()
    expect(page.get_by_test_id("window-state")).to_contain_text("open until")
    expect(page.get_by_test_id("window-runs")).to_contain_text("edge-0003")
    shot(page, "window-page")
    page.get_by_role("button", name="Delete").click()
    page.locator("#delete-window button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("deleted")
    wait_for(lambda: node_state(stack, node_id)[0] is False, 15, "edge-0003 out of maintenance")
    wait_for(lambda: running_on(stack, "edge-0003") == 2, 15, "edge-0003 runs its pipelines again")
