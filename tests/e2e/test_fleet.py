"""Signing in and seeing the fleet, in a real browser."""
from playwright.sync_api import expect


def test_an_admin_signs_in_and_sees_every_enrolled_node(login, stack, shot):
    page = login("ADMIN")
    rows = page.locator("#fleet-table tbody tr[data-node-id]")
    expect(rows).to_have_count(3)
    for name in ("edge-0001", "edge-0002", "edge-0003"):
        expect(page.locator("#fleet-table")).to_contain_text(name)
    expect(page.locator("#fleet-table .badge-healthy")).to_have_count(3)
    shot(page, "fleet")


def test_a_wrong_password_keeps_the_user_out(browser, stack, shot):
    context = browser.new_context()
    page = context.new_page()
    page.goto(stack.url + "/login")
    page.fill("input[name=email]", "admin@example.com")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator(".field-error")).to_contain_text("Email or password is wrong")
    shot(page, "login-refused")
    context.close()
