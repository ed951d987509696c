"""The telemetry payloads of the real agent (shared/contracts/agent/v1/fixtures) through the
real endpoints, and the push messages that ask for them, in the contract's shape."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from vectorflow.agent.push import push_message
from vectorflow.extensions import db
from vectorflow.live import LiveEvent
from vectorflow.models import (
    Event,
    LogLine,
    SampleStatus,
    TapEvent,
    TapStatus,
)
from vectorflow.services import telemetry
from vectorflow.services.actors import Actor

from .. import factories
from .conftest import as_in_fixture, load_fixture

EDITOR = Actor("user", None, "editor@example.test")


def post(agent, path, body):
    return agent.client.post(path, json=body, headers=agent.headers)


def push_messages_of(event_type: str) -> list[dict]:
    """Return the push messages the outbox events of this type become for an agent."""
    rows = db.session.scalars(sa.select(Event).where(Event.type == event_type)
                              .order_by(Event.id)).all()
    return [push_message(LiveEvent.from_row(row)) for row in rows]


def contract_message(kind: str) -> dict:
    return next(m for m in load_fixture("push-messages.json") if m["type"] == kind)


def same_shape(message: dict, expected: dict) -> bool:
    return set(message) == set(expected) and all(
        type(message[key]) is type(expected[key]) for key in expected)


def test_the_contract_log_batches_are_stored_with_their_time_and_level(agent, pipeline):
    body = as_in_fixture("log-batches-request.json", pipeline.id)

    response = post(agent, "/api/agent/logs", body)

    assert response.status_code == 200 and response.get_json() == {"ok": True}
    rows = db.session.scalars(sa.select(LogLine).order_by(LogLine.id)).all()
    assert [(r.level, r.message) for r in rows] == [
        ("INFO", "pipeline started"), ("INFO", "processed 10 events")]
    assert rows[0].logged_at == datetime(2026, 5, 3, 15, 0, tzinfo=UTC)
    assert {(r.node_id, r.pipeline_id) for r in rows} == {(agent.node.id, pipeline.id)}


def test_vectors_own_log_format_is_read_too(agent, pipeline):
    line = ("2026-05-03T15:00:02.123456Z  WARN vector::sinks::http: Retrying after error. "
            "error=timeout")
    assert post(agent, "/api/agent/logs", [{"pipelineId": pipeline.id, "lines": [line]}]
                ).status_code == 200
    row = db.session.scalar(sa.select(LogLine))
    assert row.level == "WARN" and row.message.startswith("vector::sinks::http: Retrying")


def test_lines_of_a_pipeline_outside_the_nodes_environment_are_dropped_with_a_200(agent, world):
    other = factories.make_pipeline(world.other_env, "theirs")
    db.session.commit()
    body = as_in_fixture("log-batches-request.json", other.id)
    assert post(agent, "/api/agent/logs", body).status_code == 200
    assert post(agent, "/api/agent/logs", load_fixture("log-batches-request.json")
                ).status_code == 200  # "pipe-1" exists nowhere
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LogLine)) == 0


def test_a_sample_request_reaches_agents_in_the_config_and_as_a_push_message(agent, pipeline):
    request = telemetry.request_sample(pipeline, "demo", 25, EDITOR)
    db.session.commit()

    config = agent.config().get_json()
    [entry] = config["sampleRequests"]
    [expected] = load_fixture("config-response.json")["sampleRequests"]
    assert same_shape(entry, expected)
    assert entry == {"requestId": request.id, "pipelineId": pipeline.id,
                     "componentKeys": ["demo"], "limit": 25}
    [message] = push_messages_of("pipeline.sample_requested")
    assert same_shape(message, contract_message("sample_request"))
    assert message == {"type": "sample_request", **entry}


def test_the_contract_sample_results_complete_the_request(agent, pipeline):
    request = telemetry.request_sample(pipeline, "demo", 25, EDITOR)
    db.session.commit()
    body = load_fixture("sample-results-request.json")
    body["results"][0]["requestId"] = request.id

    response = post(agent, "/api/agent/samples", body)

    assert response.status_code == 200 and response.get_json() == {"ok": True}
    db.session.refresh(request)
    assert request.status == SampleStatus.DONE
    [result] = request.results
    assert result["events"] == [{"message": "hello"}] and result["nodeId"] == agent.node.id
    assert telemetry.inferred_fields(request) == [
        {"path": "message", "type": "string", "sample": "hello"}]
    # Answered: the next config no longer asks for it.
    assert "sampleRequests" not in agent.config().get_json()


def test_sample_results_for_a_request_of_another_environment_are_dropped(agent, world):
    theirs = factories.make_pipeline(world.other_env, "theirs",
                                     "sources:\n  demo:\n    type: demo_logs\n    format: json\n"
                                     "sinks:\n  out:\n    type: console\n    inputs: [demo]\n"
                                     "    encoding: {codec: json}\n")
    request = telemetry.request_sample(theirs, "demo", 25, EDITOR)
    db.session.commit()
    body = load_fixture("sample-results-request.json")
    body["results"][0]["requestId"] = request.id
    assert post(agent, "/api/agent/samples", body).status_code == 200
    db.session.refresh(request)
    assert request.status == SampleStatus.PENDING and request.results == []


def test_a_tap_is_started_and_stopped_over_the_push_stream_in_the_contracts_shape(agent, pipeline):
    tap = telemetry.start_tap(agent.node, pipeline, "demo", EDITOR)
    db.session.commit()
    [start] = push_messages_of("node.tap_started")
    assert same_shape(start, contract_message("tap_start"))
    assert start == {"type": "tap_start", "requestId": tap.id, "pipelineId": pipeline.id,
                     "componentId": "demo"}

    telemetry.stop_tap(tap, "stopped_by_user", EDITOR)
    db.session.commit()
    [stop] = push_messages_of("node.tap_stopped")
    assert stop == {"type": "tap_stop", "requestId": tap.id}
    assert same_shape(stop, contract_message("tap_stop"))


def test_the_contract_tap_events_and_the_agents_stop_reach_the_tap(agent, pipeline):
    tap = telemetry.start_tap(agent.node, pipeline, "demo", EDITOR)
    db.session.commit()

    events = as_in_fixture("tap-event-request.json", pipeline.id, requestId=tap.id)
    assert post(agent, "/api/agent/tap-events", events).status_code == 200
    [batch] = db.session.scalars(sa.select(TapEvent)).all()
    assert batch.events == [{"message": "live event"}] and batch.tap_id == tap.id

    stopped = as_in_fixture("tap-stopped-request.json", pipeline.id, requestId=tap.id)
    response = post(agent, "/api/agent/tap-events", stopped)
    assert response.status_code == 200 and response.get_json() == {"ok": True}
    db.session.refresh(tap)
    assert tap.status == TapStatus.STOPPED and tap.stop_reason == "agent: cancelled"
    # The agent stopped it itself: no tap_stop is sent back.
    assert push_messages_of("node.tap_stopped") == []


def test_tap_events_for_another_nodes_tap_are_dropped(agent, make_agent, pipeline):
    other = make_agent("node-2")
    tap = telemetry.start_tap(other.node, pipeline, "demo", EDITOR)
    db.session.commit()
    events = as_in_fixture("tap-event-request.json", pipeline.id, requestId=tap.id)
    assert post(agent, "/api/agent/tap-events", events).status_code == 200
    assert db.session.scalars(sa.select(TapEvent)).all() == []


def test_telemetry_endpoints_answer_401_without_a_valid_node_token(client, pipeline):
    for path, name in (("/api/agent/logs", "log-batches-request.json"),
                       ("/api/agent/samples", "sample-results-request.json"),
                       ("/api/agent/tap-events", "tap-event-request.json")):
        for headers in ({}, {"Authorization": "Bearer vf_node_" + "0" * 64}):
            response = client.post(path, json=load_fixture(name), headers=headers)
            assert response.status_code == 401, path
            assert response.get_json() == {"error": "Unauthorized"}
