"""HTTP as clients and proxies expect it: Allow on 405, WWW-Authenticate on 401, the methods
each path really has, and the OpenAPI document open to anyone."""
from __future__ import annotations

import json

import pytest

from vectorflow.api.openapi import document

from .. import factories
from .openapi_check import _validate


def allowed(response) -> set[str]:
    return {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}


@pytest.mark.parametrize("method, path, methods", [
    ("DELETE", "/api/v1/teams", {"GET", "POST"}),
    ("GET", "/api/v1/nodes/maintenance", {"POST"}),
    ("POST", "/api/agent/config", {"GET"}),
    ("GET", "/api/agent/heartbeat", {"POST"}),
])
def test_a_405_says_which_methods_the_path_allows(api, method, path, methods):
    response = api.call(method, path, "ADMIN")
    assert response.status_code == 405 and response.is_json
    assert allowed(response) - {"HEAD", "OPTIONS"} == methods


def test_options_advertises_only_the_methods_of_that_path(client, world):
    node, _ = factories.make_node(world.env)
    factories.db.session.commit()
    assert allowed(client.options("/api/v1/nodes/maintenance")) == {"POST", "OPTIONS"}
    assert allowed(client.options(f"/api/v1/nodes/{node.id}")) == {
        "GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer vf_api_" + "0" * 64},
    {"Authorization": "Basic dXNlcjpwYXNz"},
])
def test_a_401_from_the_api_names_the_bearer_scheme(api, headers):
    response = api.get("/api/v1/teams", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json() == {"error": "Unauthorized"}


@pytest.mark.parametrize("authorization", [
    None, "Bearer not-a-token", "Bearer vf_node_" + "0" * 64, "Basic dXNlcjpwYXNz", "garbage",
])
def test_the_openapi_document_is_public_whatever_authorization_comes_with_it(api, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = api.get("/api/v1/openapi.json", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == json.loads(json.dumps(document()))


def test_the_heartbeat_schema_accepts_the_nulls_go_agents_send():
    heartbeat = {"pipelines": None, "hostMetrics": None, "labels": None, "sampleResults": None,
                 "agentVersion": None, "vectorVersion": None, "deploymentMode": None,
                 "runningAs": None, "updateError": None, "agentHealth": None}
    _validate(heartbeat, {"$ref": "#/components/schemas/AgentHeartbeat"}, "heartbeat")
    status = {"pipelineId": "p", "version": 1, "status": "RUNNING", "pid": None,
              "uptimeSeconds": None, "eventsIn": None, "componentMetrics": None,
              "utilization": None, "recentLogs": None, "configChecksum": None}
    _validate({"pipelines": [status]}, {"$ref": "#/components/schemas/AgentHeartbeat"}, "status")
    enroll = {"token": "t", "hostname": "h", "os": None, "agentVersion": None, "labels": None}
    _validate(enroll, {"$ref": "#/components/schemas/AgentEnrollRequest"}, "enroll")


def test_a_go_agent_heartbeat_full_of_nulls_is_accepted(client, world):
    _, token = factories.make_node(world.env)
    factories.db.session.commit()
    response = client.post("/api/agent/heartbeat", headers={"Authorization": f"Bearer {token}"},
                           json={"pipelines": [{"pipelineId": "p", "version": 1, "status": "RUNNING",
                                                "pid": None, "recentLogs": None}],
                                 "agentVersion": None, "labels": None, "updateError": None})
    assert response.status_code == 200
