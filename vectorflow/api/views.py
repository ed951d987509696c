"""Teams, environments, API tokens, the audit log and the OpenAPI document."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, jsonify

from ..guards import (
    get_environment_or_404,
    get_team_or_404,
    require_login,
    require_superadmin,
)
from ..models import ApiToken, AuditLog, Environment, Role, SecretBackend, Team
from ..schemas import api as models
from ..schemas.base import page_response, parse_body, parse_query, respond
from ..services import accounts, environments, tokens
from ..services.audit import audit_query
from . import bp
from .common import acting_user, admin_teams, no_content, principal, visible_team_ids
from .pagination import paginate

# -- teams ----------------------------------------------------------------------------


@bp.get("/teams")
@require_login
def list_teams():
    args = parse_query(models.PageQuery)
    query = sa.select(Team)
    ids = visible_team_ids()
    if ids is not None:
        query = query.where(Team.id.in_(ids))
    rows, cursor = paginate(query, [Team.name, Team.id], args)
    return page_response(rows, cursor, models.Team)


@bp.post("/teams")
@require_superadmin
def create_team():
    body = parse_body(models.CreateTeam)
    team = accounts.create_team(body.name)
    return respond(models.Team.of(team), 201)


# -- environments ------------------------------------------------------------------------


@bp.get("/environments")
@require_login
def list_environments():
    args = parse_query(models.ListEnvironments)
    query = sa.select(Environment)
    if args.team_id:
        query = query.where(Environment.team_id == get_team_or_404(args.team_id).id)
    else:
        ids = visible_team_ids()
        if ids is not None:
            query = query.where(Environment.team_id.in_(ids))
    rows, cursor = paginate(query, [Environment.name, Environment.id], args)
    return page_response(rows, cursor, models.Environment)


@bp.post("/environments")
@require_login
def create_environment():
    body = parse_body(models.CreateEnvironment)
    team = get_team_or_404(body.team_id, Role.EDITOR)
    env = environments.create_environment(
        team, body.name,
        secret_backend=body.secret_backend or SecretBackend.BUILTIN,
        secret_backend_config=body.secret_backend_config,
    )
    return respond(models.Environment.of(env), 201)


@bp.get("/environments/<id:env_id>")
@require_login
def show_environment(env_id):
    return respond(models.Environment.of(get_environment_or_404(env_id)))


@bp.post("/environments/<id:env_id>/enrollment-token")
@require_login
def issue_enrollment_token(env_id):
    env = get_environment_or_404(env_id, Role.ADMIN)
    parse_body(models.Empty)
    token = environments.issue_enrollment_token(env)
    return respond(models.EnrollmentToken(token=token, hint=env.enrollment_token_hint))


# -- API tokens ----------------------------------------------------------------------------


@bp.get("/tokens")
@require_login
def list_tokens():
    args = parse_query(models.ListTokens)
    query = tokens.visible_tokens_query(principal(), include_revoked=bool(args.include_revoked))
    rows, cursor = paginate(query, [ApiToken.name, ApiToken.id], args)
    return page_response(rows, cursor, models.ApiToken)


@bp.post("/tokens")
@require_login
def create_token():
    body = parse_body(models.CreateToken)
    if body.team_id:
        team = get_team_or_404(body.team_id, Role.ADMIN)
        token, raw = tokens.create_service_token(team, body.name, body.role)
    else:
        user = acting_user()
        if user is None:
            abort(403, "A service token cannot create personal tokens; pass teamId.")
        token, raw = tokens.create_personal_token(user, body.name)
    return respond(models.CreatedApiToken.of(token, raw=raw), 201)


@bp.delete("/tokens/<id:token_id>")
@require_login
def revoke_token(token_id):
    token = tokens.find_token(token_id)
    if token is None or not tokens.may_manage(principal(), token):
        abort(404)
    tokens.revoke_token(token)
    return no_content()


# -- audit --------------------------------------------------------------------------------


@bp.get("/audit")
@require_login
def list_audit():
    args = parse_query(models.ListAudit)
    teams = admin_teams(args.team_id, "The audit log")
    query = audit_query(teams, action=args.action, node_id=args.node_id, since=args.since)
    rows, cursor = paginate(query, [AuditLog.id], args, descending=True)
    return page_response(rows, cursor, models.AuditEntry)


# -- the OpenAPI document ----------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document():
    from .openapi import document

    return jsonify(document())
