"""Check real requests and responses against the served OpenAPI document."""
from __future__ import annotations

import re

import jsonschema

from vectorflow.api.openapi import document


def documented_path(rule: str) -> str:
    """Spell a Flask rule as an OpenAPI path: ``/nodes/<node_id>`` -> ``/nodes/{node_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _validate(instance, schema: dict, what: str) -> None:
    doc = document()
    # Resolve "#/components/..." references against the whole document.
    wrapper = {"allOf": [schema], "components": doc["components"]}
    validator = jsonschema.Draft202012Validator(
        wrapper, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:5]]
        raise AssertionError(f"{what} does not match the OpenAPI document:\n  " + "\n  ".join(lines))


def operation_for(app, method: str, path: str) -> tuple[str, dict]:
    """Return the documented path and operation serving ``method path``."""
    adapter = app.url_map.bind("vectorflow.test")
    rule, _ = adapter.match(path.split("?")[0], method=method, return_rule=True)
    doc_path = documented_path(rule.rule)
    operations = document()["paths"].get(doc_path)
    assert operations is not None, f"{doc_path} is not in the OpenAPI document"
    operation = operations.get(method.lower())
    assert operation is not None, f"{method} {doc_path} is not in the OpenAPI document"
    return doc_path, operation


def check_exchange(app, method: str, path: str, request_json, response) -> None:
    """Assert the response (and, when it succeeded, the request body) are as documented."""
    try:
        doc_path, operation = operation_for(app, method, path)
    except Exception as err:  # werkzeug NotFound / MethodNotAllowed: nothing to compare
        if type(err).__name__ in ("NotFound", "MethodNotAllowed"):
            return
        raise
    where = f"{method} {doc_path} -> {response.status_code}"
    responses = operation["responses"]
    spec = responses.get(str(response.status_code))
    assert spec is not None, f"{where}: status not documented (documented: {sorted(responses)})"
    if "$ref" in spec:
        spec = document()["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
    content = spec.get("content")
    if not content:
        assert not response.data, f"{where}: documented without a body but one was sent"
        return
    if "application/json" in content:
        assert response.is_json, f"{where}: expected JSON, got {response.mimetype}"
        _validate(response.get_json(), content["application/json"]["schema"], f"{where} body")
    if 200 <= response.status_code < 300 and request_json is not None and "requestBody" in operation:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        _validate(request_json, schema, f"{method} {doc_path} request body")
