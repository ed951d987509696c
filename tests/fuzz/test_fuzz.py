"""Property-based fuzzing of the agent API and /api/v1 against the served OpenAPI document.

Every documented operation that takes input gets bodies and query strings built from its
own schema, then spoiled with hostile values (NUL, lone surrogates, 10^400, NaN, blank and
overlong text, unknown keys, any JSON at all). Whatever comes, the answer is never a 5xx
and always matches the document (status listed, body of the documented shape). Both
databases; bounded by ``max_examples`` so the suite takes well under a minute.
"""
from __future__ import annotations

import json
import os
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from vectorflow.api.openapi import document
from vectorflow.models import Alert, NotificationChannel, Role, utcnow
from vectorflow.models.alerts import FIRING
from vectorflow.services import tokens as token_service
from vectorflow.services.actors import Actor
from vectorflow.services.environments import issue_enrollment_token
from vectorflow.services.windows import create_window

from .. import factories
from ..api.openapi_check import check_exchange
from ..factories import db
from .strategies import hostile_bodies, query_values

# No shrinking: a failure prints the exchange as it was found, and the suite stays bounded.
# VF_FUZZ_EXAMPLES=500 digs deeper by hand.
FUZZ = settings(max_examples=int(os.environ.get("VF_FUZZ_EXAMPLES", "12")), deadline=timedelta(seconds=10), database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
# Streams never end; the document is served as is.
SKIPPED = {"/api/v1/events", "/api/agent/push", "/api/v1/openapi.json",
           "/api/v1/nodes/{node_id}/logs/stream"}


def operations(prefix: str, *, with_input: bool = True) -> list[tuple[str, str]]:
    found = []
    for path, entry in document()["paths"].items():
        for method, op in entry.items():
            if method == "parameters" or not path.startswith(prefix) or path in SKIPPED:
                continue
            if not with_input or "requestBody" in op or op.get("parameters"):
                found.append((method.upper(), path))
    return found


def request_model(method: str, path: str) -> str | None:
    """Return the name of the operation's request body schema, if it takes one."""
    body = document()["paths"][path][method.lower()].get("requestBody")
    return body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1] if body else None


def encode(body) -> str:
    # Python's encoder writes lone surrogates as escapes and NaN as NaN: both as attackers do.
    return json.dumps(body)


def answered(app, method, path, body, response) -> None:
    assert response.status_code < 500, f"{method} {path} {body!r}: {response.status_code}"
    check_exchange(app, method, path, body, response)


# -- the agent API ------------------------------------------------------------------------


@pytest.fixture
def fleet(world):
    pipeline = factories.make_pipeline(world.env, "logs")
    _, token = factories.make_node(world.env)
    enrollment = issue_enrollment_token(world.env)
    db.session.commit()
    return {"pipeline": pipeline.id, "node_token": token, "enrollment": enrollment}


@FUZZ
@given(data=st.data())
def test_enrolling_never_fails_whatever_the_body(app, client, fleet, data):
    body = data.draw(hostile_bodies("AgentEnrollRequest"))
    if isinstance(body, dict) and data.draw(st.booleans()):
        body["token"] = fleet["enrollment"]  # get past the token to the rest of the body
    response = client.post("/api/agent/enroll", data=encode(body),
                           content_type="application/json")
    answered(app, "POST", "/api/agent/enroll", body, response)


@FUZZ
@given(data=st.data())
def test_a_heartbeat_never_fails_whatever_the_body(app, client, fleet, data):
    body = data.draw(hostile_bodies("AgentHeartbeat"))
    if isinstance(body, dict) and isinstance(body.get("pipelines"), list):
        for report in body["pipelines"]:
            if isinstance(report, dict) and data.draw(st.booleans()):
                report["pipelineId"] = fleet["pipeline"]  # reach the status rows
    response = client.post("/api/agent/heartbeat", data=encode(body),
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {fleet['node_token']}"})
    answered(app, "POST", "/api/agent/heartbeat", body, response)


# -- agent telemetry ------------------------------------------------------------------------


@pytest.fixture
def telemetry_fleet(fleet, world):
    """The fleet plus a sample request and a running tap the fuzzed bodies can point at."""
    from vectorflow.models import Pipeline, VectorNode
    from vectorflow.services import telemetry
    from vectorflow.services.actors import Actor

    pipeline = db.session.get(Pipeline, fleet["pipeline"])
    node = db.session.scalar(sa.select(VectorNode))
    sample = telemetry.request_sample(pipeline, "out", 5, Actor.cli())
    tap = telemetry.start_tap(node, pipeline, "out", Actor.cli())
    db.session.commit()
    return {**fleet, "sample": sample.id, "tap": tap.id}


def agent_post(client, fleet, path, body):
    return client.post(path, data=encode(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {fleet['node_token']}"})


@FUZZ
@given(data=st.data())
def test_a_log_post_never_fails_whatever_the_body(app, client, fleet, data):
    body = data.draw(hostile_bodies("AgentLogBatches"))
    # The wire body is the array the document describes as ``batches``.
    wire = body["batches"] if isinstance(body, dict) and "batches" in body else body
    for batch in wire if isinstance(wire, list) else []:
        if isinstance(batch, dict) and data.draw(st.booleans()):
            batch["pipelineId"] = fleet["pipeline"]
    response = agent_post(client, fleet, "/api/agent/logs", wire)
    assert response.status_code < 500, (wire, response.status_code)
    answered(app, "POST", "/api/agent/logs", {"batches": wire}, response)


@FUZZ
@given(data=st.data())
def test_sample_results_never_fail_whatever_the_body(app, client, telemetry_fleet, data):
    body = data.draw(hostile_bodies("AgentSampleResults"))
    results = body.get("results") if isinstance(body, dict) else None
    for result in results if isinstance(results, list) else []:
        if isinstance(result, dict) and data.draw(st.booleans()):
            result["requestId"] = telemetry_fleet["sample"]
            result["componentKey"] = "out"
    response = agent_post(client, telemetry_fleet, "/api/agent/samples", body)
    answered(app, "POST", "/api/agent/samples", body, response)


@FUZZ
@given(data=st.data())
def test_tap_events_never_fail_whatever_the_body(app, client, telemetry_fleet, data):
    body = data.draw(hostile_bodies("AgentTapEvents"))
    if isinstance(body, dict) and data.draw(st.booleans()):
        body["requestId"] = telemetry_fleet["tap"]
    response = agent_post(client, telemetry_fleet, "/api/agent/tap-events", body)
    answered(app, "POST", "/api/agent/tap-events", body, response)


# -- /api/v1 --------------------------------------------------------------------------------


@pytest.fixture
def objects(world):
    """Ids of real objects to put in paths, and API tokens of a few roles."""
    pipeline = factories.make_pipeline(world.env, "logs", versions=2)
    node, _ = factories.make_node(world.env)
    secret = factories.make_secret(world.env, "tok")
    raw = {who: token_service.create_personal_token(world.users[who], f"fuzz-{who}")[1]
           for who in ("superadmin", "ADMIN", "VIEWER")}
    other, _ = token_service.create_service_token(world.team, "other", Role.VIEWER)
    window = create_window(world.env, {"name": "nightly", "nodeIds": [node.id],
                                       "start": "2099-01-05T02:00:00+00:00",
                                       "durationMinutes": 60, "rrule": "FREQ=DAILY"},
                           actor=Actor.cli())
    # A loopback URL: a test message is refused at once, never sent anywhere.
    channel = NotificationChannel(team_id=world.team.id, name="ops", type="slack",
                                  url="http://127.0.0.1:9/hook", rules=[], events=[])
    alert = Alert(key="fuzz", rule="node_unreachable", state=FIRING,
                  environment_id=world.env.id, node_id=node.id, subject=node.name,
                  message="silent", since=utcnow(), fired_at=utcnow())
    db.session.add_all([channel, alert])
    db.session.commit()
    ids = {"env_id": [world.env.id, world.other_env.id], "node_id": [node.id],
           "pipeline_id": [pipeline.id], "secret_id": [secret.id], "token_id": [other.id],
           "window_id": [window.id], "channel_id": [channel.id], "alert_id": [str(alert.id)]}
    return {"ids": ids, "tokens": raw, "world": world}


def fill_path(data, path: str, ids: dict) -> str:
    for name, choices in ids.items():
        if "{" + name + "}" in path:
            value = data.draw(st.sampled_from([*choices, "0" * 20, "abc", "9" * 20]))
            path = path.replace("{" + name + "}", value)
    return path


def query_string(data, method: str, path: str) -> list[tuple[str, str]]:
    params = document()["paths"][path][method.lower()].get("parameters", [])
    pairs = []
    for param in params:
        if not data.draw(st.booleans()):
            continue
        schema = param["schema"]
        if schema.get("type") == "array":
            for value in data.draw(st.lists(query_values(schema["items"]), max_size=3)):
                pairs.append((param["name"], value))
        else:
            pairs.append((param["name"], data.draw(query_values(schema))))
    if data.draw(st.integers(0, 4)) == 0:
        pairs.append((data.draw(st.sampled_from(["colour", "limit", "cursor"])), "1"))
    return pairs


@pytest.mark.parametrize("method, path", operations("/api/v1/"))
def test_the_rest_api_never_fails_whatever_the_input(app, client, objects, method, path):
    body_model = request_model(method, path)

    @FUZZ
    @given(data=st.data())
    def exchange(data):
        url = fill_path(data, path, objects["ids"])
        who = data.draw(st.sampled_from(list(objects["tokens"])))
        body = data.draw(hostile_bodies(body_model)) if body_model else None
        if isinstance(body, dict) and data.draw(st.booleans()):
            # Point ids in bodies at real objects, to get past the 404s.
            for key, choices in (("teamId", [objects["world"].team.id]),
                                 ("environmentId", objects["ids"]["env_id"]),
                                 ("nodeIds", [objects["ids"]["node_id"]])):
                if key in body:
                    body[key] = data.draw(st.sampled_from(choices))
        headers = {"Authorization": f"Bearer {objects['tokens'][who]}"}
        kwargs = {"query_string": query_string(data, method, path)}
        if body_model:
            kwargs.update(data=encode(body), content_type="application/json")
        response = client.open(url, method=method, headers=headers, **kwargs)
        answered(app, method, url, body, response)

    exchange()


def test_every_operation_with_input_is_fuzzed():
    fuzzed = set(operations("/api/v1/")) | {("POST", "/api/agent/enroll"),
                                            ("POST", "/api/agent/heartbeat"),
                                            ("POST", "/api/agent/logs"),
                                            ("POST", "/api/agent/samples"),
                                            ("POST", "/api/agent/tap-events")}
    with_input = set(operations("/api/")) - {("GET", p) for p in SKIPPED}
    assert with_input <= fuzzed


def test_every_path_parameter_is_filled_with_a_real_id(objects):
    names = {name for path in document()["paths"] for name in re.findall(r"{(\w+)}", path)}
    assert names <= set(objects["ids"])
