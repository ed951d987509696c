"""The OpenAPI document stays true: every API route is documented, responses match it.

Every call made through the ``api`` fixture is also checked against the document
(tests/api/openapi_check.py), so each test in tests/api/ is an example response.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate

from vectorflow.api.openapi import PATHS, document

from .openapi_check import _validate, documented_path

ROOT = Path(__file__).resolve().parents[2]
# shared/ sits beside the repository (or beside the folder of worktrees).
FIXTURES = next(
    (base / "shared/contracts/agent/v1/fixtures" for base in (ROOT.parent, ROOT.parent.parent)
     if (base / "shared/contracts/agent/v1/fixtures").is_dir()),
    ROOT.parent / "shared/contracts/agent/v1/fixtures",
)
IGNORED_METHODS = {"HEAD", "OPTIONS"}


ROUTES_SCRIPT = """
import json
from vectorflow import create_app
app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
print(json.dumps([[rule.rule, sorted(rule.methods)] for rule in app.url_map.iter_rules()]))
"""


@pytest.fixture(scope="module")
def served_routes(tmp_path_factory) -> list[tuple[str, str]]:
    """The /api/ routes of an app built in a fresh interpreter, exactly as a server builds it
    (in this process, importing the OpenAPI module first could register views late)."""
    env = {**os.environ, "VECTORFLOW_INSTANCE_PATH": str(tmp_path_factory.mktemp("routes"))}
    out = subprocess.run([sys.executable, "-c", ROUTES_SCRIPT], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True).stdout
    return sorted(
        (method, documented_path(rule))
        for rule, methods in json.loads(out.strip().splitlines()[-1])
        if rule.startswith("/api/")
        for method in set(methods) - IGNORED_METHODS
    )


def test_the_document_is_valid_openapi_3_1():
    doc = document()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_registered_api_route_is_documented(served_routes):
    doc = document()
    missing = [f"{method} {path}" for method, path in served_routes
               if method.lower() not in doc["paths"].get(path, {})]
    assert not missing, (
        "API routes missing from the OpenAPI document; add them to PATHS in "
        "vectorflow/api/openapi.py: " + ", ".join(missing)
    )


def test_every_documented_v1_operation_exists(served_routes):
    registered = set(served_routes)
    stale = [f"{method.upper()} {path}" for path, operations in PATHS.items()
             if path.startswith("/api/v1/") for method in operations
             if (method.upper(), path) not in registered]
    assert not stale, "documented but not served: " + ", ".join(stale)


def test_the_document_is_served_without_a_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == json.loads(json.dumps(document()))


def test_every_documented_schema_is_valid_json_schema():
    for schema in document()["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("fixture,schema", [
    ("config-response.json", "AgentConfig"),
    ("heartbeat-request.json", "AgentHeartbeat"),
    ("sample-results-request.json", "AgentSampleResults"),
    ("tap-event-request.json", "AgentTapEvents"),
    ("tap-stopped-request.json", "AgentTapEvents"),
])
def test_the_agent_contract_fixtures_match_the_documented_schemas(fixture, schema):
    payload = json.loads((FIXTURES / fixture).read_text())
    _validate(payload, {"$ref": f"#/components/schemas/{schema}"}, fixture)


def test_the_log_batches_fixture_matches_the_documented_batches():
    # The body is a bare array; the document describes it as the model's ``batches``.
    payload = json.loads((FIXTURES / "log-batches-request.json").read_text())
    _validate({"batches": payload}, {"$ref": "#/components/schemas/AgentLogBatches"},
              "log-batches-request.json")


def test_a_response_with_an_undocumented_key_fails_the_check():
    node_schema = {"$ref": "#/components/schemas/Team"}
    with pytest.raises(AssertionError, match="Additional properties"):
        _validate({"id": "a", "name": "b", "createdAt": "2026-01-01T00:00:00Z", "colour": "red"},
                  node_schema, "example")


def test_no_path_is_written_twice_in_paths():
    # A dict literal keeps the last of two equal keys silently; two helpers adding the same
    # route would lose one description without a trace.
    import ast

    import vectorflow.api.openapi as module

    tree = ast.parse(Path(module.__file__).read_text())
    [paths] = [node.value for node in ast.walk(tree)
               if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "PATHS"]
    keys = [key.value for key in paths.keys]
    assert sorted({k for k in keys if keys.count(k) > 1}) == []
