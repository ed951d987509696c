"""Fixtures for the automation API: API tokens for every kind of caller, and a client
that checks every exchange against the OpenAPI document."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from vectorflow.extensions import db
from vectorflow.models import Role
from vectorflow.services import tokens as token_service

from .openapi_check import check_exchange


@pytest.fixture
def api_tokens(world) -> dict[str, str]:
    """Raw tokens: personal ones by user kind ('VIEWER', 'superadmin', 'outsider'...) and
    service tokens of the first team as 'service:VIEWER', 'service:EDITOR', 'service:ADMIN'."""
    raw = {}
    for kind, user in world.users.items():
        _, raw[kind] = token_service.create_personal_token(user, f"{kind.lower()}-laptop")
    for role in Role:
        _, raw[f"service:{role.name}"] = token_service.create_service_token(
            world.team, f"ci-{role.name.lower()}", role
        )
    db.session.commit()
    return raw


@dataclass
class Api:
    """Calls /api/... with a bearer token; every response is checked against the document."""

    app: object
    client: object
    tokens: dict

    def call(self, method: str, path: str, as_: str | None = None, *, json=None, token=None,
             headers=None, **kwargs):
        headers = dict(headers or {})
        token = token or (self.tokens[as_] if as_ else None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(path, method=method, json=json, headers=headers, **kwargs)
        check_exchange(self.app, method, path, json, response)
        return response

    def get(self, path, as_=None, **kwargs):
        return self.call("GET", path, as_, **kwargs)

    def post(self, path, as_=None, **kwargs):
        return self.call("POST", path, as_, **kwargs)

    def put(self, path, as_=None, **kwargs):
        return self.call("PUT", path, as_, **kwargs)

    def patch(self, path, as_=None, **kwargs):
        return self.call("PATCH", path, as_, **kwargs)

    def delete(self, path, as_=None, **kwargs):
        return self.call("DELETE", path, as_, **kwargs)


@pytest.fixture
def api(app, client, api_tokens) -> Api:
    return Api(app, client, api_tokens)
