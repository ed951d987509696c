"""What every request goes through: bodies over the limit whatever their transfer encoding,
JSON nested too deep, NUL characters, and pages holding text UTF-8 cannot encode."""
from __future__ import annotations

import io
import json

import httpx
import pytest
import sqlalchemy as sa

from vectorflow.models import AuditLog, Environment, Pipeline, VectorNode
from vectorflow.schemas.fields import JSON_DEPTH_MAX
from vectorflow.services.environments import issue_enrollment_token
from vectorflow.services.samples import latest_host
from vectorflow.wrappers import json_depth_exceeds

from . import factories
from .events.servers import Gunicorn

MiB = 1024 * 1024
DEEP = "[" * 2000 + "]" * 2000  # 4 KB, far deeper than the parser's recursion limit
TOO_DEEP = f"JSON body is nested deeper than {JSON_DEPTH_MAX} levels"


def nested(levels: int, inner: str = "1") -> str:
    """Return ``inner`` inside ``levels`` arrays."""
    return "[" * levels + inner + "]" * levels


def chunked(client, path: str, body: bytes, content_type: str, **kwargs):
    """POST ``body`` the way a server hands over a chunked request: no Content-Length, and
    the server terminating the input stream."""
    environ = {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True,
               "HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_TYPE": content_type}
    response = client.post(path, environ_overrides=environ, **kwargs)
    assert "CONTENT_LENGTH" not in response.request.environ
    return response


def heartbeat(padding: int = 0, received: int = 1) -> bytes:
    body = {"pipelines": [], "hostMetrics": {"netRxBytes": received}, "padding": "x" * padding}
    return json.dumps(body).encode()


@pytest.fixture
def agent(db, client, world):
    node, token = factories.make_node(world.env, "edge-1")
    db.session.commit()
    return node, {"Authorization": f"Bearer {token}"}


def received(db, node) -> int | None:
    """Return the bytes received the node's host card shows (None: no host metrics yet)."""
    host = latest_host(node.id)
    return None if host is None else host["net_rx"]


# ---------------------------------------------------------------- request size

def test_a_chunked_body_over_the_limit_is_a_413_not_a_truncated_body(client, db, agent):
    node, headers = agent
    response = chunked(client, "/api/agent/heartbeat", heartbeat(MiB), "application/json",
                       headers=headers)
    assert response.status_code == 413
    assert response.get_json() == {"error": "Payload too large"}
    assert received(db, node) is None


def test_a_chunked_body_within_the_limit_is_read_whole(client, db, agent):
    node, headers = agent
    body = heartbeat(MiB - 200)
    assert len(body) < MiB
    response = chunked(client, "/api/agent/heartbeat", body, "application/json", headers=headers)
    assert response.status_code == 200, response.get_json()
    assert received(db, node) == 1


def test_a_chunked_body_of_exactly_the_limit_is_accepted(app, client, db, agent):
    _, headers = agent
    body = heartbeat(0)
    app.config["MAX_CONTENT_LENGTH"] = len(body)
    response = chunked(client, "/api/agent/heartbeat", body, "application/json", headers=headers)
    assert response.status_code == 200
    app.config["MAX_CONTENT_LENGTH"] = len(body) - 1
    response = chunked(client, "/api/agent/heartbeat", body, "application/json", headers=headers)
    assert response.status_code == 413


def test_a_chunked_api_body_over_the_limit_is_a_413_and_creates_nothing(client, db, world):
    token = factories.make_api_token(world.users["ADMIN"])
    db.session.commit()
    body = json.dumps({"name": "staging", "teamId": world.team.id, "x": "y" * MiB}).encode()
    response = chunked(client, "/api/v1/environments", body, "application/json",
                       headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 413
    assert response.get_json() == {"error": "Payload too large"}
    assert db.session.scalar(sa.select(Environment).where(Environment.name == "staging")) is None


def test_a_chunked_form_over_the_limit_is_a_413_page(client, db, world, login_as):
    login_as("EDITOR")
    token = client.csrf_token()
    form = (f"csrf_token={token}&name=big&config_yaml=" + "x" * MiB).encode()
    response = chunked(client, f"/environments/{world.env.id}/pipelines", form,
                       "application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "Payload too large" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Pipeline)) == 0


@pytest.mark.slow
def test_gunicorn_answers_413_to_a_chunked_body_over_the_limit(app, db, world, database_url,
                                                               tmp_path):
    node, token = factories.make_node(world.env, "edge-1")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def chunks(body: bytes):
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    with Gunicorn(database_url, tmp_path) as server, httpx.Client(timeout=30) as http:
        small = http.post(server.url("/api/agent/heartbeat"), headers=headers,
                          content=chunks(heartbeat(1000)))
        assert small.request.headers["Transfer-Encoding"] == "chunked"
        assert small.status_code == 200, small.text
        big = http.post(server.url("/api/agent/heartbeat"), headers=headers,
                        content=chunks(heartbeat(2 * MiB, received=2)))
        assert big.request.headers["Transfer-Encoding"] == "chunked"
        assert big.status_code == 413
        assert big.json() == {"error": "Payload too large"}
    db.session.rollback()
    assert received(db, node) == 1  # the small heartbeat only


# ---------------------------------------------------------------- JSON depth

def test_a_deeply_nested_enrollment_is_a_400_saying_so_without_credentials(client, db, world):
    response = client.post("/api/agent/enroll", data=DEEP, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": TOO_DEEP}
    response = client.post("/api/agent/enroll", data='{"token": ' + DEEP + "}")
    assert response.status_code == 400 and response.get_json() == {"error": TOO_DEEP}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VectorNode)) == 0


def test_an_enrollment_nested_to_the_limit_is_parsed(client, db, world):
    token = issue_enrollment_token(world.env)
    db.session.commit()
    extra = nested(JSON_DEPTH_MAX - 1, '"' + "[" * 40 + '"')  # 31 arrays in the body object
    body = f'{{"token": "{token}", "hostname": "edge-9", "extra": {extra}}}'
    response = client.post("/api/agent/enroll", data=body, content_type="application/json")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["nodeId"]


def test_a_deeply_nested_heartbeat_is_a_400(client, db, agent):
    node, headers = agent
    body = '{"pipelines": [], "hostMetrics": ' + nested(JSON_DEPTH_MAX, "{}") + "}"
    response = client.post("/api/agent/heartbeat", data=body, headers=headers,
                           content_type="application/json")
    assert response.status_code == 400 and response.get_json() == {"error": TOO_DEEP}
    assert received(db, node) is None


@pytest.mark.parametrize("caller", ["token", "cookie"])
def test_a_deeply_nested_api_body_is_a_400_and_creates_nothing(app, client, db, world, login_as,
                                                               caller):
    headers = {}
    if caller == "token":
        headers["Authorization"] = "Bearer " + factories.make_api_token(world.users["ADMIN"])
        db.session.commit()
    else:
        app.config["WTF_CSRF_ENABLED"] = True
        login_as("ADMIN")
        headers["X-CSRFToken"] = client.csrf_token()
    body = f'{{"name": "staging", "teamId": "{world.team.id}", "x": {DEEP}}}'
    response = client.post("/api/v1/environments", data=body, headers=headers,
                           content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == TOO_DEEP
    assert db.session.scalar(sa.select(Environment).where(Environment.name == "staging")) is None


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_as_malformed_json(client, db, world, constant):
    token = factories.make_api_token(world.users["ADMIN"])
    db.session.commit()
    body = f'{{"name": "staging", "teamId": "{world.team.id}", "x": {constant}}}'
    response = client.post("/api/v1/environments", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert constant in json.dumps(response.get_json())
    assert db.session.scalar(sa.select(Environment).where(Environment.name == "staging")) is None


@pytest.mark.parametrize("text, deep", [
    (nested(JSON_DEPTH_MAX), False),
    (nested(JSON_DEPTH_MAX + 1), True),
    ('{"a": "' + "[" * 100 + '"}', False),  # brackets in strings do not count
    ('{"a": "\\"' + "{" * 100 + '"}', False),  # nor after an escaped quote
    ('{"a": "\\\\"' + ", [" * 40 + "]" * 40 + "}", True),  # an escaped backslash ends it
    ("[" * 5000, True),  # unterminated: the parser would recurse before failing
    ('"' + "\\" * 3 + '"' * 3000, False),  # quotes galore: still one pass
])
def test_json_depth_is_measured_outside_strings(text, deep):
    assert json_depth_exceeds(text) is deep
    assert json_depth_exceeds(text.encode()) is deep


@pytest.mark.parametrize("typed, message", [
    (DEEP, f"Not valid JSON: nested deeper than {JSON_DEPTH_MAX} levels"),
    ('{"a": NaN}', "Not valid JSON: NaN is not valid JSON"),
    ("{not json", "Not valid JSON: Expecting property name enclosed in double quotes (line 1)"),
])
def test_json_typed_into_a_form_is_bounded_too(client, db, world, login_as, typed, message):
    login_as("EDITOR")
    response = client.submit(f"/teams/{world.team.id}/environments",
                             {"name": "vaulted", "secret_backend": "VAULT",
                              "secret_backend_config": typed})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(Environment).where(Environment.name == "vaulted")) is None


# ---------------------------------------------------------------- NUL characters

def test_a_nul_in_a_page_query_filter_is_a_400_naming_it(client, world, login_as):
    login_as("ADMIN")
    response = client.get("/audit/?action=node%00x")
    assert response.status_code == 400
    assert "query parameter &#39;action&#39; must not contain NUL characters" in \
        response.get_data(as_text=True)
    assert client.get("/audit/?action=node.renamed").status_code == 200


def test_a_nul_in_an_api_query_is_a_400_json_naming_it(client, db, world):
    token = factories.make_api_token(world.users["ADMIN"])
    db.session.commit()
    response = client.get("/api/v1/audit?action=%00", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "query parameter 'action' must not contain NUL characters",
        "details": {"action": "must not contain NUL characters"}}


def test_a_nul_in_a_url_path_is_a_400(client, world, login_as):
    login_as("ADMIN")
    assert client.get("/nodes/%00").status_code == 400


def test_a_nul_in_a_form_field_is_a_400_and_changes_nothing(client, db, world, login_as):
    node, _ = factories.make_node(world.env, "edge-1")
    db.session.commit()
    login_as("ADMIN")
    response = client.submit(f"/nodes/{node.id}/maintenance",
                             {"enabled": "1", "reason": "kernel\x00patch"})
    assert response.status_code == 400
    assert "form field &#39;reason&#39; must not contain NUL characters" in \
        response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(VectorNode, node.id).maintenance_mode is False
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == 0


def test_a_percent_escape_that_is_not_a_nul_passes(client, world, login_as):
    login_as("ADMIN")
    assert client.get("/audit/?action=%2500").status_code == 200


# ---------------------------------------------------------------- text UTF-8 cannot encode

def test_a_page_holding_a_lone_surrogate_renders_with_a_question_mark(app):
    response = app.response_class("label: \ud800!")
    assert response.get_data() == b"label: ?!"
