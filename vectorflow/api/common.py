"""Helpers shared by the API views: list responses and who the caller is."""
from __future__ import annotations

from flask import abort, jsonify
from flask_login import current_user

from ..models import User


def page_response(rows, next_cursor: str | None, represent):
    """Return a list response: ``{"items": [...], "nextCursor": ...}``."""
    return jsonify({"items": [represent(row) for row in rows], "nextCursor": next_cursor})


def visible_team_ids() -> list[str] | None:
    """Return the ids of the teams the caller may see; None means every team."""
    return current_user.team_ids()


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
