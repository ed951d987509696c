"""The fleet table for operators: maintenance as its own status, labels, search terms, label
selector, sorting, unknown filter values answered, the overview strip, "running 3/3", and the
bulk actions (maintenance, prune) previewed before they change anything."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from vectorflow.models import AuditLog, NodePipelineStatus, NodeStatus, ProcessStatus, Role, VectorNode, utcnow

from .. import factories
from ..roles import KINDS, call, check


def names(page: str) -> list[str]:
    return re.findall(r'<td class="node-name"><a [^>]*>([^<]+)</a>', page)


def chip(page: str, status: str) -> int:
    return int(re.search(rf'data-status="{status}" href="[^"]*">\w+ (\d+)<', page).group(1))


def figure(page: str, name: str) -> str:
    return re.search(rf'data-figure="{name}".*?<span class="figure-value[^"]*">([^<]+)</span>',
                     page, re.S).group(1)


def report(node, pipeline, version=1, status=ProcessStatus.RUNNING):
    from vectorflow.extensions import db

    db.session.add(NodePipelineStatus(node_id=node.id, pipeline_id=pipeline.id, version=version,
                                      status=status))


@pytest.fixture
def fleet(db, world):
    """Five nodes of production: labels, one in maintenance, one drifted, one crashed."""
    logs = factories.make_pipeline(world.env, "logs", versions=2)
    metrics = factories.make_pipeline(world.env, "metrics")
    make = factories.make_node
    nodes = {
        "edge-1": make(world.env, "edge-1", labels={"role": "edge", "zone": "eu"})[0],
        "edge-2": make(world.env, "edge-2", labels={"role": "edge", "zone": "us"})[0],
        "web-1": make(world.env, "web-1", labels={"role": "web", "zone": "eu"},
                      host="10.1.0.9", status=NodeStatus.DEGRADED)[0],
        "db-1": make(world.env, "db-1", labels={"role": "db"}, maintenance_mode=True,
                     maintenance_mode_at=utcnow())[0],
        "old-1": make(world.env, "old-1", status=NodeStatus.UNREACHABLE,
                      last_seen=utcnow() - timedelta(days=40),
                      last_heartbeat=utcnow() - timedelta(days=40))[0],
    }
    for name in ("edge-1", "edge-2", "web-1"):
        report(nodes[name], metrics)
    report(nodes["edge-1"], logs, version=2)
    report(nodes["edge-2"], logs, version=1)  # drift: v1 where v2 is deployed
    report(nodes["web-1"], logs, version=2, status=ProcessStatus.CRASHED)
    db.session.commit()
    return nodes


@pytest.mark.parametrize("query, expected", [
    ("?status=MAINTENANCE", ["db-1"]),
    ("?status=maintenance", ["db-1"]),
    ("?status=HEALTHY", ["edge-1", "edge-2"]),  # db-1 is healthy underneath, but in maintenance
    ("?q=role%3Dedge", ["edge-1", "edge-2"]),
    ("?q=role%3Dedge+zone%3Deu", ["edge-1"]),
    ("?q=edge+-2", ["edge-2"]),
    ("?q=10.1.0", ["web-1"]),
    ("?selector=role%3Dedge", ["edge-1", "edge-2"]),
    ("?selector=zone%3Deu,role%3Dweb", ["web-1"]),
    ("?selector=role%3Dnone", []),
    ("?drift=1", ["edge-2"]),
    ("?errors=1", ["web-1"]),
    ("?selector=zone%3Deu&status=DEGRADED", ["web-1"]),
])
def test_filters_select_by_maintenance_labels_terms_drift_and_errors(client, login_as, fleet,
                                                                       query, expected):
    login_as("VIEWER")
    response = client.get("/" + query)
    assert response.status_code == 200
    assert sorted(names(response.get_data(as_text=True))) == expected


@pytest.mark.parametrize("query, field, message", [
    ("?status=bogus", "status", "unknown status &#39;bogus&#39;"),
    ("?selector=role", "selector", "&#39;role&#39; is not key=value"),
    ("?q=" + "+".join("abcdefghijk"), "q", "at most 10 terms"),
    ("?sort=colour", "sort", "cannot sort by &#39;colour&#39;"),
    ("?drift=maybe", "drift", "drift must be 1 or 0"),
    ("?env=nope", "env", "unknown environment"),
])
def test_an_unknown_filter_value_is_named_on_the_page_not_ignored(client, login_as, fleet,
                                                                  query, field, message):
    login_as("VIEWER")
    response = client.get("/" + query)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    problems = re.search(r'<div class="alert" role="alert" id="filter-problems".*?</div>', page, re.S)
    assert problems and f'data-field="{field}"' in problems.group(0)
    assert message.lower() in problems.group(0).lower()


def test_chips_count_maintenance_as_its_own_state_not_as_healthy(client, login_as, fleet):
    login_as("VIEWER")
    page = client.get("/").get_data(as_text=True)
    assert (chip(page, "HEALTHY"), chip(page, "DEGRADED"), chip(page, "UNREACHABLE"),
            chip(page, "MAINTENANCE")) == (2, 1, 1, 1)
    assert ">All 5<" in page


def test_the_overview_strip_counts_pipelines_drift_and_errors_and_links_to_them(
        client, login_as, fleet):
    login_as("VIEWER")
    page = client.get("/").get_data(as_text=True)
    # 4 nodes outside maintenance x 2 deployed pipelines; RUNNING: edge-1 x2, edge-2 x2, web-1 x1
    assert figure(page, "pipelines") == "5/8"
    assert figure(page, "drift") == "1"
    assert figure(page, "errors") == "1"
    assert re.search(r'data-figure="drift" href="/\?drift=1"', page)
    assert re.search(r'data-figure="errors" href="/\?errors=1"', page)
    # Within a label selector the strip counts that part of the fleet.
    page = client.get("/?selector=role%3Dweb").get_data(as_text=True)
    assert (figure(page, "pipelines"), figure(page, "drift"), figure(page, "errors")) == ("1/2", "0", "1")


def test_each_row_shows_labels_as_chips_and_running_out_of_expected(client, login_as, fleet):
    login_as("VIEWER")
    html = client.get(f"/fleet/rows/{fleet['web-1'].id}").get_data(as_text=True)
    assert re.findall(r'class="label-chip" href="([^"]+)"[^>]*>([^<]+)<', html) == [
        ("/?selector=role%3Dweb", "role=web"), ("/?selector=zone%3Deu", "zone=eu")]
    assert "running 1/2" in html
    assert "running 2/2" in client.get(f"/fleet/rows/{fleet['edge-1'].id}").get_data(as_text=True)
    assert ">stopped<" in client.get(f"/fleet/rows/{fleet['db-1'].id}").get_data(as_text=True)


@pytest.mark.parametrize("sort, expected", [
    ("", ["db-1", "edge-1", "edge-2", "old-1", "web-1"]),
    ("-name", ["web-1", "old-1", "edge-2", "edge-1", "db-1"]),
    ("host", ["web-1", "db-1", "edge-1", "edge-2", "old-1"]),  # 10.1.0.9 sorts first
    ("seen", ["old-1"]),  # the oldest first (the others share a timestamp)
])
def test_columns_sort_both_ways(client, login_as, fleet, sort, expected):
    login_as("VIEWER")
    page = client.get(f"/?sort={sort}").get_data(as_text=True)
    assert names(page)[:len(expected)] == expected


def test_a_sorted_header_links_to_the_other_direction_and_keeps_the_filter(client, login_as, fleet):
    login_as("VIEWER")
    page = client.get("/?selector=role%3Dedge&sort=host").get_data(as_text=True)
    assert re.search(r'aria-sort="ascending">\s*<a class="sort-link" data-sort="host" '
                     r'href="/\?selector=role%3Dedge&amp;sort=-host"', page)


def test_a_row_re_rendered_alone_keeps_the_page_it_sits_on_as_its_return_address(
        client, login_as, fleet):
    login_as("ADMIN")
    page = client.get("/?status=HEALTHY").get_data(as_text=True)
    url = re.search(rf'hx-get="(/fleet/rows/{fleet["edge-1"].id}[^"]*)"', page).group(1)
    row = client.get(url.replace("&amp;", "&")).get_data(as_text=True)
    assert 'name="next" value="/?status=HEALTHY"' in row
    assert "/fleet/rows/" not in re.search(r'name="next" value="([^"]*)"', row).group(1)


# ---------------------------------------------------------------- bulk maintenance

def test_bulk_maintenance_previews_with_the_dry_run_then_applies_exactly_the_previewed_nodes(
        client, login_as, fleet, db):
    login_as("ADMIN")
    ids = [fleet["edge-1"].id, fleet["edge-2"].id]
    preview = client.submit("/fleet/maintenance", {"node": ids, "enabled": "1", "next": "/?q=edge"})
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert set(re.findall(r'<li data-node-id="(\w+)">', html)) == set(ids)
    # Both edges run metrics and logs; with web-1 degraded and crashed, coverage breaks.
    assert 'data-testid="coverage-warning"' in html
    assert db.session.scalar(sa.select(sa.func.count()).where(VectorNode.maintenance_mode)) == 1
    confirm = client.submit("/fleet/maintenance", {"node": ids, "enabled": "1", "confirm": "1",
                                                    "force": "1", "reason": "kernel",
                                                    "next": "/?q=edge"})
    assert confirm.status_code == 302 and confirm.headers["Location"] == "/?q=edge"
    changed = db.session.scalars(sa.select(VectorNode).where(VectorNode.id.in_(ids))).all()
    assert all(n.maintenance_mode and n.maintenance_reason == "kernel" for n in changed)
    audited = db.session.scalars(sa.select(AuditLog.entity_id)
                                 .where(AuditLog.action == "node.maintenance_entered")).all()
    assert sorted(audited) == sorted(ids)


def test_bulk_maintenance_for_all_nodes_matching_the_filter(client, login_as, fleet, db):
    login_as("ADMIN")
    preview = client.submit("/fleet/maintenance", {"scope": "filter", "selector": "zone=eu",
                                                    "enabled": "1"})
    html = preview.get_data(as_text=True)
    assert sorted(re.findall(r'<li data-node-id="\w+"><a [^>]*>([^<]+)</a>', html)) == ["edge-1", "web-1"]
    left = client.submit("/fleet/maintenance", {"scope": "filter", "status": "MAINTENANCE",
                                                 "enabled": "0"})
    assert re.findall(r'<li data-node-id="\w+"><a [^>]*>([^<]+)</a>', left.get_data(as_text=True)) == ["db-1"]


def test_bulk_maintenance_with_a_bad_filter_or_no_rows_changes_nothing_and_says_why(
        client, login_as, fleet, db):
    login_as("ADMIN")
    response = client.submit("/fleet/maintenance", {"scope": "filter", "status": "bogus",
                                                     "enabled": "1", "confirm": "1"})
    assert response.status_code == 302
    assert "unknown status" in client.get("/").get_data(as_text=True)
    response = client.submit("/fleet/maintenance", {"enabled": "1", "confirm": "1"})
    assert response.status_code == 302
    assert "select at least one node" in client.get("/").get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).where(VectorNode.maintenance_mode)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_bulk_maintenance_follows_the_role_table(client, login_as, fleet, kind):
    response = call(client, login_as, kind, "POST", "/fleet/maintenance",
                    {"node": fleet["edge-1"].id, "enabled": "1"})
    check(response, kind, Role.ADMIN, 200)


def test_bulk_forms_need_a_csrf_token(client, login_as, fleet):
    login_as("ADMIN")
    response = client.post("/fleet/maintenance", data={"node": fleet["edge-1"].id, "enabled": "1"})
    assert response.status_code == 400


# ---------------------------------------------------------------- prune

def test_prune_previews_then_deletes_nodes_unseen_for_n_days_with_an_audit_row_each(
        client, login_as, fleet, db, world):
    stale, _ = factories.make_node(world.env, "old-2", last_seen=utcnow() - timedelta(days=9))
    db.session.commit()
    old_id, stale_id = fleet["old-1"].id, stale.id
    login_as("ADMIN")
    preview = client.submit("/fleet/prune", {"scope": "filter", "days": "30"})
    html = preview.get_data(as_text=True)
    assert re.findall(r'<tr data-node-id="\w+"><td>([^<]+)</td>', html) == ["old-1"]
    assert db.session.get(VectorNode, old_id) is not None
    preview = client.submit("/fleet/prune", {"scope": "filter", "days": "7"})
    ids = re.findall(r'<tr data-node-id="(\w+)">', preview.get_data(as_text=True))
    assert sorted(ids) == sorted([old_id, stale_id])
    done = client.submit("/fleet/prune", {"node": ids, "days": "7", "confirm": "1"})
    assert done.status_code == 302
    assert db.session.get(VectorNode, stale_id) is None
    assert db.session.get(VectorNode, old_id) is None
    rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "node.pruned")).all()
    assert sorted(r.entity_id for r in rows) == sorted(ids)
    assert sorted(r.details["nodeName"] for r in rows) == ["old-1", "old-2"]
    assert all(r.details["olderThanDays"] == 7 for r in rows)


def test_prune_keeps_a_ticked_node_that_was_seen_recently(client, login_as, fleet, db):
    login_as("ADMIN")
    edge_id, old_id = fleet["edge-1"].id, fleet["old-1"].id
    done = client.submit("/fleet/prune", {"node": [edge_id, old_id], "days": "30", "confirm": "1"})
    assert done.status_code == 302
    assert db.session.get(VectorNode, edge_id) is not None
    assert db.session.get(VectorNode, old_id) is None


@pytest.mark.parametrize("days", ["0", "-1", "3651", "x", "", "1e400"])
def test_prune_refuses_a_bad_number_of_days_and_deletes_nothing(client, login_as, fleet, db, days):
    login_as("ADMIN")
    response = client.submit("/fleet/prune", {"node": fleet["old-1"].id, "days": days,
                                              "confirm": "1"})
    assert response.status_code == 400
    assert "days must be a whole number from 1 to 3650" in response.get_data(as_text=True)
    assert db.session.get(VectorNode, fleet["old-1"].id) is not None


@pytest.mark.parametrize("kind", KINDS)
def test_prune_follows_the_role_table(client, login_as, fleet, kind):
    response = call(client, login_as, kind, "POST", "/fleet/prune",
                    {"node": fleet["old-1"].id, "days": "30"})
    check(response, kind, Role.ADMIN, 200)


def test_the_favicon_is_served_to_anyone(client, app):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data
