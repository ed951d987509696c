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
from ..services import accounts, environments, tokens
from ..services.audit import audit_query
from . import bp
from .common import (
    acting_user,
    admin_teams,
    no_content,
    page_response,
    principal,
    visible_team_ids,
)
from .pagination import PAGE_FIELDS, paginate
from .serializers import audit_json, environment_json, team_json, token_json
from .validation import Body, Field, InvalidInput, Query

# -- teams ----------------------------------------------------------------------------

LIST_TEAMS = Query(**PAGE_FIELDS)
CREATE_TEAM = Body(name=Field("string", required=True, max_length=100))


@bp.get("/teams")
@require_login
def list_teams():
    args = LIST_TEAMS.parse()
    query = sa.select(Team)
    ids = visible_team_ids()
    if ids is not None:
        query = query.where(Team.id.in_(ids))
    rows, cursor = paginate(query, [Team.name, Team.id], args)
    return page_response(rows, cursor, team_json)


@bp.post("/teams")
@require_superadmin
def create_team():
    data = CREATE_TEAM.parse()
    team = accounts.create_team(data["name"])
    return jsonify(team_json(team)), 201


# -- environments ------------------------------------------------------------------------

LIST_ENVIRONMENTS = Query(teamId=Field("string", max_length=40), **PAGE_FIELDS)
CREATE_ENVIRONMENT = Body(
    name=Field("string", required=True, max_length=100),
    teamId=Field("string", required=True, max_length=40),
    secretBackend=Field("string", choices=tuple(b.value for b in SecretBackend)),
    secretBackendConfig=Field("object", description="Non-secret backend settings sent to agents."),
)


@bp.get("/environments")
@require_login
def list_environments():
    args = LIST_ENVIRONMENTS.parse()
    query = sa.select(Environment)
    if args.get("teamId"):
        query = query.where(Environment.team_id == get_team_or_404(args["teamId"]).id)
    else:
        ids = visible_team_ids()
        if ids is not None:
            query = query.where(Environment.team_id.in_(ids))
    rows, cursor = paginate(query, [Environment.name, Environment.id], args)
    return page_response(rows, cursor, environment_json)


@bp.post("/environments")
@require_login
def create_environment():
    data = CREATE_ENVIRONMENT.parse()
    team = get_team_or_404(data["teamId"], Role.EDITOR)
    env = environments.create_environment(
        team, data["name"],
        secret_backend=data.get("secretBackend") or SecretBackend.BUILTIN,
        secret_backend_config=data.get("secretBackendConfig"),
    )
    return jsonify(environment_json(env)), 201


@bp.get("/environments/<env_id>")
@require_login
def show_environment(env_id):
    return jsonify(environment_json(get_environment_or_404(env_id)))


@bp.post("/environments/<env_id>/enrollment-token")
@require_login
def issue_enrollment_token(env_id):
    env = get_environment_or_404(env_id, Role.ADMIN)
    Body().parse()
    token = environments.issue_enrollment_token(env)
    return jsonify({"token": token, "hint": env.enrollment_token_hint})


# -- API tokens ----------------------------------------------------------------------------

LIST_TOKENS = Query(includeRevoked=Field("boolean"), **PAGE_FIELDS)
CREATE_TOKEN = Body(
    name=Field("string", required=True, max_length=tokens.MAX_NAME),
    teamId=Field("string", max_length=40,
                 description="Create a service token of this team (you must be its ADMIN); "
                             "omit for a personal token that acts as you."),
    role=Field("string", choices=tuple(r.name for r in Role),
               description="The service token's fixed role; required with teamId."),
)


@bp.get("/tokens")
@require_login
def list_tokens():
    args = LIST_TOKENS.parse()
    query = tokens.visible_tokens_query(principal(),
                                        include_revoked=bool(args.get("includeRevoked")))
    rows, cursor = paginate(query, [ApiToken.name, ApiToken.id], args)
    return page_response(rows, cursor, token_json)


@bp.post("/tokens")
@require_login
def create_token():
    data = CREATE_TOKEN.parse()
    if data.get("teamId"):
        team = get_team_or_404(data["teamId"], Role.ADMIN)
        if not data.get("role"):
            raise InvalidInput({"role": "required with teamId"})
        token, raw = tokens.create_service_token(team, data["name"], data["role"])
    else:
        if data.get("role"):
            raise InvalidInput({"role": "only service tokens (with teamId) have a role"})
        user = acting_user()
        if user is None:
            abort(403, "A service token cannot create personal tokens; pass teamId.")
        token, raw = tokens.create_personal_token(user, data["name"])
    return jsonify({**token_json(token), "token": raw}), 201


@bp.delete("/tokens/<token_id>")
@require_login
def revoke_token(token_id):
    token = tokens.find_token(token_id)
    if token is None or not tokens.may_manage(principal(), token):
        abort(404)
    tokens.revoke_token(token)
    return no_content()


# -- audit --------------------------------------------------------------------------------

LIST_AUDIT = Query(
    action=Field("string", max_length=80, description="Exact action, e.g. node.maintenance_entered."),
    nodeId=Field("string", max_length=40, description="Rows about this node."),
    teamId=Field("string", max_length=40),
    since=Field("datetime", description="Rows at or after this time (ISO 8601)."),
    **PAGE_FIELDS,
)


@bp.get("/audit")
@require_login
def list_audit():
    args = LIST_AUDIT.parse()
    teams = admin_teams(args.get("teamId"), "The audit log")
    query = audit_query(teams, action=args.get("action"), node_id=args.get("nodeId"),
                        since=args.get("since"))
    rows, cursor = paginate(query, [AuditLog.id], args, descending=True)
    return page_response(rows, cursor, audit_json)


# -- the OpenAPI document ----------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document():
    from .openapi import document

    return jsonify(document())
