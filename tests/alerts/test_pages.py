"""The Alerts page, the top bar's count, a node's alerts, and the settings forms."""
from __future__ import annotations

import re

from vectorflow.extensions import db
from vectorflow.models import AlertRule, NotificationChannel

from .conftest import SECRET, alerts_of


def rows(page: str) -> list[tuple[str, str]]:
    """(data-suppressed, subject text) of each alert row of the page's table."""
    table = page[page.index('id="alerts-table"'):]
    table = table[:table.index("</table>")]
    found = re.findall(r'data-suppressed="(\w+)">.*?<a href="/nodes/[^"]+">([^<]+)</a>', table,
                       re.DOTALL)
    return found


def test_the_alerts_page_shows_firing_suppressed_and_resolved_apart(client, login_as, fired):
    login_as("VIEWER")
    page = client.get("/alerts/").get_data(as_text=True)
    assert rows(page) == [("false", "edge-loud")]
    assert 'data-view="suppressed"' in page and "Suppressed <span class=\"count\">1</span>" in page
    suppressed = client.get("/alerts/?view=suppressed").get_data(as_text=True)
    assert rows(suppressed) == [("true", "edge-quiet")]
    assert "Suppressed · maintenance" in suppressed
    assert rows(client.get("/alerts/?view=resolved").get_data(as_text=True)) == []
    assert 'sse-connect="/events?' in page  # live


def test_the_alerts_page_filters_by_node_and_environment(client, login_as, world, fired):
    login_as("VIEWER")
    page = client.get(f"/alerts/?view=suppressed&node={fired['loud']}").get_data(as_text=True)
    assert rows(page) == []
    assert client.get(f"/alerts/?env={world.other_env.id}").status_code == 404


def test_other_teams_see_only_their_alerts_and_anonymous_callers_sign_in(client, login_as,
                                                                         fired):
    assert "/login" in client.get("/alerts/").headers["Location"]
    login_as("outsider")
    page = client.get("/alerts/").get_data(as_text=True)
    assert rows(page) == [("false", "their-node")] and 'data-count="1"' in page


def test_the_top_bar_counts_firing_alerts_on_every_page(client, login_as, fired):
    login_as("VIEWER")
    for path in ("/", "/alerts/", f"/nodes/{fired['loud']}"):
        page = client.get(path).get_data(as_text=True)
        assert re.search(r'id="alert-count" class="alert-count has-alerts" data-count="1"', page)
    fragment = client.get("/alerts/count").get_data(as_text=True)
    assert 'data-count="1"' in fragment and 'hx-trigger="sse:alert.changed' in fragment


def test_a_node_page_shows_its_alerts(client, login_as, fired):
    login_as("VIEWER")
    page = client.get(f"/nodes/{fired['quiet']}").get_data(as_text=True)
    section = page[page.index('id="node-alerts"'):]
    section = section[:section.index("</section>")]
    assert "Node unreachable" in section and "Suppressed · maintenance" in section
    assert "#node-alerts" in page  # re-rendered on the node's events


def test_an_editor_acknowledges_from_the_page_and_a_viewer_cannot(client, login_as, fired):
    [alert] = alerts_of(fired["loud"])
    login_as("VIEWER")
    assert 'data-testid="acknowledge"' not in client.get("/alerts/").get_data(as_text=True)
    assert client.submit(f"/alerts/{alert.id}/ack").status_code == 403
    login_as("EDITOR")
    assert 'data-testid="acknowledge"' in client.get("/alerts/").get_data(as_text=True)
    response = client.submit(f"/alerts/{alert.id}/ack", {"next": "/alerts/?view=firing"})
    assert response.status_code == 302 and response.headers["Location"] == "/alerts/?view=firing"
    page = client.get("/alerts/").get_data(as_text=True)
    assert "by editor@example.com" in page
    assert alerts_of(fired["loud"])[0].acknowledged_by_label == "editor@example.com"


def test_an_admin_changes_a_rule_from_the_settings_page(client, login_as, world):
    login_as("EDITOR")
    assert client.get("/alerts/settings").status_code == 403
    login_as("ADMIN")
    page = client.get(f"/alerts/settings?env={world.env.id}").get_data(as_text=True)
    assert page.count('name="threshold_minutes"') == 7
    response = client.submit(f"/alerts/settings/{world.env.id}/rules",
                             {"rule": "node_degraded", "threshold_minutes": "30"})
    assert response.status_code == 302
    row = db.session.scalar(db.select(AlertRule))
    assert (row.rule, row.enabled, row.threshold_minutes) == ("node_degraded", False, 30)
    bad = client.submit(f"/alerts/settings/{world.env.id}/rules",
                        {"rule": "node_degraded", "enabled": "y", "threshold_minutes": "-4"})
    assert bad.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(db.select(AlertRule)).threshold_minutes == 30
    assert client.submit(f"/alerts/settings/{world.other_env.id}/rules",
                         {"rule": "node_degraded"}).status_code == 404


def test_an_admin_adds_a_channel_and_sends_a_test_from_the_pages(client, login_as, world,
                                                                 allow_private, receiver):
    login_as("ADMIN")
    response = client.submit("/alerts/channels", {
        "team_id": world.team.id, "type": "webhook", "name": "on-call", "url": receiver.url,
        "secret": SECRET, "rules": ["node_unreachable", "pipeline_crashed"],
        "events": ["entered"]})
    assert response.status_code == 302
    channel = db.session.scalar(db.select(NotificationChannel))
    assert (channel.rules, channel.events) == (["node_unreachable", "pipeline_crashed"],
                                               ["entered"])
    tested = client.submit(f"/alerts/channels/{channel.id}/test", follow_redirects=True)
    page = tested.get_data(as_text=True)
    assert "Test message delivered (HTTP 200)" in page
    assert 'data-status="delivered"' in page
    assert receiver.kinds() == ["test"]


def test_a_refused_channel_form_says_why_and_adds_nothing(client, login_as, world):
    login_as("ADMIN")
    response = client.submit("/alerts/channels", {
        "team_id": world.team.id, "type": "webhook", "name": "internal",
        "url": "http://127.0.0.1:9/hook", "secret": SECRET})
    assert response.status_code == 400
    assert "loopback address" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(NotificationChannel)) is None
