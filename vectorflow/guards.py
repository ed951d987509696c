"""Route guards and object loaders that check team membership, not only existence.

A member of another team gets 404 for an object (its existence is not revealed);
a member with too low a role gets 403. A superadmin acts as ADMIN everywhere.
"""
from __future__ import annotations

from functools import wraps

from flask import abort, request
from flask_login import current_user

from .extensions import db
from .models import (
    Environment,
    MaintenanceWindow,
    Pipeline,
    Role,
    Secret,
    Team,
    VectorNode,
)


def wants_json() -> bool:
    """Return whether the caller expects JSON rather than an HTML page."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes[
        "text/html"
    ]


def require_login(view):
    """Refuse anonymous callers (401 JSON for API callers, login redirect for browsers)."""
    from .extensions import login_manager

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapped


def require_role(min_role: Role):
    """Allow callers who hold at least ``min_role`` in some team (superadmin always)."""

    def decorator(view):
        @wraps(view)
        @require_login
        def wrapped(*args, **kwargs):
            best = current_user.max_role()
            if best is None or best < min_role:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def require_superadmin(view):
    """Allow superadmins only."""

    @wraps(view)
    @require_login
    def wrapped(*args, **kwargs):
        if not current_user.is_superadmin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def check_team_role(team_id: str, min_role: Role) -> Role:
    """Abort with 404 unless the caller is in the team, 403 unless the role suffices."""
    role = current_user.role_in(team_id) if current_user.is_authenticated else None
    if role is None:
        abort(404)
    if role < min_role:
        abort(403)
    return role


def _load(model, object_id, team_of, min_role: Role):
    obj = db.session.get(model, object_id) if object_id else None
    if obj is None:
        abort(404)
    check_team_role(team_of(obj), min_role)
    return obj


def get_team_or_404(team_id: str, min_role: Role = Role.VIEWER) -> Team:
    """Load a team the caller belongs to with at least ``min_role``."""
    return _load(Team, team_id, lambda t: t.id, min_role)


def get_environment_or_404(env_id: str, min_role: Role = Role.VIEWER) -> Environment:
    """Load an environment of a team the caller belongs to with at least ``min_role``."""
    return _load(Environment, env_id, lambda e: e.team_id, min_role)


def get_node_or_404(node_id: str, min_role: Role = Role.VIEWER) -> VectorNode:
    """Load a node of a team the caller belongs to with at least ``min_role``."""
    return _load(VectorNode, node_id, lambda n: n.environment.team_id, min_role)


def get_pipeline_or_404(pipeline_id: str, min_role: Role = Role.VIEWER) -> Pipeline:
    """Load a pipeline of a team the caller belongs to with at least ``min_role``."""
    return _load(Pipeline, pipeline_id, lambda p: p.environment.team_id, min_role)


def get_secret_or_404(secret_id: str, min_role: Role = Role.EDITOR) -> Secret:
    """Load a secret of a team the caller belongs to with at least ``min_role``."""
    return _load(Secret, secret_id, lambda s: s.environment.team_id, min_role)


def get_alert_or_404(alert_id: int, min_role: Role = Role.VIEWER):
    """Load an alert (never a pending one) of a team the caller belongs to; ``alert_id``
    comes from a ``<serial:...>`` path segment."""
    from .models.alerts import PENDING, Alert

    alert = db.session.get(Alert, alert_id)
    if alert is None or alert.state == PENDING:
        abort(404)
    check_team_role(alert.environment.team_id, min_role)
    return alert


def get_channel_or_404(channel_id: str, min_role: Role = Role.ADMIN):
    """Load a notification channel of a team the caller belongs to with at least ``min_role``."""
    from .models import NotificationChannel

    return _load(NotificationChannel, channel_id, lambda c: c.team_id, min_role)


def get_window_or_404(window_id: str, min_role: Role = Role.VIEWER) -> MaintenanceWindow:
    """Load a maintenance window of a team the caller belongs to with at least ``min_role``."""
    return _load(MaintenanceWindow, window_id, lambda w: w.environment.team_id, min_role)


def can(team_id: str, min_role: Role) -> bool:
    """Return whether the current user holds ``min_role`` in the team (for templates)."""
    if not current_user.is_authenticated:
        return False
    role = current_user.role_in(team_id)
    return role is not None and role >= min_role
