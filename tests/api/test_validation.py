"""Malformed requests get a 4xx with a message, and change nothing."""
from __future__ import annotations

import json

import pytest

from vectorflow.api.openapi import document
from vectorflow.schemas.api import BulkMaintenance, NodeMaintenance
from vectorflow.schemas.base import InvalidInput, parse_body


def create_env(api, world, **kwargs):
    return api.post("/api/v1/environments", "ADMIN", **kwargs)


def test_a_body_that_is_not_json_is_a_415(api, world):
    response = create_env(api, world, data="name=staging", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "application/json" in response.get_json()["error"]


def test_malformed_json_is_a_400_with_the_parser_message(api, world):
    response = create_env(api, world, data='{"name": "staging",', content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["details"]["body"].startswith("malformed JSON")


def test_a_json_list_body_is_a_400(api, world):
    response = create_env(api, world, json=["staging"])
    assert response.status_code == 400
    assert response.get_json()["details"] == {"body": "must be a JSON object"}


def test_missing_and_mistyped_fields_are_each_named(api, world):
    response = create_env(api, world, json={"name": 5, "secretBackendConfig": "x"})
    assert response.status_code == 400
    assert response.get_json()["details"] == {
        "name": "must be a string", "teamId": "required",
        "secretBackendConfig": "must be an object"}


def test_an_overlong_field_is_a_400(api, world):
    response = create_env(api, world, json={"name": "x" * 101, "teamId": world.team.id})
    assert response.get_json()["details"] == {"name": "must be at most 100 characters"}


def test_a_body_over_the_size_limit_is_a_413(app, api, world):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = create_env(api, world, data=json.dumps({"name": "x" * 2000}),
                          content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]


def problems_of(model, body) -> dict:
    with pytest.raises(InvalidInput) as caught:
        parse_body(model, body)
    return caught.value.details


@pytest.mark.parametrize("body,problem", [
    ({}, {"enabled": "required"}),
    ({"enabled": "yes"}, {"enabled": "must be true or false"}),
    ({"enabled": 1}, {"enabled": "must be true or false"}),
    ({"enabled": True, "reason": "x" * 501}, {"reason": "must be at most 500 characters"}),
    ({"enabled": True, "reason": "\ud800"},
     {"reason": "must be valid Unicode (it holds a lone surrogate)"}),
    ({"enabled": True, "reason": "a\x00b"}, {"reason": "must not contain NUL characters"}),
    ({"enabled": True, "until": "soon"},
     {"until": "must be an ISO 8601 timestamp, e.g. 2026-05-03T15:00:00Z"}),
    ({"enabled": True, "until": "2030-01-01T00:00:00"},
     {"until": "must include a time zone, e.g. 2026-05-03T15:00:00Z"}),
    ({"enabled": True, "until": "9999-12-31T23:59:59-05:00"},
     {"until": "must be between the years 2000 and 9000"}),
    ({"enabled": True, "until": 5}, {"until": "must be an ISO 8601 timestamp string"}),
])
def test_a_model_names_each_problem(body, problem):
    assert problems_of(NodeMaintenance, body) == problem


@pytest.mark.parametrize("body,problem", [
    ({"enabled": True, "selector": {"environmentId": "e", "labels": {"a": 1}}},
     {"selector.labels.a": "must be a string"}),
    ({"enabled": True, "selector": {"environmentId": "e", "env": "x"}},
     {"selector.env": "unknown field"}),
    ({"enabled": True, "selector": {}}, {"selector.environmentId": "required"}),
    ({"enabled": True, "nodeIds": ["a", 2]}, {"nodeIds[1]": "must be a string"}),
    ({"enabled": True, "nodeIds": ["a"] * 1001}, {"nodeIds": "must have at most 1000 items"}),
    ({"enabled": True, "nodeIds": []}, {"nodeIds": "must not be empty"}),
    ({"enabled": True}, {"selector": "give either selector or nodeIds"}),
])
def test_nested_problems_are_named_by_their_path(body, problem):
    assert problems_of(BulkMaintenance, body) == problem


def test_a_model_returns_checked_values_with_timestamps_in_utc():
    body = parse_body(NodeMaintenance, {"enabled": True, "reason": None,
                                        "until": "2026-05-03T17:00:00+02:00"})
    assert body.until.isoformat() == "2026-05-03T15:00:00+00:00"
    assert body.reason is None and body.force is None


def test_the_document_shows_each_model_with_its_limits():
    schema = document()["components"]["schemas"]["NodeMaintenance"]
    assert schema["required"] == ["enabled"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["reason"] == {"anyOf": [{"type": "string", "maxLength": 500},
                                                        {"type": "null"}]}
    assert schema["properties"]["until"]["anyOf"][0] == {"type": "string", "format": "date-time"}
