"""Pages that update live: one stream per page, resuming at the data the page shows."""
from __future__ import annotations

import re

import pytest

from vectorflow.extensions import db

from .. import factories
from .conftest import publish


def stream_url(page: str) -> str:
    match = re.search(r'<body[^>]* sse-connect="([^"]+)"', page)
    assert match, "the page opens no event stream"
    return match.group(1).replace("&amp;", "&")


@pytest.fixture
def node(world):
    created, _ = factories.make_node(world.env, "edge-1")
    db.session.commit()
    return created


def test_the_fleet_page_streams_from_the_newest_event_it_reflects(client, login_as, world,
                                                                  node):
    login_as("VIEWER")
    before = publish("node.updated", team_id=world.team.id, environment_id=world.env.id,
                     node_id=node.id)
    page = client.get("/").get_data(as_text=True)
    assert stream_url(page) == f"/events?lastEventId={before.id}"
    assert page.count('hx-ext="sse"') == 1  # one EventSource per tab


def test_a_fleet_row_refetches_itself_on_its_nodes_events(client, login_as, node):
    login_as("VIEWER")
    page = client.get("/").get_data(as_text=True)
    row = re.search(rf'<tr id="node-row-{node.id}"[^>]*>', page).group(0)
    # The row re-fetches itself and remembers the page it sits on (its forms return there).
    assert f'hx-get="/fleet/rows/{node.id}?back=/"' in row
    assert f'hx-trigger="sse:node-{node.id}"' in row
    fragment = client.get(f"/fleet/rows/{node.id}").get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<tr id="node-row-{node.id}"')


def test_the_fleet_page_filtered_by_environment_streams_only_that_environment(
        client, login_as, world, node):
    login_as("VIEWER")
    page = client.get(f"/?env={world.env.id}").get_data(as_text=True)
    assert f"environmentId={world.env.id}" in stream_url(page)


def test_the_node_page_streams_its_node_and_refreshes_its_parts(client, login_as, node):
    login_as("VIEWER")
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    assert f"nodeId={node.id}" in stream_url(page)
    refresher = re.search(r"<div hidden data-live-refresh[^>]*>", page).group(0)
    assert f"sse:node-{node.id}" in refresher and "sse:resync" in refresher
    for part in ("#node-header", "#node-banner", "#node-details", "#node-pipelines"):
        assert part in refresher
        assert f'id="{part[1:]}"' in page  # the part exists to be replaced


def test_the_matrix_streams_its_environment(client, login_as, world, node):
    factories.make_pipeline(world.env, "logs")
    db.session.commit()
    login_as("VIEWER")
    page = client.get(f"/matrix/{world.env.id}").get_data(as_text=True)
    assert f"environmentId={world.env.id}" in stream_url(page)
    refresher = re.search(r"<div hidden data-live-refresh[^>]*>", page).group(0)
    assert 'hx-select-oob="#matrix"' in refresher and "sse:node.status_changed" in refresher
