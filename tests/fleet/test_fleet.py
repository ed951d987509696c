"""The fleet table: scope, effective status, filters, pagination and single-row rendering."""
import re
from datetime import timedelta

import pytest

from vectorflow.models import NodeStatus, Role, utcnow

from .. import factories
from ..roles import KINDS, call, check


def row_ids(page: str) -> list[str]:
    return re.findall(r'<tr id="node-row-([0-9a-f]+)"', page)


def row_names(page: str) -> list[str]:
    """The node names the table shows, top to bottom."""
    return re.findall(r'<td class="node-name"><a [^>]*>([^<]*)</a>', page)


@pytest.fixture
def node(db, world):
    node, _ = factories.make_node(world.env, "web-1", vector_version="0.54.0", agent_version="2.0.0")
    db.session.commit()
    return node


@pytest.mark.parametrize("kind", KINDS)
def test_the_fleet_page_needs_a_login_and_shows_every_role_its_nodes(client, login_as, node, kind):
    response = call(client, login_as, kind, "GET", "/")
    check(response, kind, Role.VIEWER, 200, scoped=False)


@pytest.mark.parametrize("kind", KINDS)
def test_a_single_row_follows_the_role_table(client, login_as, node, kind):
    response = call(client, login_as, kind, "GET", f"/fleet/rows/{node.id}")
    check(response, kind, Role.VIEWER, 200)


def test_a_row_shows_the_node_details_and_has_hooks_for_live_updates(client, login_as, node):
    login_as("VIEWER")
    html = client.get(f"/fleet/rows/{node.id}").get_data(as_text=True)
    assert html.strip().startswith(f'<tr id="node-row-{node.id}" data-node-id="{node.id}"')
    for text in ("web-1", "web-1.example.internal", "production", "0.54.0", "2.0.0", "Healthy", "Just now"):
        assert text in html
    assert 'data-slot="row-actions"' in html
    page = client.get("/").get_data(as_text=True)
    assert html.strip() in page  # the table renders the very same partial


def test_users_see_only_nodes_of_their_teams_and_superadmins_see_all(client, login_as, world, db):
    mine, _ = factories.make_node(world.env, "mine")
    theirs, _ = factories.make_node(world.other_env, "theirs")
    db.session.commit()
    login_as("VIEWER")
    assert row_ids(client.get("/").get_data(as_text=True)) == [mine.id]
    login_as("superadmin")
    assert set(row_ids(client.get("/").get_data(as_text=True))) == {mine.id, theirs.id}


@pytest.mark.parametrize("stored, heartbeat_age, shown", [
    (NodeStatus.HEALTHY, timedelta(seconds=5), "Healthy"),
    (NodeStatus.DEGRADED, timedelta(seconds=5), "Degraded"),
    (NodeStatus.HEALTHY, timedelta(minutes=5), "Unreachable"),  # silent for > 3 x 15 s
    (NodeStatus.DEGRADED, timedelta(minutes=5), "Unreachable"),
    (NodeStatus.UNREACHABLE, timedelta(seconds=5), "Unreachable"),
    (NodeStatus.UNKNOWN, None, "Unknown"),
])
def test_the_badge_shows_the_effective_status_before_any_sweep_runs(
        client, login_as, world, db, stored, heartbeat_age, shown):
    beat = utcnow() - heartbeat_age if heartbeat_age else None
    node, _ = factories.make_node(world.env, "n", status=stored, last_heartbeat=beat, last_seen=beat)
    db.session.commit()
    login_as("VIEWER")
    html = client.get(f"/fleet/rows/{node.id}").get_data(as_text=True)
    badge = re.search(r'<span class="badge badge-(\w+)" data-status="(\w+)">(\w+)</span>', html)
    assert badge.group(3) == shown
    assert badge.group(1) == shown.lower()


def test_last_seen_reads_like_a_person_would_say_it(client, login_as, world, db):
    node, _ = factories.make_node(world.env, "n", last_seen=utcnow() - timedelta(minutes=5, seconds=3))
    db.session.commit()
    login_as("VIEWER")
    assert ">5m ago</time>" in client.get(f"/fleet/rows/{node.id}").get_data(as_text=True)


@pytest.fixture
def mixed(db, world):
    staging = factories.make_environment(world.team, "staging")
    old = utcnow() - timedelta(hours=1)
    nodes = {
        "api-1": factories.make_node(world.env, "api-1")[0],
        "api-2": factories.make_node(world.env, "api-2", status=NodeStatus.DEGRADED)[0],
        "db-1": factories.make_node(world.env, "db-1", host="10.0.0.5", last_heartbeat=old)[0],
        "edge-1": factories.make_node(staging, "edge-1", status=NodeStatus.UNREACHABLE)[0],
        "new-1": factories.make_node(staging, "new-1", status=NodeStatus.UNKNOWN, last_heartbeat=None)[0],
    }
    db.session.commit()
    return staging, nodes


@pytest.mark.parametrize("query, expected", [
    ("", ["api-1", "api-2", "db-1", "edge-1", "new-1"]),
    ("?status=HEALTHY", ["api-1"]),
    ("?status=degraded", ["api-2"]),
    ("?status=UNREACHABLE", ["db-1", "edge-1"]),
    ("?status=UNKNOWN", ["new-1"]),
    ("?q=API", ["api-1", "api-2"]),
    ("?q=10.0.0", ["db-1"]),
    ("?q=%25", []),  # a literal percent sign is not a wildcard
    ("?status=UNREACHABLE&q=edge", ["edge-1"]),
])
def test_filters_narrow_the_table(client, login_as, mixed, query, expected):
    login_as("VIEWER")
    page = client.get("/" + query).get_data(as_text=True)
    names = re.findall(r'<td class="node-name"><a [^>]*>([^<]+)</a>', page)
    assert sorted(names) == expected


def test_the_environment_filter_and_status_counts_match_the_url(client, login_as, mixed):
    staging, _ = mixed
    login_as("VIEWER")
    page = client.get(f"/?env={staging.id}").get_data(as_text=True)
    names = re.findall(r'<td class="node-name"><a [^>]*>([^<]+)</a>', page)
    assert sorted(names) == ["edge-1", "new-1"]
    assert f'<option value="{staging.id}" selected>' in page
    assert re.search(r'data-status="UNREACHABLE" href="[^"]*">Unreachable 1<', page)
    assert re.search(r'data-status="UNKNOWN" href="[^"]*">Unknown 1<', page)


def test_an_environment_of_another_team_is_refused_as_a_filter_without_revealing_it(
        client, login_as, world, mixed):
    login_as("VIEWER")
    response = client.get(f"/?env={world.other_env.id}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "unknown environment" in page and "payments-prod" not in page
    assert len(row_ids(page)) == 5


def test_large_fleets_are_paginated_a_hundred_rows_at_a_time(client, login_as, world, db):
    for i in range(230):
        factories.make_node(world.env, f"node-{i:03d}")
    db.session.commit()
    login_as("VIEWER")
    first = client.get("/").get_data(as_text=True)
    assert row_names(first) == [f"node-{i:03d}" for i in range(100)]
    assert "1–100 of 230 nodes" in first
    third = client.get("/?page=3&q=node").get_data(as_text=True)
    assert row_names(third) == [f"node-{i:03d}" for i in range(200, 230)]
    assert "201–230 of 230 nodes" in third
    assert 'href="/?page=2&amp;q=node"' in third  # the previous link keeps the filters
    beyond = client.get("/?page=99").get_data(as_text=True)
    assert "Page 3 of 3" in beyond


def test_an_unknown_node_row_is_not_found(client, login_as, world):
    login_as("VIEWER")
    assert client.get("/fleet/rows/doesnotexist").status_code == 404
