"""Secrets of an environment: names only on the way out; values go in and never come back."""
from __future__ import annotations

import sqlalchemy as sa

from ..guards import get_environment_or_404, get_secret_or_404, require_login
from ..models import Role, Secret
from ..schemas import api as models
from ..schemas.base import page_response, parse_body, parse_query, respond
from ..services import secrets as secret_service
from . import bp
from .common import no_content
from .pagination import paginate


def _used_by(env) -> dict[str, list[str]]:
    return {name: [p.name for p in pipelines]
            for name, pipelines in secret_service.secret_usage(env).items()}


@bp.get("/secrets")
@require_login
def list_secrets():
    args = parse_query(models.ListSecrets)
    env = get_environment_or_404(args.environment_id)
    query = sa.select(Secret).where(Secret.environment_id == env.id)
    rows, cursor = paginate(query, [Secret.name, Secret.id], args)
    used = _used_by(env)
    return page_response(rows, cursor, models.Secret, used_by=lambda s: used.get(s.name))


@bp.post("/secrets")
@require_login
def create_secret():
    body = parse_body(models.CreateSecret)
    env = get_environment_or_404(body.environment_id, Role.EDITOR)
    secret = secret_service.create_secret(env, body.name, body.value)
    return respond(models.Secret.of(secret, used_by=_used_by(env).get(secret.name)), 201)


@bp.put("/secrets/<id:secret_id>")
@require_login
def rotate_secret(secret_id):
    secret = get_secret_or_404(secret_id, Role.EDITOR)
    body = parse_body(models.RotateSecret)
    secret_service.rotate_secret(secret, body.value)
    return respond(models.Secret.of(secret, used_by=_used_by(secret.environment).get(secret.name)))


@bp.delete("/secrets/<id:secret_id>")
@require_login
def delete_secret(secret_id):
    secret_service.delete_secret(get_secret_or_404(secret_id, Role.EDITOR))
    return no_content()
