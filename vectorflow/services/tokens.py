"""API tokens for scripts: personal tokens act as their user, service tokens hold one team role.

The raw token (``vf_api_<64 hex>``) is returned once by the create functions and never
stored: only its SHA-256 digest (for lookup) and a short hint (for people) are kept.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import ApiToken, Role, Team, User, utcnow
from ..schemas.fields import NAME_MAX, ensure_text
from ..security import API_PREFIX, generate_token, token_digest, token_hint
from . import ServiceError
from .actors import Actor
from .audit import record


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise ServiceError(f"token name must be 1-{NAME_MAX} characters",
                           {"name": f"must be 1-{NAME_MAX} characters"})
    ensure_text(name, "name", "token name")
    return name


def _issue(token: ApiToken, actor: Actor | None) -> tuple[ApiToken, str]:
    raw = generate_token(API_PREFIX)
    token.token_digest = token_digest(raw)
    token.token_hint = token_hint(raw)
    if actor is not None and actor.user_id:
        token.created_by_id = actor.user_id
    db.session.add(token)
    db.session.flush()
    record("token.created", entity_type="api_token", entity_id=token.id, team_id=token.team_id,
           after=describe_token(token), actor=actor)
    return token, raw


def create_personal_token(user: User, name: str, actor: Actor | None = None) -> tuple[ApiToken, str]:
    """Create a token that acts as ``user``; return it with the raw token (shown once)."""
    if not user.is_active:
        raise ServiceError("cannot create a token for an inactive user")
    return _issue(ApiToken(name=_clean_name(name), user=user), actor)


def create_service_token(
    team: Team, name: str, role: Role | str, actor: Actor | None = None
) -> tuple[ApiToken, str]:
    """Create a team service token with a fixed role; return it with the raw token (shown once)."""
    if not isinstance(role, Role):
        try:
            role = Role.parse(role)
        except ValueError as err:
            raise ServiceError(str(err), {"role": str(err)}) from None
    return _issue(ApiToken(name=_clean_name(name), team=team, role=role), actor)


def revoke_token(token: ApiToken, actor: Actor | None = None) -> ApiToken:
    """Revoke a token so its next call gets 401; revoking twice changes nothing."""
    if token.revoked_at is not None:
        return token
    token.revoked_at = utcnow()
    db.session.flush()
    record("token.revoked", entity_type="api_token", entity_id=token.id, team_id=token.team_id,
           before=describe_token(token), actor=actor)
    return token


def describe_token(token: ApiToken) -> dict:
    """Return the audit-safe description of a token (never the token or its digest)."""
    if token.user_id:
        return {"name": token.name, "kind": "personal", "user": token.user.email,
                "hint": token.token_hint}
    return {"name": token.name, "kind": "service", "team": token.team.name,
            "role": token.role.name, "hint": token.token_hint}


def find_token(token_id: str) -> ApiToken | None:
    """Return a token by id, or None."""
    return db.session.get(ApiToken, token_id)


def visible_tokens_query(principal, *, include_revoked: bool = True) -> sa.Select:
    """Select the tokens a principal may see: its user's personal tokens, and service
    tokens of the teams where it is ADMIN (all service tokens for a superadmin)."""
    clauses = []
    user = principal if isinstance(principal, User) else getattr(principal, "user", None)
    if user is not None:
        clauses.append(ApiToken.user_id == user.id)
    admin_teams = admin_team_ids(principal)
    if admin_teams is None:
        clauses.append(ApiToken.team_id.is_not(None))
    elif admin_teams:
        clauses.append(ApiToken.team_id.in_(admin_teams))
    query = sa.select(ApiToken).where(sa.or_(*clauses) if clauses else sa.false())
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return query


def admin_team_ids(principal) -> list[str] | None:
    """Return the ids of the teams where the principal is ADMIN; None means every team."""
    ids = principal.team_ids()
    if ids is None:
        return None
    return [team_id for team_id in ids if principal.role_in(team_id) == Role.ADMIN]


def may_manage(principal, token: ApiToken) -> bool:
    """Return whether the principal may see and revoke ``token``."""
    if token.user_id is not None:
        user = principal if isinstance(principal, User) else getattr(principal, "user", None)
        return user is not None and user.id == token.user_id
    return principal.role_in(token.team_id) == Role.ADMIN
