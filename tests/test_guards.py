"""Who may see and do what: a role table over every page and action of the foundation."""
import pytest

from tests.factories import make_node

WHO = ["anonymous", "VIEWER", "EDITOR", "ADMIN", "outsider", "superadmin"]

# (method, url template, expected status per WHO); {team}, {env}, {node} are the first team's.
TABLE = [
    ("GET", "/", [302, 200, 200, 200, 200, 200]),
    ("GET", "/teams/", [302, 200, 200, 200, 200, 200]),
    ("GET", "/teams/{team}", [302, 200, 200, 200, 404, 200]),
    ("POST", "/teams/", [302, 403, 403, 403, 403, 302]),
    ("POST", "/teams/{team}/members", [302, 403, 403, 302, 404, 302]),
    ("POST", "/teams/{team}/environments", [302, 403, 302, 302, 404, 302]),
    ("POST", "/teams/environments/{env}/enrollment-token", [302, 403, 403, 200, 404, 200]),
    ("GET", "/nodes/{node}", [302, 200, 200, 200, 404, 200]),
    ("GET", "/matrix/{env}", [302, 200, 200, 200, 404, 200]),
    ("GET", "/api/v1/teams", [401, 200, 200, 200, 200, 200]),
]

FORM_DATA = {
    "/teams/": {"name": "New Team"},
    "/teams/{team}/members": {"email": "outsider@example.com", "role": "VIEWER"},
    "/teams/{team}/environments": {"name": "staging", "secret_backend": "BUILTIN"},
}

CASES = [
    pytest.param(method, url, who, expected[i], id=f"{method} {url} as {who}")
    for method, url, expected in TABLE
    for i, who in enumerate(WHO)
]


@pytest.mark.parametrize("method, url, who, expected", CASES)
def test_role_table(client, world, login_as, method, url, who, expected):
    node, _ = make_node(world.env)
    from vectorflow.extensions import db

    db.session.commit()
    concrete = url.format(team=world.team.id, env=world.env.id, node=node.id)
    if who != "anonymous":
        login_as(who)
    if method == "GET":
        response = client.get(concrete)
    else:
        response = client.submit(concrete, FORM_DATA.get(url, {}))
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if expected == 302 and who == "anonymous":
        assert "/login" in response.headers["Location"]


def test_forbidden_pages_are_pages_and_api_errors_are_json(client, world, login_as):
    login_as("VIEWER")
    page = client.submit(f"/teams/{world.team.id}/members", {"email": "x@example.com"})
    assert page.status_code == 403 and page.mimetype == "text/html"
    client.get("/logout")
    api = client.get("/api/v1/teams", headers={"Accept": "application/json"})
    assert api.status_code == 401 or api.is_json


def test_api_callers_get_json_errors(client):
    response = client.get("/api/v1/teams")
    assert response.status_code == 401
    assert response.get_json() == {"error": "Unauthorized"}


def test_unknown_pages_are_404_pages(client, world, login_as):
    login_as("ADMIN")
    response = client.get("/nodes/does-not-exist")
    assert response.status_code == 404 and b"Not found" in response.data


def test_a_team_admin_adds_a_member_and_sets_roles(client, world, login_as, db):
    from vectorflow.models import AuditLog, Role

    login_as("ADMIN")
    response = client.submit(f"/teams/{world.team.id}/members",
                             {"email": "outsider@example.com", "role": "EDITOR"})
    assert response.status_code == 302
    assert world.users["outsider"].role_in(world.team.id) == Role.EDITOR
    page = client.get(f"/teams/{world.team.id}").get_data(as_text=True)
    assert "outsider@example.com" in page
    assert db.session.query(AuditLog).filter_by(action="team.member_set").count() == 1


def test_the_last_admin_cannot_be_demoted(client, world, login_as, db):
    from vectorflow.models import Role

    login_as("ADMIN")
    admin_member = next(m for m in world.team.members if m.role == Role.ADMIN)
    client.submit(f"/teams/{world.team.id}/members/{admin_member.id}/role", {"role": "VIEWER"})
    db.session.expire_all()
    assert world.users["ADMIN"].role_in(world.team.id) == Role.ADMIN


def test_enrollment_token_is_shown_once_then_only_its_hint(client, world, login_as, db):
    login_as("ADMIN")
    page = client.submit(f"/teams/environments/{world.env.id}/enrollment-token").get_data(as_text=True)
    import re

    token = re.search(r"vf_enroll_[0-9a-f]{64}", page).group(0)
    db.session.expire_all()
    assert world.env.enrollment_token_digest != token
    later = client.get(f"/teams/{world.team.id}").get_data(as_text=True)
    assert token not in later
    assert "****" + token[-4:] in later


def test_bad_environment_settings_json_is_a_form_message(client, world, login_as, db):
    from vectorflow.models import Environment

    login_as("EDITOR")
    response = client.submit(f"/teams/{world.team.id}/environments",
                             {"name": "vaulted", "secret_backend": "VAULT",
                              "secret_backend_config": "{not json"})
    assert response.status_code == 400
    assert b"Not valid JSON" in response.data
    assert db.session.query(Environment).filter_by(name="vaulted").count() == 0
