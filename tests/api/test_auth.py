"""Bearer API tokens: who gets in, who does not, CSRF, and how token writes are audited."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from vectorflow.api.openapi import PATHS
from vectorflow.extensions import db
from vectorflow.models import ApiToken, AuditLog, Environment
from vectorflow.services import tokens as token_service

# Every documented /api/v1 operation that needs a caller, with placeholder ids (123 can be
# an id of either kind: hex or numbered).
PROTECTED = sorted(
    (method.upper(), re.sub(r"{\w+}", "123", path))
    for path, operations in PATHS.items()
    if path.startswith("/api/v1/")
    for method, operation in operations.items()
    if operation["security"]
)


def _statuses(api, who=None) -> dict[str, int]:
    return {
        f"{method} {path}": api.call(method, path, who,
                                     json={} if method in ("POST", "PUT") else None).status_code
        for method, path in PROTECTED
    }


def test_every_endpoint_refuses_a_call_without_a_token(api):
    statuses = _statuses(api)
    assert {route: code for route, code in statuses.items() if code != 401} == {}
    assert api.get("/api/v1/teams").get_json() == {"error": "Unauthorized"}


def test_every_endpoint_refuses_a_revoked_token(api):
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == "admin-laptop"))
    token_service.revoke_token(token)
    db.session.commit()
    statuses = _statuses(api, "ADMIN")
    assert {route: code for route, code in statuses.items() if code != 401} == {}


@pytest.mark.parametrize("header", [
    "Bearer vf_api_" + "0" * 64,
    "Bearer",
    "Basic dXNlcjpwYXNz",
    "Bearer two words",
])
def test_unknown_or_malformed_authorization_headers_get_401(api, header):
    response = api.get("/api/v1/teams", headers={"Authorization": header})
    assert response.status_code == 401


def test_a_token_of_a_deactivated_user_stops_working(api, world, monkeypatch):
    from vectorflow.models import User

    monkeypatch.setattr(User, "is_active", property(lambda self: self.email != "admin@example.com"))
    assert api.get("/api/v1/teams", "ADMIN").status_code == 401
    assert api.get("/api/v1/teams", "EDITOR").status_code == 200


def test_a_call_records_when_the_token_was_last_used(api):
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == "viewer-laptop"))
    assert token.last_used_at is None
    assert api.get("/api/v1/teams", "VIEWER").status_code == 200
    db.session.refresh(token)
    assert token.last_used_at is not None


def test_bearer_writes_need_no_csrf_token(app, api, world):
    app.config["WTF_CSRF_ENABLED"] = True
    response = api.post("/api/v1/environments", "EDITOR",
                        json={"name": "staging", "teamId": world.team.id})
    assert response.status_code == 201


def test_cookie_session_writes_to_the_api_still_need_a_csrf_token(app, client, world, login_as):
    app.config["WTF_CSRF_ENABLED"] = True
    login_as("EDITOR")
    body = {"name": "staging", "teamId": world.team.id}
    refused = client.post("/api/v1/environments", json=body)
    assert refused.status_code == 400
    assert "CSRF" in refused.get_json()["error"]
    assert db.session.scalar(sa.select(Environment).where(Environment.name == "staging")) is None

    accepted = client.post("/api/v1/environments", json=body,
                           headers={"X-CSRFToken": client.csrf_token()})
    assert accepted.status_code == 201


def test_cookie_session_reads_work_without_a_token(client, login_as):
    login_as("VIEWER")
    response = client.get("/api/v1/teams")
    assert response.status_code == 200
    assert [t["name"] for t in response.get_json()["items"]] == ["Platform"]


def test_writes_through_a_token_are_audited_with_the_token_name(api, world):
    response = api.post("/api/v1/environments", "service:EDITOR",
                        json={"name": "staging", "teamId": world.team.id})
    assert response.status_code == 201
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "environment.created"))
    assert (row.actor_type, row.actor_label) == ("token", "ci-editor")


def test_a_personal_token_is_audited_with_its_own_name_not_its_user(api, world):
    api.post("/api/v1/environments", "EDITOR", json={"name": "staging", "teamId": world.team.id})
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "environment.created"))
    assert row.actor_label == "editor-laptop"


@pytest.mark.parametrize("remember", [False, True])
def test_a_bearer_call_acts_as_its_token_whatever_cookies_come_with_it(app, client, api, world,
                                                                       remember):
    from tests.conftest import sign_in

    sign_in(client, "outsider@example.com", **({"remember": "y"} if remember else {}))
    if remember:  # the browser was closed: only the remember-me cookie is left
        client.delete_cookie("session", domain=app.config["SERVER_NAME"])
    response = api.get("/api/v1/teams", "VIEWER")
    assert response.status_code == 200
    assert [t["name"] for t in response.get_json()["items"]] == ["Platform"]
    assert "Set-Cookie" not in response.headers
    bad = api.get("/api/v1/teams", token="vf_api_" + "0" * 64)
    assert bad.status_code == 401  # a signed-in browser's cookies do not stand in for it
