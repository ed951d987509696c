"""Live tails and taps over a real server: lines appear without a reload, a slow browser is
told what it missed, a tap streams and stops (on the agent's word, the browser leaving, or
its time limit)."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import LogLine, Tap, TapStatus, utcnow
from vectorflow.services import telemetry
from vectorflow.services.actors import Actor
from vectorflow.telemetry.hub import Tail, tail_stream

from .conftest import as_in_fixture, session_cookie

EDITOR = Actor("user", None, "editor@example.test")


def send_logs(agent, pipeline, *lines):
    response = agent.client.post("/api/agent/logs", json=[{"pipelineId": pipeline.id,
                                                           "lines": list(lines)}],
                                 headers=agent.headers)
    assert response.status_code == 200


def lines_of(stream, count: int) -> list[dict]:
    """Read ``lines`` messages until ``count`` lines came (each read times out on its own)."""
    got = []
    while len(got) < count:
        message = stream.next_message()
        assert message.event == "lines", message
        got += message.json
    return got


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # see other connections' commits
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the condition did not hold in time")


def test_new_lines_reach_an_open_node_tail_without_a_reload(app, server, world, agent,
                                                            pipeline):
    cookie = session_cookie(app, world.users["VIEWER"])
    stream = server.stream(f"/nodes/{agent.node.id}/logs/stream", cookie=cookie)
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-cache"

    send_logs(agent, pipeline, "2026-05-03T15:00:00Z INFO pipeline started",
              "2026-05-03T15:00:01Z ERROR sink failed")

    got = lines_of(stream, 2)
    assert [(line["level"], line["message"]) for line in got] == [
        ("INFO", "pipeline started"), ("ERROR", "sink failed")]
    assert got[0]["pipelineId"] == pipeline.id and got[0]["time"] == "2026-05-03T15:00:00Z"


def test_a_tail_resumes_after_the_line_its_page_showed_and_keeps_its_filters(
        app, server, world, agent, pipeline):
    send_logs(agent, pipeline, "2026-05-03T15:00:00Z ERROR shown on the page")
    shown = db.session.scalar(sa.select(sa.func.max(LogLine.id)))
    send_logs(agent, pipeline, "2026-05-03T15:00:01Z ERROR after the page, before the tail",
              "2026-05-03T15:00:02Z INFO filtered out")
    cookie = session_cookie(app, world.users["VIEWER"])
    stream = server.stream(f"/nodes/{agent.node.id}/logs/stream?after={shown}&level=ERROR",
                           cookie=cookie)
    [missed] = lines_of(stream, 1)
    assert missed["message"] == "after the page, before the tail"
    send_logs(agent, pipeline, "2026-05-03T15:00:03Z INFO still filtered",
              "2026-05-03T15:00:04Z ERROR live")
    [live] = lines_of(stream, 1)
    assert live["message"] == "live"


def test_a_pipeline_tail_follows_every_node_of_the_pipeline(app, server, world, make_agent,
                                                           pipeline):
    one, two = make_agent("node-a"), make_agent("node-b")
    cookie = session_cookie(app, world.users["VIEWER"])
    stream = server.stream(f"/pipelines/{pipeline.id}/logs/stream", cookie=cookie)
    stream.next_block()  # connected
    send_logs(one, pipeline, "2026-05-03T15:00:00Z INFO from a")
    send_logs(two, pipeline, "2026-05-03T15:00:00Z INFO from b")
    got = lines_of(stream, 2)
    assert {(line["nodeId"], line["message"]) for line in got} == {
        (one.node.id, "from a"), (two.node.id, "from b")}


def test_another_teams_viewer_cannot_open_the_tail(app, server, world, agent):
    cookie = session_cookie(app, world.users["outsider"])
    assert server.stream(f"/nodes/{agent.node.id}/logs/stream",
                         cookie=cookie).status_code == 404


def test_a_slow_browser_loses_lines_and_is_told_while_a_fast_one_gets_them_all(app, agent,
                                                                              pipeline):
    hub = app.extensions["vectorflow.tails"]
    newest = telemetry.newest_log_id()
    slow = hub.open(Tail(node_id=agent.node.id, after=newest, capacity=3))
    fast = hub.open(Tail(node_id=agent.node.id, after=newest, capacity=100))
    send_logs(agent, pipeline, *[f"2026-05-03T15:00:0{i}Z INFO line {i}" for i in range(8)])
    hub.read_once()

    items, dropped = fast.take(0)
    assert len(items) == 8 and dropped == 0
    stream = tail_stream(hub, slow, b"", render=lambda items: f"{len(items)} lines\n".encode(),
                         keepalive=0.1, max_age=5)
    next(stream)
    sent = next(stream).decode()
    assert 'event: dropped\ndata: {"count": 5}' in sent and "3 lines" in sent
    stream.close()
    assert hub.open_tails == 1  # the slow one left; the fast one still streams


def test_a_tap_streams_events_and_ends_when_the_agent_stops_it(app, server, world, agent,
                                                               pipeline):
    tap = telemetry.start_tap(agent.node, pipeline, "demo", EDITOR)
    db.session.commit()
    cookie = session_cookie(app, world.users["VIEWER"])
    stream = server.stream(f"/taps/{tap.id}/stream", cookie=cookie)
    assert stream.status_code == 200
    body = as_in_fixture("tap-event-request.json", pipeline.id, requestId=tap.id)
    assert agent.client.post("/api/agent/tap-events", json=body,
                             headers=agent.headers).status_code == 200
    message = stream.next_message()
    assert message.event == "events" and message.json == [{"message": "live event"}]

    stopped = as_in_fixture("tap-stopped-request.json", pipeline.id, requestId=tap.id)
    agent.client.post("/api/agent/tap-events", json=stopped, headers=agent.headers)
    message = stream.next_message()
    assert message.event == "stopped" and message.json == {"reason": "agent: cancelled"}
    with pytest.raises(EOFError):
        stream.next_block()


def test_a_tap_stops_when_its_browser_leaves(app, server, world, agent, pipeline):
    tap = telemetry.start_tap(agent.node, pipeline, "demo", EDITOR)
    db.session.commit()
    stream = server.stream(f"/taps/{tap.id}/stream",
                           cookie=session_cookie(app, world.users["VIEWER"]))
    stream.next_block()
    stream.close()
    stopped = wait_for(lambda: db.session.scalar(sa.select(Tap).where(
        Tap.id == tap.id, Tap.status == TapStatus.STOPPED)))
    assert stopped.stop_reason == "viewer_left"


def test_a_tap_stops_at_its_time_limit(app, server, world, agent, pipeline):
    app.config["VECTORFLOW_TAP_SECONDS"] = 1
    tap = telemetry.start_tap(agent.node, pipeline, "demo", EDITOR)
    db.session.commit()
    stream = server.stream(f"/taps/{tap.id}/stream",
                           cookie=session_cookie(app, world.users["VIEWER"]))
    message = stream.next_message()
    assert message.event == "stopped" and message.json == {"reason": "time_limit"}
    stopped = wait_for(lambda: db.session.scalar(sa.select(Tap).where(
        Tap.id == tap.id, Tap.status == TapStatus.STOPPED)))
    assert stopped.stop_reason == "time_limit" and stopped.stopped_at <= utcnow()


def test_an_api_token_follows_a_nodes_lines_from_now(app, server, api_tokens, agent, pipeline):
    send_logs(agent, pipeline, "2026-05-03T15:00:00Z INFO before the stream")
    stream = server.stream(f"/api/v1/nodes/{agent.node.id}/logs/stream?level=WARN",
                           token=api_tokens["VIEWER"])
    assert stream.status_code == 200
    send_logs(agent, pipeline, "2026-05-03T15:00:01Z INFO not warn enough",
              "2026-05-03T15:00:02Z WARN slow sink")
    [line] = lines_of(stream, 1)
    assert line["message"] == "slow sink"
    assert server.stream(f"/api/v1/nodes/{agent.node.id}/logs/stream",
                         token=api_tokens["outsider"]).status_code == 404
    assert server.stream(f"/api/v1/nodes/{agent.node.id}/logs/stream?level=LOUD",
                         token=api_tokens["VIEWER"]).status_code == 400
