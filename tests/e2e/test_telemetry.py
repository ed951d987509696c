"""Agent telemetry in a real browser: a simulated agent's log lines appear live in the node
page's tail, a sample request comes back with events and fields, a tap shows events and
stops (the agent is told)."""
from __future__ import annotations

import sqlalchemy as sa

from .conftest import wait_for

LINES = "[data-testid=log-tail] .log-line"


def pipeline_id(stack, name: str) -> str:
    from vectorflow.extensions import db
    from vectorflow.models import Pipeline

    app = stack.app()
    with app.app_context():
        found = db.session.scalar(sa.select(Pipeline.id).where(Pipeline.name == name))
        db.engine.dispose()
        return found


def test_a_simulated_agents_log_lines_appear_live_in_the_node_pages_tail(login, stack, shot):
    agent = stack.fleet_thread.fleet.agents[0]
    page = login("VIEWER", f"/nodes/{agent.node_id}")
    page.wait_for_selector("[data-testid=log-tail] [data-tail-status][data-state=live]")
    shown = page.locator(LINES).count()
    shot(page, "tail-live")
    # No reload: the agent posts every second and the tail appends what it sends.
    page.locator(LINES).nth(shown).wait_for(timeout=20_000)
    assert "vector::" in page.locator(LINES).last.inner_text()
    shot(page, "tail-grew")

    page.select_option("[data-testid=log-level]", "ERROR")  # the panel reloads, filtered
    page.wait_for_selector("[data-testid=log-tail][data-stream-url*='level=ERROR'] "
                           "[data-tail-status][data-state=live]")
    levels = page.locator(f"{LINES} .log-level").all_inner_texts()
    assert set(levels) <= {"ERROR"}


def test_a_sample_request_returns_events_and_their_fields(login, stack, shot):
    pid = pipeline_id(stack, "ingest-logs")
    page = login("EDITOR", f"/pipelines/{pid}")
    page.wait_for_selector("[data-testid=sample-request]")
    page.select_option("[data-testid=sample-component]", "demo")
    page.click("[data-testid=sample-request]")
    page.wait_for_selector("[data-testid=sample-status][data-status=DONE]", timeout=20_000)
    fields = page.locator("[data-testid=sample-fields]").inner_text()
    assert "message" in fields and "string" in fields
    assert '"message"' in page.locator("[data-testid=sample-events]").first.inner_text()
    shot(page, "sample")


def test_a_tap_shows_events_live_and_stops(login, stack, shot):
    pid = pipeline_id(stack, "metrics-forward")
    agent = stack.fleet_thread.fleet.agents[1]
    page = login("EDITOR", f"/pipelines/{pid}")
    page.wait_for_selector("[data-testid=tap-start]")
    page.select_option("[data-testid=tap-node]", agent.node_id)
    page.select_option("[data-testid=tap-component]", "parse")
    page.click("[data-testid=tap-start]")
    page.wait_for_selector("[data-tap-events] li", timeout=20_000)
    wait_for(lambda: len(agent.telemetry.taps) == 1, timeout=10, message="the agent taps")
    assert '"component":"parse"' in page.locator("[data-tap-events] li").first.inner_text()
    shot(page, "tap-running")

    page.click("[data-testid=tap-stop]")
    page.wait_for_selector("[data-testid=tap-stopped]")
    assert "stopped_by_user" in page.locator("[data-testid=tap-stopped]").inner_text()
    wait_for(lambda: not agent.telemetry.taps, timeout=10, message="the agent stops tapping")
    shot(page, "tap-stopped")
