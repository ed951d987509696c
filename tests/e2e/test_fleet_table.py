"""The fleet table in a real browser: live counts and rows under a filter, label search and
selector, sorting, bulk maintenance and prune with previews, phones, and button contrast."""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import expect

from tests import factories

ROWS = "#fleet-table tbody tr[data-node-id]"


def api(stack, token, method, path, **kwargs):
    response = httpx.request(method, f"{stack.url}/api/v1{path}", timeout=10,
                             headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def node_ids(stack, token) -> dict[str, str]:
    return {n["name"]: n["id"] for n in api(stack, token, "GET", "/nodes")["items"]}


def chip(page, status):
    return page.locator(f'#status-counts [data-status="{status}"]')


def test_a_filtered_table_and_its_chips_agree_while_nodes_change_state(login, stack, admin_token, shot):
    ids = node_ids(stack, admin_token)
    page = login("VIEWER", "/?status=HEALTHY")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
    expect(page.locator(ROWS)).to_have_count(3)
    expect(chip(page, "HEALTHY")).to_have_text("Healthy 3")
    page.evaluate("window.notReloaded = true")
    try:
        api(stack, admin_token, "POST", f"/nodes/{ids['edge-0002']}/maintenance",
            json={"enabled": True, "reason": "e2e"})
        # Rows and chips re-render together: never 3 rows under "Healthy 2".
        expect(chip(page, "HEALTHY")).to_have_text("Healthy 2")
        expect(chip(page, "MAINTENANCE")).to_have_text("Maintenance 1")
        expect(page.locator(ROWS)).to_have_count(2)
        expect(page.locator(f"#node-row-{ids['edge-0002']}")).to_have_count(0)
        shot(page, "healthy-filter-after-enter")
    finally:
        api(stack, admin_token, "POST", f"/nodes/{ids['edge-0002']}/maintenance",
            json={"enabled": False})
    expect(chip(page, "HEALTHY")).to_have_text("Healthy 3")
    expect(page.locator(ROWS)).to_have_count(3)
    expect(chip(page, "MAINTENANCE")).to_have_text("Maintenance 0")
    assert page.evaluate("window.notReloaded") is True


def test_label_search_selector_sorting_and_the_maintenance_filter(login, stack, admin_token, shot):
    page = login("VIEWER")
    expect(page.locator(f"{ROWS} .label-chip", has_text="role=ingest")).to_have_count(2)
    page.fill("input[name=q]", "role=ingest zone=us-east-1a")
    page.press("input[name=q]", "Enter")
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(ROWS).first).to_contain_text("edge-0002")
    page.goto(stack.url + "/")
    page.fill("input[name=selector]", "role=ingest")
    page.press("input[name=selector]", "Enter")
    expect(page.locator(ROWS)).to_have_count(2)
    shot(page, "selector")
    # A label chip is a link to the table filtered by that label.
    page.goto(stack.url + "/")
    page.locator(".label-chip", has_text="role=aggregate").first.click()
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator("input[name=selector]")).to_have_value("role=aggregate")
    # Sorting: Name descending, by clicking its header twice.
    page.goto(stack.url + "/")
    page.click('a.sort-link[data-sort="name"]')
    page.wait_for_url("**sort=-name")
    expect(page.locator(f"{ROWS} .node-name")).to_have_text(["edge-0003", "edge-0002", "edge-0001"])
    page.click('a.sort-link[data-sort="name"]')
    expect(page.locator(f"{ROWS} .node-name")).to_have_text(["edge-0001", "edge-0002", "edge-0003"])
    # The maintenance filter, and an unknown status named on the page.
    page.select_option("select[name=status]", "MAINTENANCE")
    page.wait_for_url("**status=MAINTENANCE**")
    shot(page, "maintenance-filter")
    expect(page.locator(".empty-row")).to_contain_text("No nodes match these filters")
    page.goto(stack.url + "/?status=bogus")
    expect(page.locator("#filter-problems")).to_contain_text("unknown status 'bogus'")
    shot(page, "unknown-status")


def test_bulk_maintenance_previews_the_dry_run_then_applies(login, stack, admin_token, shot):
    page = login("ADMIN")
    page.check('input[data-testid="select-node"][aria-label="Select edge-0001"]')
    page.check('input[data-testid="select-node"][aria-label="Select edge-0003"]')
    page.click('[data-testid="bulk-enter"]')
    preview = page.locator('[data-testid="bulk-preview"]')
    expect(preview).to_contain_text("Enter maintenance: 2 nodes?")
    expect(page.locator('[data-testid="bulk-changes"] li')).to_have_count(2)
    expect(preview).to_contain_text("nothing has changed yet")
    shot(page, "bulk-preview")
    ids = node_ids(stack, admin_token)
    assert not any(api(stack, admin_token, "GET", f"/nodes/{ids[n]}")["maintenanceMode"]
                   for n in ("edge-0001", "edge-0003"))
    page.click('[data-until-preset="60"]')
    assert page.input_value("[data-until-local]")
    page.fill("textarea[name=reason]", "rack move")
    page.click('[data-testid="bulk-confirm"]')
    expect(page.locator(".flash-success")).to_contain_text("2 nodes entered maintenance")
    expect(chip(page, "MAINTENANCE")).to_have_text("Maintenance 2")
    node = api(stack, admin_token, "GET", f"/nodes/{ids['edge-0001']}")
    assert node["maintenanceReason"] == "rack move" and node["maintenanceUntil"]
    shot(page, "bulk-applied")
    # Leave again: every node matching the maintenance filter.
    page.goto(stack.url + "/?status=MAINTENANCE")
    page.check('[data-testid="scope-filter"]')
    page.click('[data-testid="bulk-leave"]')
    expect(page.locator('[data-testid="bulk-changes"] li')).to_have_count(2)
    page.click('[data-testid="bulk-confirm"]')
    expect(page.locator(".flash-success")).to_contain_text("2 nodes left maintenance")
    expect(chip(page, "MAINTENANCE")).to_have_text("Maintenance 0")


def test_prune_previews_the_unseen_nodes_and_deletes_them(login, stack, shot):
    from vectorflow.extensions import db
    from vectorflow.models import Environment, utcnow

    app = stack.app()
    with app.app_context():
        env = db.session.get(Environment, stack.env_id)
        for name in ("dead-1", "dead-2"):
            factories.make_node(env, name, last_seen=utcnow() - timedelta(days=12),
                                last_heartbeat=utcnow() - timedelta(days=12))
        db.session.commit()
        db.engine.dispose()
    page = login("ADMIN", "/?q=dead")
    expect(page.locator(ROWS)).to_have_count(2)
    page.check('[data-testid="scope-filter"]')
    page.fill("input[name=days]", "10")
    page.click('[data-testid="bulk-prune"]')
    expect(page.locator('[data-testid="prune-list"] tbody tr')).to_have_count(2)
    shot(page, "prune-preview")
    page.click('[data-testid="prune-confirm"]')
    expect(page.locator(".flash-success")).to_contain_text("Pruned 2 nodes")
    expect(page.locator(".empty-row")).to_be_visible()


@pytest.mark.parametrize("path", ["/", "node", "/matrix/", "/audit/"])
def test_no_sideways_scroll_on_a_phone(browser, login, stack, admin_token, shot, path):
    if path == "node":
        path = f"/nodes/{node_ids(stack, admin_token)['edge-0001']}"
    page = login("ADMIN")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(stack.url + path)
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    shot(page, "phone")
    assert width <= 390, f"{path} scrolls sideways to {width}px at 390px"
    # The top bar spans the whole page, so its links never sit white on white.
    bar = page.evaluate("document.querySelector('.topbar').getBoundingClientRect().width")
    assert bar >= width - 1


def test_the_audit_page_fits_a_laptop_screen_with_checksums_in_it(login, stack, shot):
    page = login("ADMIN", "/audit/")
    page.set_viewport_size({"width": 1440, "height": 900})
    expect(page.locator("#audit-table")).to_contain_text("configSha256")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    when = page.locator("#audit-table td.audit-when").first
    assert when.evaluate("el => el.getClientRects().length && el.firstElementChild.getClientRects().length") == 1
    shot(page, "audit-1440")


def test_the_maintenance_buttons_keep_readable_contrast_on_hover(login, stack, admin_token):
    page = login("ADMIN")
    toggle = page.locator('[data-testid="maintenance-toggle"]').first
    toggle.hover()
    colour = toggle.evaluate("el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]")
    assert colour[0] != colour[1] and colour[0] != "rgb(255, 255, 255)", colour
    ids = node_ids(stack, admin_token)
    api(stack, admin_token, "POST", f"/nodes/{ids['edge-0001']}/maintenance", json={"enabled": True})
    try:
        exit_button = page.locator(f'#node-row-{ids["edge-0001"]} [data-testid="maintenance-toggle"]')
        expect(exit_button).to_have_attribute("data-maintenance-state", "on")
        exit_button.hover()
        fg, bg = exit_button.evaluate(
            "el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]")
        assert fg == "rgb(255, 255, 255)" and bg not in ("rgb(243, 244, 246)", "rgb(255, 255, 255)"), (fg, bg)
    finally:
        api(stack, admin_token, "POST", f"/nodes/{ids['edge-0001']}/maintenance", json={"enabled": False})
