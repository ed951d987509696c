"""Hostile input to the REST API and the pages gets a 4xx naming what was wrong, changes
nothing, and every page still renders (issue 16): timestamps out of range, crafted cursors,
NUL characters and lone surrogates in names, ids, filters and reasons."""
from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from vectorflow.models import AuditLog, Environment, Pipeline, Secret, Team, VectorNode

from .. import factories
from ..factories import db

NUL = "a\x00b"
SURROGATE = "\ud800"
OUT_OF_RANGE = ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00", "1970-01-01T00:00:00Z"]


def send(api, method, path, who="ADMIN", body=None):
    """Send ``body`` as JSON text (a lone surrogate travels as its escape, as on the wire)."""
    return api.call(method, path, who, data=json.dumps(body),
                    content_type="application/json")


def named(response, field: str, status: int = 400) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    payload = response.get_json()
    assert field in payload.get("details", {}), payload
    return payload


def rows(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def node(world):
    node, _ = factories.make_node(world.env, "web-1")
    db.session.commit()
    return node


def unchanged(node) -> bool:
    db.session.expire_all()
    fresh = db.session.get(VectorNode, node.id)
    audited = db.session.scalar(sa.select(sa.func.count()).where(AuditLog.entity_id == node.id))
    return not fresh.maintenance_mode and fresh.maintenance_until is None and audited == 0


# -- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize("until", OUT_OF_RANGE)
def test_an_until_out_of_range_is_a_400_for_one_node(api, node, until):
    response = send(api, "POST", f"/api/v1/nodes/{node.id}/maintenance",
                    body={"enabled": True, "until": until})
    named(response, "until")
    assert unchanged(node)


@pytest.mark.parametrize("until", OUT_OF_RANGE)
def test_an_until_out_of_range_is_a_400_in_bulk(api, node, until):
    response = send(api, "POST", "/api/v1/nodes/maintenance",
                    body={"enabled": True, "nodeIds": [node.id], "until": until})
    named(response, "until")
    assert unchanged(node)


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_an_audit_since_out_of_range_is_a_400(api, since):
    named(api.get(f"/api/v1/audit?since={quote(since)}", "ADMIN"), "since")


@pytest.mark.parametrize("until", OUT_OF_RANGE[:2])
@pytest.mark.parametrize("key", ["until", "until_local"])
def test_the_maintenance_form_refuses_an_until_out_of_range(client, login_as, node, key, until):
    login_as("ADMIN")
    response = client.submit(f"/nodes/{node.id}/maintenance", {"enabled": "1", key: until})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "between the years 2000 and 9000" in page and 'data-testid="maintenance-error"' in page
    assert unchanged(node)
    assert client.get(f"/nodes/{node.id}").status_code == 200


# -- cursors --------------------------------------------------------------------------------


def crafted(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


CURSORS = [crafted(["x"]), crafted([1, 2]), crafted([5]), crafted([100000000000000000000]),
           crafted(["\u0000", "x"]), crafted([True]), crafted(["a" * 500, "b"]), "%00", "!!"]


@pytest.fixture
def lists(world, node) -> list[str]:
    """Every paginated /api/v1 list, with whatever it needs to list something."""
    pipeline = factories.make_pipeline(world.env, "logs", versions=2)
    db.session.commit()
    return ["/api/v1/teams", "/api/v1/environments", "/api/v1/nodes", "/api/v1/audit",
            "/api/v1/tokens", "/api/v1/pipelines", f"/api/v1/secrets?environmentId={world.env.id}",
            f"/api/v1/pipelines/{pipeline.id}/versions"]


@pytest.mark.parametrize("cursor", CURSORS)
def test_a_crafted_cursor_is_a_400_on_every_list(api, lists, cursor):
    for path in lists:
        separator = "&" if "?" in path else "?"
        named(api.get(f"{path}{separator}cursor={quote(cursor, safe='%')}", "superadmin"),
              "cursor")


@pytest.mark.parametrize("cursor", CURSORS)
def test_a_crafted_cursor_is_a_400_on_the_audit_page(client, login_as, cursor):
    login_as("ADMIN")
    response = client.get(f"/audit/?cursor={quote(cursor, safe='%')}")
    assert response.status_code == 400
    assert "cursor" in response.get_data(as_text=True)
    assert client.get("/audit/").status_code == 200


def test_a_cursor_the_api_gave_still_works(api, world):
    for i in range(3):
        factories.make_team(f"team-{i}")
    db.session.commit()
    first = api.get("/api/v1/teams?limit=2", "superadmin").get_json()
    second = api.get(f"/api/v1/teams?limit=2&cursor={first['nextCursor']}", "superadmin")
    assert second.status_code == 200 and second.get_json()["items"]


# -- text -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_names_that_are_not_clean_text_are_refused(api, world, node, bad):
    pipeline = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    before = {model: rows(model) for model in (Team, Environment, Pipeline, Secret, AuditLog)}
    cases = [
        ("POST", "/api/v1/teams", "superadmin", {"name": bad}, "name"),
        ("POST", "/api/v1/environments", "ADMIN", {"name": bad, "teamId": world.team.id}, "name"),
        ("POST", "/api/v1/environments", "ADMIN", {"name": "x", "teamId": bad}, "teamId"),
        ("POST", "/api/v1/environments", "ADMIN",
         {"name": "x", "teamId": world.team.id, "secretBackendConfig": {"a": [bad]}},
         "secretBackendConfig"),
        ("POST", "/api/v1/pipelines", "ADMIN",
         {"environmentId": world.env.id, "name": bad, "configYaml": factories.SIMPLE_CONFIG},
         "name"),
        ("POST", "/api/v1/pipelines", "ADMIN",
         {"environmentId": bad, "name": "x", "configYaml": factories.SIMPLE_CONFIG},
         "environmentId"),
        ("PUT", f"/api/v1/pipelines/{pipeline.id}", "ADMIN", {"description": bad}, "description"),
        ("POST", "/api/v1/secrets", "ADMIN",
         {"environmentId": world.env.id, "name": "tok", "value": bad}, "value"),
        ("POST", "/api/v1/tokens", "ADMIN", {"name": bad}, "name"),
        ("PATCH", f"/api/v1/nodes/{node.id}", "ADMIN", {"name": bad}, "name"),
        ("POST", f"/api/v1/nodes/{node.id}/maintenance", "ADMIN",
         {"enabled": True, "reason": bad}, "reason"),
        ("POST", "/api/v1/nodes/maintenance", "ADMIN",
         {"enabled": True, "nodeIds": [bad]}, "nodeIds[0]"),
        ("POST", "/api/v1/nodes/maintenance", "ADMIN",
         {"enabled": True, "selector": {"environmentId": world.env.id, "labels": {"a": bad}}},
         "selector.labels.a"),
    ]
    for method, path, who, body, field in cases:
        named(send(api, method, path, who, body), field)
    assert {model: rows(model) for model in before} == before
    assert unchanged(node) and db.session.get(VectorNode, node.id).name == "web-1"


@pytest.mark.parametrize("path, field", [
    ("/api/v1/audit?action=node%00x", "action"),
    ("/api/v1/audit?nodeId=%00", "nodeId"),
    ("/api/v1/audit?teamId=a%00", "teamId"),
    ("/api/v1/nodes?label=a%3Db%00", "label"),
    ("/api/v1/nodes?environmentId=%00", "environmentId"),
    ("/api/v1/pipelines?name=x%00", "name"),
    ("/api/v1/environments?teamId=%00", "teamId"),
    ("/api/v1/secrets?environmentId=%00", "environmentId"),
    ("/api/v1/nodes?limit=99999999999999999999999", "limit"),
])
def test_query_filters_that_are_not_clean_text_are_refused(api, world, path, field):
    named(api.get(path, "ADMIN"), field)


@pytest.mark.parametrize("path", ["/api/v1/nodes/%00", "/api/v1/pipelines/ab%00cd"])
def test_a_path_holding_a_nul_is_a_400_naming_the_path(api, path):
    named(api.get(path, "ADMIN"), "path")


@pytest.mark.parametrize("path", ["/api/v1/environments/" + "a" * 41, "/api/v1/nodes/xyz",
                                  "/api/v1/alerts/99999999999999999999/ack",
                                  "/api/v1/alerts/abc/ack"])
def test_a_path_id_that_cannot_be_an_id_is_a_404(api, path):
    method = "POST" if path.endswith("/ack") else "GET"
    assert api.call(method, path, "ADMIN", json={}).status_code == 404


def test_page_ids_and_filters_with_nul_are_not_found_or_refused(client, login_as, node):
    login_as("ADMIN")
    assert client.get("/nodes/ab%00cd").status_code == 400
    assert client.post("/tokens/ab%00cd/revoke",
                       data={"csrf_token": client.csrf_token()}).status_code == 400
    # A numbered id past BIGINT matches no route (PostgreSQL would refuse to compare it).
    assert client.post("/alerts/99999999999999999999/ack",
                       data={"csrf_token": client.csrf_token()}).status_code == 404
    assert client.get("/audit/?action=x%00").status_code == 400
    assert client.get("/audit/?node=%00").status_code == 400
    assert client.get("/?q=a%00b").status_code == 400
    assert client.get("/?q=web").status_code == 200


def test_a_rename_form_with_a_nul_shows_a_message_and_changes_nothing(client, login_as, node):
    login_as("ADMIN")
    response = client.submit(f"/nodes/{node.id}/rename", {"name": NUL})
    assert response.status_code == 400
    assert "must not contain NUL characters" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(VectorNode, node.id).name == "web-1"


def test_a_member_email_with_a_nul_shows_a_message(client, login_as, world):
    login_as("ADMIN")
    response = client.submit(f"/teams/{world.team.id}/members",
                             {"email": "a\x00b@example.com", "role": "VIEWER"})
    assert response.status_code == 400
    assert "must not contain NUL characters" in response.get_data(as_text=True)
