"""The pages that carry charts load the vendored chart library and point at their series."""
from __future__ import annotations

import pytest

from vectorflow.extensions import db

from .. import factories
from ..events.test_vendor import pinned


@pytest.fixture
def charted(world):
    node, _ = factories.make_node(world.env, "web-1")
    pipeline = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    return node, pipeline


def chart_assets() -> list[str]:
    return [name for name, _, _ in pinned() if name.startswith("uplot-")]


def test_the_node_page_has_charts_of_its_series_with_a_range_picker(client, login_as, charted):
    node, _ = charted
    login_as("VIEWER")
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    assert f'data-series-url="/api/v1/nodes/{node.id}/series"' in page
    for choice in ("1h", "6h", "24h"):
        assert f'data-range-choice="{choice}"' in page
    for panel in ("events", "errors", "host", "network"):
        assert f'data-panel="{panel}"' in page
    assert 'hx-trigger="sse:samples.closed"' in page and "sse-connect=" in page
    for name in chart_assets():
        assert f"/static/vendor/{name}" in page
        assert client.get(f"/static/vendor/{name}").status_code == 200
    assert client.get("/static/js/charts.js").status_code == 200


def test_the_pipeline_page_charts_its_nodes_summed_and_follows_its_environment(
        client, login_as, charted, world):
    _, pipeline = charted
    login_as("VIEWER")
    page = client.get(f"/pipelines/{pipeline.id}").get_data(as_text=True)
    assert f'data-series-url="/api/v1/pipelines/{pipeline.id}/series"' in page
    assert f"environmentId={world.env.id}" in page  # its stream carries samples.closed
    assert 'data-panel="events"' in page and 'data-panel="host"' not in page


def test_each_fleet_row_has_a_sparkline_cell_and_pages_without_charts_skip_the_library(
        client, login_as, charted):
    node, _ = charted
    login_as("VIEWER")
    page = client.get("/").get_data(as_text=True)
    row = page[page.index(f'id="node-row-{node.id}"'):]
    assert f'data-sparkline="{node.id}"' in row[:row.index("</tr>")]
    assert "/static/js/sparklines.js" in page
    assert not any(name in page for name in chart_assets())
