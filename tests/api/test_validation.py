"""Malformed requests get a 4xx with a message, and change nothing."""
from __future__ import annotations

import json

import pytest

from vectorflow.api.validation import Body, Field, InvalidInput


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


UNTIL = Body(
    enabled=Field("boolean", required=True),
    reason=Field("string", max_length=5, nullable=True),
    until=Field("datetime", nullable=True),
    selector=Field("object", fields=Body(labels=Field("object", values=Field("string")))),
    nodeIds=Field("array", items=Field("string"), max_items=2),
)


@pytest.mark.parametrize("body,problem", [
    ({}, {"enabled": "required"}),
    ({"enabled": "yes"}, {"enabled": "must be true or false"}),
    ({"enabled": True, "reason": "too long"}, {"reason": "must be at most 5 characters"}),
    ({"enabled": True, "until": "soon"},
     {"until": "must be an ISO 8601 timestamp, e.g. 2026-05-03T15:00:00Z"}),
    ({"enabled": True, "selector": {"labels": {"a": 1}}}, {"selector.labels.a": "must be a string"}),
    ({"enabled": True, "selector": {"env": "x"}}, {"selector.env": "unknown field"}),
    ({"enabled": True, "nodeIds": ["a", 2]}, {"nodeIds[1]": "must be a string"}),
    ({"enabled": True, "nodeIds": ["a", "b", "c"]}, {"nodeIds": "must have at most 2 items"}),
])
def test_body_declarations_name_each_problem(body, problem):
    with pytest.raises(InvalidInput) as caught:
        UNTIL.validate(body)
    assert caught.value.details == problem


def test_body_declarations_return_checked_values_with_timestamps_in_utc():
    data = UNTIL.validate({"enabled": True, "reason": None, "until": "2026-05-03T17:00:00+02:00"})
    assert data["until"].isoformat() == "2026-05-03T15:00:00+00:00"
    assert data["reason"] is None and "nodeIds" not in data


def test_body_declarations_render_their_json_schema():
    schema = UNTIL.schema()
    assert schema["required"] == ["enabled"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["reason"] == {"type": ["string", "null"], "maxLength": 5}
    assert schema["properties"]["until"] == {"type": ["string", "null"], "format": "date-time"}
