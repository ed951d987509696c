"""Helpers shared by the API views: who the caller is, what they may see."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from ..guards import get_environment_or_404, get_team_or_404
from ..models import Environment, User


def visible_team_ids() -> list[str] | None:
    """Return the ids of the teams the caller may see; None means every team."""
    return current_user.team_ids()


def in_environments(query: sa.Select, column, environment_id: str | None) -> sa.Select:
    """Limit ``query`` by its environment-id ``column``: to ``environment_id`` (404 unless the
    caller may see it), or else to the environments of the caller's teams."""
    if environment_id:
        return query.where(column == get_environment_or_404(environment_id).id)
    ids = visible_team_ids()
    if ids is None:
        return query
    return query.where(column.in_(sa.select(Environment.id).where(Environment.team_id.in_(ids))))


def admin_teams(team_id: str | None, what: str) -> list[str] | None:
    """Return the team ids for a listing open to team ADMINs: ``team_id`` (404/403 unless the
    caller is its ADMIN), else the caller's ADMIN teams (None: every team); 403 if none."""
    from ..models import Role
    from ..services.tokens import admin_team_ids

    if team_id:
        return [get_team_or_404(team_id, Role.ADMIN).id]
    teams = admin_team_ids(principal())
    if teams is not None and not teams:
        abort(403, f"{what} is open to team ADMINs.")
    return teams


def principal():
    """Return the caller: a User (cookie session) or a TokenPrincipal (bearer token)."""
    return current_user._get_current_object()


def acting_user() -> User | None:
    """Return the user the caller acts as (None for a team service token)."""
    caller = principal()
    return caller if isinstance(caller, User) else getattr(caller, "user", None)


def no_content():
    """Return an empty 204 response."""
    return "", 204


def not_found():
    """Answer 404 (also used for objects of another team)."""
    abort(404)
