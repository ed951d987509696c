"""The audit log page: team ADMINs see their team's rows, superadmins all; filters; pages."""
from __future__ import annotations

import re

import pytest

from tests.factories import make_node
from vectorflow.extensions import db
from vectorflow.services.actors import Actor
from vectorflow.services.audit import record
from vectorflow.services.maintenance import set_maintenance

ALICE = Actor("user", "u-alice", "alice@example.com")


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-audit-id="\d+" data-action="[^"]+">(.*?)</tr>', html, re.S)


def changes(row: str) -> list[str]:
    """The changes a row shows, one "key: before → after" string each."""
    cell = re.search(r'<td class="audit-change">(.*?)</td>', row, re.DOTALL).group(1)
    return [" ".join(re.sub(r"<[^>]+>", "", line).split())
            for line in re.findall(r"<div>(.*?)</div>", cell, re.DOTALL)]


@pytest.fixture
def toggled(world, node):
    """Maintenance entered and left on our node, and entered on another team's node."""
    theirs, _ = make_node(world.other_env, "theirs")
    set_maintenance(node, True, reason="kernel 6.9", actor=ALICE)
    set_maintenance(node, False, actor=ALICE)
    set_maintenance(theirs, True, reason="their reason", actor=ALICE)
    db.session.commit()
    return node, theirs


@pytest.mark.parametrize("kind, status", [
    ("VIEWER", 403), ("EDITOR", 403), ("ADMIN", 200), ("outsider", 200), ("superadmin", 200),
])
def test_only_admins_open_the_audit_log(client, login_as, world, kind, status):
    login_as(kind)
    assert client.get("/audit/").status_code == status


def test_anonymous_callers_are_sent_to_log_in(client, world):
    response = client.get("/audit/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_admin_sees_the_maintenance_events_of_their_team_only(client, login_as, toggled):
    node, _theirs = toggled
    login_as("ADMIN")
    html = client.get("/audit/").get_data(as_text=True)
    assert "their reason" not in html and "theirs" not in html
    entered = next(r for r in rows(html) if "node.maintenance_entered" in r)
    assert "alice@example.com" in entered and "edge-1" in entered and "kernel 6.9" in entered
    assert "maintenanceMode" in entered and "false" in entered and "true" in entered
    assert any("node.maintenance_left" in r for r in rows(html))


def test_a_superadmin_sees_every_team(client, login_as, toggled):
    login_as("superadmin")
    html = client.get("/audit/").get_data(as_text=True)
    assert "their reason" in html and "kernel 6.9" in html


def test_the_log_filters_by_action_and_node(client, login_as, world, toggled):
    node, _ = toggled
    other, _ = make_node(world.env, "edge-2")
    set_maintenance(other, True, actor=ALICE)
    db.session.commit()
    login_as("ADMIN")
    html = client.get("/audit/?action=node.maintenance_entered").get_data(as_text=True)
    assert {"edge-1", "edge-2"} <= {n for r in rows(html) for n in ("edge-1", "edge-2") if n in r}
    assert all("node.maintenance_entered" in r for r in rows(html))
    html = client.get(f"/audit/?node={node.id}").get_data(as_text=True)
    assert len(rows(html)) == 2 and all("edge-1" in r for r in rows(html))
    html = client.get(f"/audit/?node={node.id}&action=node.maintenance_left").get_data(as_text=True)
    assert len(rows(html)) == 1


def test_an_admin_cannot_read_another_teams_node_by_filtering(client, login_as, toggled):
    _node, theirs = toggled
    login_as("ADMIN")
    assert rows(client.get(f"/audit/?node={theirs.id}").get_data(as_text=True)) == []


def test_the_log_is_paginated_newest_first(client, login_as, world):
    for i in range(55):
        record("test.thing", entity_type="team", entity_id=world.team.id, team_id=world.team.id,
               after={"n": i}, actor=ALICE)
    db.session.commit()
    login_as("ADMIN")
    first = client.get("/audit/?action=test.thing").get_data(as_text=True)
    assert len(rows(first)) == 50 and changes(rows(first)[0]) == ["n: — → 54"]
    older = re.search(r'href="([^"]+)"[^>]*>Older', first) or re.search(r'rel="next" href="([^"]+)"', first)
    second = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert len(rows(second)) == 5 and 'rel="next"' not in second


def test_auto_exit_rows_name_the_system(client, login_as, node):
    from datetime import timedelta

    from vectorflow.models import utcnow
    from vectorflow.services.maintenance import end_expired_maintenance

    set_maintenance(node, True, until=utcnow() + timedelta(minutes=5), actor=ALICE)
    end_expired_maintenance(utcnow() + timedelta(minutes=6))
    db.session.commit()
    login_as("ADMIN")
    html = client.get("/audit/?action=node.maintenance_left").get_data(as_text=True)
    (row,) = rows(html)
    assert "system" in row and "scheduled end passed" in row
