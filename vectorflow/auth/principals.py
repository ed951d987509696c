"""Who is calling: a logged-in user (session cookie) or an API token (bearer header).

A bearer request is authenticated by its token alone, never by a cookie, so CSRF
checks apply only to cookie sessions.
"""
from __future__ import annotations

from flask import g, request
from flask_login import AnonymousUserMixin, current_user

from ..extensions import csrf, db, login_manager
from ..models import ApiToken, Role, User, utcnow
from ..security import bearer_token, digests_match, token_digest
import sqlalchemy as sa


class TokenPrincipal:
    """An authenticated API token, acting as its user or with its fixed team role."""

    kind = "token"
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, token: ApiToken):
        self.token = token
        self.id = token.id
        self.actor_label = token.name
        self.user = token.user
        self.is_superadmin = bool(self.user and self.user.is_superadmin)

    def get_id(self) -> str:
        return self.id

    @property
    def display_name(self) -> str:
        return self.token.name

    @property
    def email(self) -> str:
        return self.user.email if self.user else ""

    def role_in(self, team_id: str) -> Role | None:
        if self.user is not None:
            return self.user.role_in(team_id)
        return self.token.role if self.token.team_id == team_id else None

    def team_ids(self) -> list[str] | None:
        if self.user is not None:
            return self.user.team_ids()
        return [self.token.team_id]

    def max_role(self) -> Role | None:
        if self.user is not None:
            return self.user.max_role()
        return self.token.role


class Anonymous(AnonymousUserMixin):
    is_superadmin = False

    def role_in(self, team_id):
        return None

    def team_ids(self):
        return []

    def max_role(self):
        return None


def authenticate_api_token(raw: str) -> TokenPrincipal | None:
    """Return the principal of a live API token, or None."""
    digest = token_digest(raw)
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_digest == digest))
    if token is None or token.revoked_at is not None or not digests_match(token.token_digest, raw):
        return None
    if token.user is not None and not token.user.is_active:
        return None
    now = utcnow()
    # Record use at most once a minute: a write on every request would make reads expensive.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
        db.session.commit()
    return TokenPrincipal(token)


def init_app(app) -> None:
    """Install user loading, token authentication and the CSRF policy."""
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.anonymous_user = Anonymous
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False

    @login_manager.user_loader
    def load_user(user_id: str):
        return db.session.get(User, user_id)

    @login_manager.unauthorized_handler
    def unauthorized():
        from flask import redirect, url_for

        from ..errors import render_error
        from ..guards import wants_json

        if wants_json():
            return render_error(401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.before_request
    def authenticate_bearer_and_check_csrf():
        # Each request names its caller afresh (g can outlive a request when an app context
        # is reused, as in tests; a cached caller must never carry over).
        g.pop("_login_user", None)
        if request.blueprint == "agent" or request.path.startswith("/api/agent/"):
            # Agents authenticate with node tokens in their own blueprint (the path test covers
            # requests that matched no agent route, e.g. a wrong method, so they get 405/404).
            return None
        if request.endpoint == "api.openapi_document":
            return None  # public, whatever Authorization header comes with it
        header = request.headers.get("Authorization")
        if header is not None and request.path.startswith("/api/"):
            raw = bearer_token(header)
            principal = authenticate_api_token(raw) if raw else None
            if principal is None:
                from ..errors import render_error

                return render_error(401)
            g._login_user = principal
            return None
        if request.path.startswith("/api/") and not current_user.is_authenticated:
            return None  # no session to forge: the view answers 401 (a CSRF 400 would mislead)
        csrf.protect()
        return None
