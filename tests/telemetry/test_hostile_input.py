"""Hostile telemetry bodies: a 400 naming the field that changes nothing, or, for text kept
only to be shown (log lines), cleaned and kept. Never a 500; pages still render."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.live.broker import INTERNAL_EVENTS
from vectorflow.models import Event, LogLine, SampleRequest, TapEvent
from vectorflow.services import telemetry
from vectorflow.services.actors import Actor

from ..agent.test_hostile_input import assert_refused, count

SURROGATE = "\ud800"
NUL = "a\x00b"
HUGE = 10**400
EDITOR = Actor("user", None, "editor@example.test")


def post(agent, path: str, body=None, raw: str | None = None):
    data = raw if raw is not None else json.dumps(body)  # "\ud800" goes out as an escape
    return agent.client.post(path, data=data, content_type="application/json",
                             headers=agent.headers)


@pytest.mark.parametrize("body, field", [
    ({"pipelineId": "p"}, "body"),  # an object where the array goes
    ("lines", "body"),
    ([{"pipelineId": SURROGATE, "lines": ["x"]}], "batches[0].pipelineId"),
    ([{"pipelineId": NUL, "lines": ["x"]}], "batches[0].pipelineId"),
    ([{"pipelineId": "", "lines": ["x"]}], "batches[0].pipelineId"),
    ([{"lines": ["x"]}], "batches[0].pipelineId"),
    ([{"pipelineId": "p", "lines": "not a list"}], "batches[0].lines"),
    ([{"pipelineId": "p", "lines": [HUGE]}], "batches[0].lines[0]"),
    ([{"pipelineId": "p", "lines": [{"deep": []}]}], "batches[0].lines[0]"),
    ([{"pipelineId": "p", "lines": ["x"] * 2001}], "batches[0].lines"),
    ([{"pipelineId": "p", "lines": []}] * 101, "batches"),
])
def test_a_hostile_log_post_is_a_400_naming_the_field(agent, pipeline, body, field):
    assert_refused(post(agent, "/api/agent/logs", body), field)
    assert count(LogLine) == 0


def test_unclean_and_overlong_lines_are_cleaned_and_kept_to_be_shown(client, login_as, agent,
                                                                     pipeline):
    lines = [f"2026-05-03T15:00:00Z INFO bad {SURROGATE} and {NUL}", "x" * 10_000,
             "no time and no level", "9999999-99-99T99:99Z ERROR not a time"]
    assert post(agent, "/api/agent/logs", [{"pipelineId": pipeline.id, "lines": lines}]
                ).status_code == 200
    rows = db.session.scalars(sa.select(LogLine).order_by(LogLine.id)).all()
    assert rows[0].message == "bad \ufffd and a\ufffdb" and rows[0].level == "INFO"
    assert len(rows[1].message) == 4000
    assert (rows[2].level, rows[2].message) == (None, "no time and no level")
    assert rows[3].level is None  # an impossible time: the line is kept whole
    login_as("VIEWER")
    page = client.get(f"/nodes/{agent.node.id}/logs", headers={"HX-Request": "true"})
    assert page.status_code == 200 and "bad \ufffd" in page.get_data(as_text=True)


@pytest.mark.parametrize("raw", [
    "[" * 5000 + "]" * 5000,
    '[{"pipelineId": "p", "lines": [NaN]}]',
    '[{"pipelineId": "p", "lines": ["x"]',
])
def test_malformed_or_deep_json_is_a_400(agent, pipeline, raw):
    assert post(agent, "/api/agent/logs", raw=raw).status_code == 400
    assert count(LogLine) == 0


@pytest.mark.parametrize("result, field", [
    ({"requestId": SURROGATE, "componentKey": "demo"}, "results[0].requestId"),
    ({"requestId": "{id}", "componentKey": NUL}, "results[0].componentKey"),
    ({"requestId": "{id}", "componentKey": "demo", "events": [{"n": HUGE}]},
     "results[0].events[0]"),
    ({"requestId": "{id}", "componentKey": "demo", "events": [{SURROGATE: 1}]},
     "results[0].events[0]"),
    ({"requestId": "{id}", "componentKey": "demo", "events": ["not an object"]},
     "results[0].events[0]"),
    ({"requestId": "{id}", "componentKey": "demo", "events": [{}] * 101},
     "results[0].events"),
    ({"requestId": "{id}", "componentKey": "demo",
      "schema": [{"path": "a", "type": "string", "sample": NUL}]}, "results[0].schema[0].sample"),
    ({"requestId": "{id}", "componentKey": "demo",
      "schema": [{"path": SURROGATE, "type": "string"}]}, "results[0].schema[0].path"),
])
def test_hostile_sample_results_are_a_400_and_leave_the_request_pending(agent, pipeline, result,
                                                                        field):
    request = telemetry.request_sample(pipeline, "demo", 5, EDITOR)
    db.session.commit()
    result = {k: v.replace("{id}", request.id) if isinstance(v, str) else v
              for k, v in result.items()}
    assert_refused(post(agent, "/api/agent/samples", {"results": [result]}), field)
    db.session.refresh(request)
    seen = db.session.scalars(sa.select(Event.type).where(Event.type.not_in(INTERNAL_EVENTS)))
    assert request.results == [] and list(seen) == ["pipeline.sample_requested"]  # its own


@pytest.mark.parametrize("change, field", [
    ({"requestId": SURROGATE}, "requestId"),
    ({"requestId": NUL}, "requestId"),
    ({"events": [{"v": HUGE}]}, "events[0]"),
    ({"events": [{"v": float("nan")}]}, "body"),
    ({"events": [{}] * 501}, "events"),
    ({"status": "paused"}, "status"),
    ({"reason": NUL}, "reason"),
])
def test_hostile_tap_events_are_a_400_naming_the_field(agent, pipeline, change, field):
    tap = telemetry.start_tap(agent.node, pipeline, "demo", EDITOR)
    db.session.commit()
    body = {"requestId": tap.id, "pipelineId": pipeline.id, "componentId": "demo",
            "events": [{"message": "x"}], **change}
    assert_refused(post(agent, "/api/agent/tap-events", body), field)
    assert count(TapEvent) == 0


def test_unknown_keys_from_newer_agents_are_ignored(agent, pipeline):
    body = [{"pipelineId": pipeline.id, "lines": ["2026-05-03T15:00:00Z INFO hi"],
             "compressed": False}]
    assert post(agent, "/api/agent/logs", body).status_code == 200
    assert post(agent, "/api/agent/samples", {"results": None, "nodeClock": 1}
                ).status_code == 200
    assert count(LogLine) == 1 and count(SampleRequest) == 0
