"""Secrets of an environment: names only on the way out; values go in and never come back."""
from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify

from ..guards import get_environment_or_404, get_secret_or_404, require_login
from ..models import Role, Secret
from ..services import secrets as secret_service
from . import bp
from .common import no_content, page_response
from .pagination import PAGE_FIELDS, paginate
from .serializers import secret_json
from .validation import Body, Field, Query

VALUE = Field("string", required=True, max_length=secret_service.MAX_VALUE,
              description="Stored encrypted; never returned.")
LIST_SECRETS = Query(environmentId=Field("string", required=True, max_length=40), **PAGE_FIELDS)
CREATE_SECRET = Body(
    environmentId=Field("string", required=True, max_length=40),
    name=Field("string", required=True, max_length=secret_service.MAX_NAME),
    value=VALUE,
)
ROTATE_SECRET = Body(value=VALUE)


def _used_by(env) -> dict[str, list[str]]:
    return {name: [p.name for p in pipelines]
            for name, pipelines in secret_service.secret_usage(env).items()}


@bp.get("/secrets")
@require_login
def list_secrets():
    args = LIST_SECRETS.parse()
    env = get_environment_or_404(args["environmentId"])
    query = sa.select(Secret).where(Secret.environment_id == env.id)
    rows, cursor = paginate(query, [Secret.name, Secret.id], args)
    used = _used_by(env)
    return page_response(rows, cursor, lambda s: secret_json(s, used.get(s.name)))


@bp.post("/secrets")
@require_login
def create_secret():
    data = CREATE_SECRET.parse()
    env = get_environment_or_404(data["environmentId"], Role.EDITOR)
    secret = secret_service.create_secret(env, data["name"], data["value"])
    return jsonify(secret_json(secret, _used_by(env).get(secret.name))), 201


@bp.put("/secrets/<secret_id>")
@require_login
def rotate_secret(secret_id):
    secret = get_secret_or_404(secret_id, Role.EDITOR)
    data = ROTATE_SECRET.parse()
    secret_service.rotate_secret(secret, data["value"])
    return jsonify(secret_json(secret, _used_by(secret.environment).get(secret.name)))


@bp.delete("/secrets/<secret_id>")
@require_login
def delete_secret(secret_id):
    secret_service.delete_secret(get_secret_or_404(secret_id, Role.EDITOR))
    return no_content()
