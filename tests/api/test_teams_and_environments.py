"""Teams and environments over the API."""
from __future__ import annotations

import sqlalchemy as sa

from tests import factories
from vectorflow.extensions import db
from vectorflow.models import Environment, SecretBackend
from vectorflow.security import token_digest


def names(response) -> list[str]:
    return [item["name"] for item in response.get_json()["items"]]


def test_members_list_only_their_teams_and_a_superadmin_lists_all(api):
    assert names(api.get("/api/v1/teams", "VIEWER")) == ["Platform"]
    assert names(api.get("/api/v1/teams", "outsider")) == ["Payments"]
    assert names(api.get("/api/v1/teams", "superadmin")) == ["Payments", "Platform"]


def test_a_service_token_lists_only_its_own_team(api):
    assert names(api.get("/api/v1/teams", "service:ADMIN")) == ["Platform"]


def test_a_superadmin_creates_a_team(api):
    response = api.post("/api/v1/teams", "superadmin", json={"name": "Observability"})
    assert response.status_code == 201
    assert response.get_json()["name"] == "Observability"
    assert "Observability" in names(api.get("/api/v1/teams", "superadmin"))


def test_team_admins_and_service_tokens_cannot_create_teams(api):
    assert api.post("/api/v1/teams", "ADMIN", json={"name": "X"}).status_code == 403
    assert api.post("/api/v1/teams", "service:ADMIN", json={"name": "X"}).status_code == 403


def test_a_duplicate_team_name_is_a_conflict(api):
    response = api.post("/api/v1/teams", "superadmin", json={"name": "Platform"})
    assert response.status_code == 409
    assert "already exists" in response.get_json()["error"]


def test_lists_are_paginated_with_a_cursor(api):
    for i in range(5):
        factories.make_team(f"Team {i}")
    db.session.commit()
    seen, cursor = [], None
    while True:
        url = "/api/v1/teams?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(url, "superadmin").get_json()
        assert len(body["items"]) <= 2
        seen += [item["name"] for item in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 7


def test_a_bad_cursor_or_limit_is_a_400_naming_the_parameter(api):
    bad_cursor = api.get("/api/v1/teams?cursor=nonsense", "VIEWER")
    assert bad_cursor.status_code == 400
    assert "cursor" in bad_cursor.get_json()["details"]
    assert api.get("/api/v1/teams?limit=0", "VIEWER").get_json()["details"] == {
        "limit": "must be at least 1"}
    assert api.get("/api/v1/teams?limit=many", "VIEWER").status_code == 400
    assert api.get("/api/v1/teams?colour=red", "VIEWER").get_json()["details"] == {
        "colour": "unknown parameter"}


def test_environments_of_other_teams_are_not_listed(api, world):
    assert names(api.get("/api/v1/environments", "VIEWER")) == ["production"]
    assert api.get(f"/api/v1/environments?teamId={world.other_team.id}", "VIEWER").status_code == 404
    assert api.get(f"/api/v1/environments/{world.other_env.id}", "VIEWER").status_code == 404
    shown = api.get(f"/api/v1/environments/{world.env.id}", "VIEWER").get_json()
    assert shown["name"] == "production" and shown["teamId"] == world.team.id


def test_an_editor_creates_an_environment_with_a_secret_backend(api, world):
    response = api.post("/api/v1/environments", "EDITOR", json={
        "name": "staging", "teamId": world.team.id, "secretBackend": "VAULT",
        "secretBackendConfig": {"address": "https://vault.internal:8200"},
    })
    assert response.status_code == 201
    body = response.get_json()
    assert body["secretBackend"] == "VAULT"
    assert body["secretBackendConfig"] == {"address": "https://vault.internal:8200"}
    env = db.session.get(Environment, body["id"])
    assert env.team_id == world.team.id and env.secret_backend == SecretBackend.VAULT


def test_creating_an_environment_needs_editor_in_that_team(api, world):
    body = {"name": "staging", "teamId": world.team.id}
    assert api.post("/api/v1/environments", "VIEWER", json=body).status_code == 403
    assert api.post("/api/v1/environments", "service:VIEWER", json=body).status_code == 403
    assert api.post("/api/v1/environments", "service:EDITOR", json=body).status_code == 201
    other = {"name": "staging", "teamId": world.other_team.id}
    assert api.post("/api/v1/environments", "ADMIN", json=other).status_code == 404
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(Environment).where(Environment.name == "staging")
    ) == 1


def test_a_bad_environment_body_is_a_400_that_changes_nothing(api, world):
    response = api.post("/api/v1/environments", "EDITOR", json={
        "name": "", "teamId": world.team.id, "secretBackend": "S3", "extra": 1,
    })
    assert response.status_code == 400
    details = response.get_json()["details"]
    assert details == {"name": "must not be empty", "extra": "unknown field",
                       "secretBackend": "must be one of BUILTIN, VAULT, AWS_SM, EXEC"}
    assert "name: must not be empty" in response.get_json()["error"]
    assert names(api.get("/api/v1/environments", "EDITOR")) == ["production"]


def test_an_admin_gets_a_new_enrollment_token_once(api, world):
    response = api.post(f"/api/v1/environments/{world.env.id}/enrollment-token", "service:ADMIN")
    assert response.status_code == 200
    body = response.get_json()
    assert body["token"].startswith("vf_enroll_") and body["hint"] == "****" + body["token"][-4:]
    db.session.refresh(world.env)
    assert world.env.enrollment_token_digest == token_digest(body["token"])
    listed = api.get(f"/api/v1/environments/{world.env.id}", "ADMIN").get_json()
    assert listed["enrollmentTokenHint"] == body["hint"] and "token" not in listed


def test_enrollment_tokens_need_admin_of_the_environments_team(api, world):
    url = f"/api/v1/environments/{world.env.id}/enrollment-token"
    assert api.post(url, "EDITOR").status_code == 403
    assert api.post(url, "service:EDITOR").status_code == 403
    assert api.post(url, "outsider").status_code == 404
    assert api.post(f"/api/v1/environments/{world.other_env.id}/enrollment-token",
                    "ADMIN").status_code == 404
    db.session.refresh(world.env)
    assert world.env.enrollment_token_digest is None
