"""A node's log lines for scripts (GET /api/v1/nodes/<id>/logs) and their retention."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import (
    LogLine,
    SampleRequest,
    SampleStatus,
    Tap,
    TapStatus,
    utcnow,
)
from vectorflow.services import telemetry
from vectorflow.services.actors import Actor
from vectorflow.sweeper import run_sweeps

from .. import factories

EDITOR = Actor("user", None, "editor@example.test")


def send(agent, pipeline, lines):
    response = agent.client.post("/api/agent/logs", json=[{"pipelineId": pipeline.id,
                                                           "lines": lines}],
                                 headers=agent.headers)
    assert response.status_code == 200


def test_scripts_page_through_a_nodes_lines_oldest_first(api, agent, pipeline):
    send(agent, pipeline, [f"2026-05-03T15:00:0{i}Z INFO line {i}" for i in range(5)])
    first = api.get(f"/api/v1/nodes/{agent.node.id}/logs?limit=3", "VIEWER").get_json()
    assert [item["message"] for item in first["items"]] == ["line 0", "line 1", "line 2"]
    assert first["items"][0]["time"] == "2026-05-03T15:00:00Z"
    assert first["items"][0]["pipelineId"] == pipeline.id
    rest = api.get(f"/api/v1/nodes/{agent.node.id}/logs?limit=3&cursor={first['nextCursor']}",
                   "VIEWER").get_json()
    assert [item["message"] for item in rest["items"]] == ["line 3", "line 4"]
    assert rest["nextCursor"] is None


def test_the_api_filters_by_pipeline_level_and_time(api, agent, pipeline, world):
    other = factories.make_pipeline(world.env, "other")
    db.session.commit()
    send(agent, pipeline, ["2026-05-03T15:00:00Z INFO info", "2026-05-03T15:00:01Z ERROR bad"])
    send(agent, other, ["2026-05-03T15:00:02Z ERROR other bad"])
    base = f"/api/v1/nodes/{agent.node.id}/logs"
    by_level = api.get(f"{base}?level=WARN", "VIEWER").get_json()["items"]
    assert [i["message"] for i in by_level] == ["bad", "other bad"]
    by_pipeline = api.get(f"{base}?pipelineId={other.id}", "VIEWER").get_json()["items"]
    assert [i["message"] for i in by_pipeline] == ["other bad"]
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert api.get(f"{base}", "VIEWER", query_string={"since": later}).get_json()["items"] == []


def test_bad_filters_are_a_400_naming_them_and_other_teams_get_404(api, agent):
    base = f"/api/v1/nodes/{agent.node.id}/logs"
    for query, field in (("level=LOUD", "level"), ("since=yesterday", "since"),
                         ("cursor=abc", "cursor"), ("limit=0", "limit"), ("colour=1", "colour")):
        response = api.get(f"{base}?{query}", "VIEWER")
        assert response.status_code == 400 and field in response.get_json()["details"], query
    assert api.get(base, "outsider").status_code == 404


def test_the_sweep_keeps_a_bounded_window_per_node_and_pipeline(app, agent, make_agent,
                                                                pipeline):
    app.config["VECTORFLOW_LOG_KEEP_LINES"] = 3
    other = make_agent("node-2")
    send(agent, pipeline, [f"2026-05-03T15:00:00Z INFO a{i}" for i in range(5)])
    send(other, pipeline, ["2026-05-03T15:00:00Z INFO b0"])
    run_sweeps()
    kept = db.session.scalars(sa.select(LogLine.message).order_by(LogLine.id)).all()
    assert kept == ["a2", "a3", "a4", "b0"]


def test_the_sweep_drops_lines_past_their_age(app, agent, pipeline):
    send(agent, pipeline, ["2026-05-03T15:00:00Z INFO old"])
    run_sweeps(utcnow() + timedelta(hours=app.config["VECTORFLOW_LOG_KEEP_HOURS"], minutes=1))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LogLine)) == 0


def test_the_sweep_expires_unanswered_samples_and_stops_taps_past_their_limit(agent, pipeline):
    sample = telemetry.request_sample(pipeline, "demo", 5, EDITOR)
    tap = telemetry.start_tap(agent.node, pipeline, "demo", EDITOR)
    db.session.commit()
    run_sweeps(utcnow() + timedelta(minutes=10))
    db.session.expire_all()
    assert db.session.get(SampleRequest, sample.id).status == SampleStatus.EXPIRED
    stopped = db.session.get(Tap, tap.id)
    assert stopped.status == TapStatus.STOPPED and stopped.stop_reason == "time_limit"
