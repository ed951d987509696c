"""API tokens: the service, the API endpoints and the tokens page."""
from __future__ import annotations

import re

import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import ApiToken, AuditLog, Role
from vectorflow.services import tokens as token_service


def token_named(name: str) -> ApiToken:
    return db.session.scalar(sa.select(ApiToken).where(ApiToken.name == name))


def test_tokens_are_stored_as_digests_and_shown_once(world):
    token, raw = token_service.create_personal_token(world.users["EDITOR"], "laptop")
    db.session.commit()
    assert re.fullmatch(r"vf_api_[0-9a-f]{64}", raw)
    assert token.token_hint == "****" + raw[-4:]
    stored = db.session.execute(sa.text("SELECT * FROM api_tokens")).mappings().one()
    assert raw not in [str(v) for v in stored.values()]


def test_creating_and_revoking_a_token_is_audited_without_the_token(world):
    token, raw = token_service.create_service_token(world.team, "ci", Role.EDITOR)
    token_service.revoke_token(token)
    token_service.revoke_token(token)  # twice: no second row
    db.session.commit()
    rows = db.session.scalars(sa.select(AuditLog).order_by(AuditLog.id)).all()
    assert [r.action for r in rows] == ["token.created", "token.revoked"]
    assert rows[0].after["role"] == "EDITOR" and rows[0].team_id == world.team.id
    assert raw not in str([(r.before, r.after) for r in rows])
    assert token.token_digest not in str([(r.before, r.after) for r in rows])


def test_a_personal_token_acts_with_its_users_roles(api, world):
    response = api.post("/api/v1/tokens", "EDITOR", json={"name": "second laptop"})
    assert response.status_code == 201
    created = response.get_json()
    assert created["kind"] == "personal" and created["owner"] == "editor@example.com"
    assert created["role"] is None
    raw = created["token"]
    body = {"name": "staging", "teamId": world.team.id}
    assert api.post("/api/v1/environments", token=raw, json=body).status_code == 201
    assert api.post(f"/api/v1/environments/{world.env.id}/enrollment-token",
                    token=raw).status_code == 403


def test_an_admin_creates_a_service_token_for_their_team(api, world):
    response = api.post("/api/v1/tokens", "ADMIN",
                        json={"name": "deploy-bot", "teamId": world.team.id, "role": "EDITOR"})
    assert response.status_code == 201
    created = response.get_json()
    assert (created["kind"], created["owner"], created["role"]) == ("service", "Platform", "EDITOR")
    assert [t["name"] for t in api.get("/api/v1/teams", token=created["token"]).get_json()["items"]] \
        == ["Platform"]


def test_service_tokens_need_admin_of_the_team(api, world):
    body = {"name": "bot", "teamId": world.team.id, "role": "VIEWER"}
    assert api.post("/api/v1/tokens", "EDITOR", json=body).status_code == 403
    assert api.post("/api/v1/tokens", "outsider", json=body).status_code == 404
    assert api.post("/api/v1/tokens", "service:EDITOR", json=body).status_code == 403
    assert api.post("/api/v1/tokens", "service:ADMIN", json=body).status_code == 201


def test_a_service_token_needs_a_role_and_a_personal_token_has_none(api, world):
    no_role = api.post("/api/v1/tokens", "ADMIN", json={"name": "bot", "teamId": world.team.id})
    assert no_role.status_code == 400 and no_role.get_json()["details"] == {"role": "required with teamId"}
    with_role = api.post("/api/v1/tokens", "ADMIN", json={"name": "me", "role": "ADMIN"})
    assert with_role.status_code == 400
    bad_role = api.post("/api/v1/tokens", "ADMIN",
                        json={"name": "bot", "teamId": world.team.id, "role": "OWNER"})
    assert bad_role.status_code == 400 and "role" in bad_role.get_json()["details"]


def test_a_service_token_cannot_mint_personal_tokens(api):
    response = api.post("/api/v1/tokens", "service:ADMIN", json={"name": "escape"})
    assert response.status_code == 403
    assert "service token" in response.get_json()["error"]


def test_the_token_list_shows_own_personal_tokens_and_service_tokens_of_admin_teams(api):
    def listed(who):
        return sorted(t["name"] for t in api.get("/api/v1/tokens", who).get_json()["items"])

    assert listed("VIEWER") == ["viewer-laptop"]
    assert listed("ADMIN") == ["admin-laptop", "ci-admin", "ci-editor", "ci-viewer"]
    assert listed("outsider") == ["outsider-laptop"]
    assert listed("service:ADMIN") == ["ci-admin", "ci-editor", "ci-viewer"]


def test_a_revoked_token_gets_401_and_is_listed_only_on_request(api):
    token = token_named("ci-viewer")
    assert api.delete(f"/api/v1/tokens/{token.id}", "ADMIN").status_code == 204
    assert api.get("/api/v1/teams", "service:VIEWER").status_code == 401
    names = [t["name"] for t in api.get("/api/v1/tokens", "ADMIN").get_json()["items"]]
    assert "ci-viewer" not in names
    everything = api.get("/api/v1/tokens?includeRevoked=true", "ADMIN").get_json()["items"]
    revoked = next(t for t in everything if t["name"] == "ci-viewer")
    assert revoked["revokedAt"] is not None


def test_nobody_revokes_a_token_they_may_not_see(api):
    personal = token_named("editor-laptop")
    service = token_named("ci-admin")
    assert api.delete(f"/api/v1/tokens/{personal.id}", "ADMIN").status_code == 404
    assert api.delete(f"/api/v1/tokens/{service.id}", "EDITOR").status_code == 404
    assert api.delete(f"/api/v1/tokens/{service.id}", "outsider").status_code == 404
    assert api.get("/api/v1/teams", "EDITOR").status_code == 200
    assert api.get("/api/v1/teams", "service:ADMIN").status_code == 200


# -- the tokens page ---------------------------------------------------------------------


def test_the_tokens_page_lists_what_the_user_may_manage(client, login_as, api_tokens):
    login_as("ADMIN")
    page = client.get("/tokens/").get_data(as_text=True)
    for name in ("admin-laptop", "ci-admin", "ci-editor", "ci-viewer"):
        assert name in page
    assert "editor-laptop" not in page
    assert "New service token" in page


def test_a_viewer_sees_only_their_tokens_and_no_service_token_form(client, login_as, api_tokens):
    login_as("VIEWER")
    page = client.get("/tokens/").get_data(as_text=True)
    assert "viewer-laptop" in page and "ci-admin" not in page
    assert "New service token" not in page


def test_creating_a_personal_token_on_the_page_shows_it_once(client, login_as):
    user = login_as("EDITOR")
    page = client.submit("/tokens/personal", {"name": "scripts"}).get_data(as_text=True)
    raw = re.search(r"vf_api_[0-9a-f]{64}", page).group(0)
    assert token_named("scripts").user_id == user.id
    assert raw not in client.get("/tokens/").get_data(as_text=True)


def test_an_admin_creates_a_service_token_on_the_page(client, login_as, world):
    login_as("ADMIN")
    response = client.submit("/tokens/service",
                             {"name": "ci", "team_id": world.team.id, "role": "EDITOR"})
    assert response.status_code == 200
    assert re.search(r"vf_api_[0-9a-f]{64}", response.get_data(as_text=True))
    token = token_named("ci")
    assert (token.team_id, token.role) == (world.team.id, Role.EDITOR)


def test_a_non_admin_cannot_create_a_service_token_on_the_page(client, login_as, world):
    login_as("EDITOR")
    response = client.submit("/tokens/service",
                             {"name": "ci", "team_id": world.team.id, "role": "ADMIN"})
    assert response.status_code == 403
    login_as("outsider")
    response = client.submit("/tokens/service",
                             {"name": "ci", "team_id": world.team.id, "role": "ADMIN"})
    assert response.status_code == 404
    assert token_named("ci") is None


def test_revoking_on_the_page_needs_the_csrf_token(app, client, login_as, api_tokens):
    login_as("ADMIN")
    token = token_named("ci-admin")
    assert client.post(f"/tokens/{token.id}/revoke").status_code == 400
    db.session.refresh(token)
    assert token.revoked_at is None
    response = client.submit(f"/tokens/{token.id}/revoke", follow_redirects=True)
    assert "revoked" in response.get_data(as_text=True)
    db.session.refresh(token)
    assert token.revoked_at is not None


def test_the_revoke_button_asks_in_a_dialog(client, login_as, api_tokens):
    login_as("VIEWER")
    page = client.get("/tokens/").get_data(as_text=True)
    assert "<dialog" in page and "confirm(" not in page
