"""Charts in a real browser: samples from simulated agents, drawn, and moving as heartbeats
arrive (the stack's buckets are 3 s long: VECTORFLOW_SAMPLE_BUCKET_SECONDS in conftest)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

# Heartbeats come every 15 s (the server's default interval); a node's first closed buckets
# need two or three of them after the stack started.
SAMPLES_TIMEOUT = 90_000
MANY = re.compile(r"^([2-9]|[1-9][0-9]+)$")


def first_node(page) -> str:
    row = page.locator("#fleet-table tbody tr[data-node-id]").first
    return row.get_attribute("data-node-id")


def test_node_charts_draw_real_samples_and_move_when_a_heartbeat_arrives(login, stack, shot):
    page = login("VIEWER")
    node_id = first_node(page)
    # The fleet row's sparkline draws the same samples.
    expect(page.locator(f'#node-row-{node_id} [data-sparkline="{node_id}"] svg polyline')
           ).to_have_count(1, timeout=SAMPLES_TIMEOUT)
    page.goto(f"{stack.url}/nodes/{node_id}")
    charts = page.locator("#node-charts")
    expect(charts).to_have_attribute("data-points", MANY, timeout=SAMPLES_TIMEOUT)
    expect(charts.locator("[data-panel] canvas")).to_have_count(4)
    expect(charts.locator("[data-charts-empty]")).to_be_hidden()
    body = page.evaluate("""async (url) => (await fetch(url)).json()""",
                         f"/api/v1/nodes/{node_id}/series")
    assert any(v for v in body["eventsIn"]), body  # the simulated pipelines move events
    assert any(v for v in body["cpu"]) and any(v for v in body["memory"]), body
    # The legend of the events chart shows the newest point's rate, not a dash.
    page.evaluate("window.notReloaded = true")
    last = charts.get_attribute("data-last-t")
    shot(page, "node-charts")
    # The next heartbeat closes a bucket: its point arrives over the event stream.
    expect(charts).not_to_have_attribute("data-last-t", last, timeout=SAMPLES_TIMEOUT)
    assert int(charts.get_attribute("data-last-t")) > int(last)
    assert page.evaluate("window.notReloaded") is True
    shot(page, "node-charts-moved")


def test_the_range_picker_and_the_pipeline_charts(login, stack, shot):
    page = login("VIEWER")
    node_id = first_node(page)
    page.goto(f"{stack.url}/nodes/{node_id}")
    charts = page.locator("#node-charts")
    expect(charts).to_have_attribute("data-points", MANY, timeout=SAMPLES_TIMEOUT)
    page.get_by_role("button", name="6h").click()
    expect(charts).to_have_attribute("data-range", "6h")
    expect(page.get_by_role("button", name="6h")).to_have_attribute("aria-pressed", "true")
    expect(charts).to_have_attribute("data-points", MANY)
    # A pipeline's page sums its nodes.
    page.locator("#node-pipelines a").first.click()
    pipeline_charts = page.locator("#pipeline-charts")
    expect(pipeline_charts).to_have_attribute("data-points", MANY, timeout=SAMPLES_TIMEOUT)
    expect(pipeline_charts.locator("[data-panel] canvas")).to_have_count(2)
    shot(page, "pipeline-charts")
