"""The log panels, samples and taps as a browser user sees them (server-rendered parts)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import (
    AuditLog,
    NodePipelineStatus,
    ProcessStatus,
    Role,
    SampleRequest,
    Tap,
    TapStatus,
)
from vectorflow.services.maintenance import set_maintenance

from ..roles import KINDS, call, check


@pytest.fixture
def logged(agent, pipeline):
    """The agent's node runs the pipeline and has sent three lines."""
    db.session.add(NodePipelineStatus(node_id=agent.node.id, pipeline_id=pipeline.id, version=1,
                                      status=ProcessStatus.RUNNING))
    db.session.commit()
    lines = ["2026-05-03T15:00:00Z INFO pipeline started",
             "2026-05-03T15:00:01Z WARN sink is slow to answer",
             "2026-05-03T15:00:02Z ERROR request to sink failed: timeout"]
    response = agent.client.post("/api/agent/logs", json=[{"pipelineId": pipeline.id,
                                                           "lines": lines}],
                                 headers=agent.headers)
    assert response.status_code == 200
    return agent


def panel(client, url, **query):
    response = client.get(url, query_string=query, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_node_page_loads_its_log_panel(client, login_as, logged):
    login_as("VIEWER")
    page = client.get(f"/nodes/{logged.node.id}").get_data(as_text=True)
    assert f'hx-get="/nodes/{logged.node.id}/logs"' in page
    html = panel(client, f"/nodes/{logged.node.id}/logs")
    for text in ("pipeline started", "sink is slow to answer", "request to sink failed"):
        assert text in html
    assert f"/nodes/{logged.node.id}/logs/stream" in html  # the live tail


def test_the_level_filter_shows_that_level_and_the_more_severe(client, login_as, logged):
    login_as("VIEWER")
    html = panel(client, f"/nodes/{logged.node.id}/logs", level="WARN")
    assert "sink is slow" in html and "request to sink failed" in html
    assert "pipeline started" not in html
    assert "level=WARN" in html  # the tail keeps the filter


def test_search_finds_lines_by_their_text_whatever_the_case(client, login_as, logged):
    login_as("VIEWER")
    html = panel(client, f"/nodes/{logged.node.id}/logs", q="TIMEOUT")
    assert "request to sink failed" in html and "pipeline started" not in html
    html = panel(client, f"/nodes/{logged.node.id}/logs", q="100%_")
    assert "match these filters" in html


def test_a_node_in_maintenance_says_so_instead_of_an_empty_tail(client, login_as, logged):
    set_maintenance(logged.node, True, reason="disk swap", force=True)
    db.session.commit()
    login_as("VIEWER")
    html = panel(client, f"/nodes/{logged.node.id}/logs")
    assert "This node is in maintenance" in html and "The lines below are from before" in html
    assert "/logs/stream" not in html


def test_another_teams_node_logs_are_not_found(client, login_as, logged):
    login_as("outsider")
    assert client.get(f"/nodes/{logged.node.id}/logs").status_code == 404
    assert client.get(f"/nodes/{logged.node.id}/logs/stream").status_code == 404


def test_the_pipeline_panel_shows_every_nodes_lines_and_offers_samples_and_taps(
        client, login_as, logged, pipeline):
    login_as("EDITOR")
    page = client.get(f"/pipelines/{pipeline.id}").get_data(as_text=True)
    assert f"/pipelines/{pipeline.id}/telemetry" in page
    html = panel(client, f"/pipelines/{pipeline.id}/telemetry")
    assert "request to sink failed" in html and logged.node.name in html
    assert "Request sample" in html and "Start tap" in html
    login_as("VIEWER")
    html = panel(client, f"/pipelines/{pipeline.id}/telemetry")
    assert "request to sink failed" in html
    assert "Request sample" not in html and "Start tap" not in html


ROUTES = [
    ("GET", "/pipelines/{pipeline}/telemetry", None, Role.VIEWER, 200),
    ("GET", "/pipelines/{pipeline}/samples/latest", None, Role.VIEWER, 200),
    ("POST", "/pipelines/{pipeline}/samples", {"component_key": "demo", "limit": "5"},
     Role.EDITOR, 302),
    ("POST", "/pipelines/{pipeline}/taps", {"node_id": "{node}", "component_id": "demo"},
     Role.EDITOR, 200),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method, url, data, min_role, ok", ROUTES, ids=[r[1] for r in ROUTES])
def test_telemetry_routes_follow_the_role_table(client, login_as, logged, pipeline, kind,
                                                method, url, data, min_role, ok):
    data = {k: v.format(node=logged.node.id) for k, v in (data or {}).items()} or None
    response = call(client, login_as, kind, method, url.format(pipeline=pipeline.id), data)
    check(response, kind, min_role, ok)


def test_an_editor_asks_for_a_sample_and_it_is_audited(client, login_as, logged, pipeline):
    user = login_as("EDITOR")
    response = client.submit(f"/pipelines/{pipeline.id}/samples",
                             {"component_key": "demo", "limit": "5"},
                             headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Waiting for the agents to answer" in response.get_data(as_text=True)
    request = db.session.scalar(sa.select(SampleRequest))
    assert (request.component_keys, request.limit) == (["demo"], 5)
    audit = db.session.scalar(sa.select(AuditLog).where(
        AuditLog.action == "pipeline.sample_requested"))
    assert audit.actor_id == user.id and audit.details["requestId"] == request.id


def test_a_sample_of_an_unknown_component_is_refused_and_changes_nothing(client, login_as,
                                                                          logged, pipeline):
    login_as("EDITOR")
    response = client.submit(f"/pipelines/{pipeline.id}/samples",
                             {"component_key": "nope", "limit": "5"},
                             headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SampleRequest)) == 0


def test_taps_are_limited_per_node_and_the_refusal_says_why(app, client, login_as, logged,
                                                            pipeline):
    login_as("EDITOR")
    form = {"node_id": logged.node.id, "component_id": "demo"}
    for _ in range(app.config["VECTORFLOW_TAPS_PER_NODE"]):
        assert client.submit(f"/pipelines/{pipeline.id}/taps", form).status_code == 200
    refused = client.submit(f"/pipelines/{pipeline.id}/taps", form)
    assert refused.status_code == 409
    assert "already runs 2 taps" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Tap)) == 2


def test_taps_are_limited_per_team(app, client, login_as, make_agent, logged, pipeline):
    app.config["VECTORFLOW_TAPS_PER_TEAM"] = 1
    other = make_agent("node-2")
    login_as("EDITOR")
    assert client.submit(f"/pipelines/{pipeline.id}/taps", {
        "node_id": logged.node.id, "component_id": "demo"}).status_code == 200
    refused = client.submit(f"/pipelines/{pipeline.id}/taps", {
        "node_id": other.node.id, "component_id": "demo"})
    assert refused.status_code == 409 and "your team already runs 1 tap" in refused.get_data(
        as_text=True)


def test_a_node_in_maintenance_cannot_be_tapped(client, login_as, logged, pipeline):
    set_maintenance(logged.node, True, reason="disk swap", force=True)
    db.session.commit()
    login_as("EDITOR")
    response = client.submit(f"/pipelines/{pipeline.id}/taps", {
        "node_id": logged.node.id, "component_id": "demo"})
    assert response.status_code == 400  # not among the choices any more
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Tap)) == 0


def test_an_editor_stops_a_tap_and_the_stop_is_audited(client, login_as, logged, pipeline):
    login_as("EDITOR")
    client.submit(f"/pipelines/{pipeline.id}/taps", {"node_id": logged.node.id,
                                                    "component_id": "demo"})
    tap = db.session.scalar(sa.select(Tap))
    login_as("VIEWER")
    assert client.submit(f"/taps/{tap.id}/stop", {}).status_code == 403
    login_as("EDITOR")
    response = client.submit(f"/taps/{tap.id}/stop", {})
    assert response.status_code == 200 and "stopped (stopped_by_user)" in response.get_data(
        as_text=True)
    db.session.refresh(tap)
    assert tap.status == TapStatus.STOPPED
    assert db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "tap.stopped"))
    login_as("outsider")
    assert client.submit(f"/taps/{tap.id}/stop", {}).status_code == 404
