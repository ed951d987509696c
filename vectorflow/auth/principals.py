"""Who is calling: a signed-in user (session or remember-me cookie) or an API token (bearer).

Flask-Login loads both: its user loader turns a cookie's sign-in token into the user (see
``services.sessions``), its request loader turns an API call's bearer token into a
``TokenPrincipal``. A bearer call is authenticated by its token alone, never by a cookie, so
CSRF checks apply only to cookie sessions.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import request
from flask_login import AnonymousUserMixin, current_user

from ..extensions import csrf, db, login_manager
from ..models import ApiToken, Role, utcnow
from ..security import bearer_token, digests_match, token_digest
from ..services.sessions import load_session_user


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
    # Committed with the request (transactions.run); an answer that fails records nothing.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
    return TokenPrincipal(token)


def is_bearer_call(environ: dict) -> bool:
    """Return whether a request is an API call carrying an Authorization header."""
    return "HTTP_AUTHORIZATION" in environ and environ.get("PATH_INFO", "").startswith("/api/")


class BearerCallsCarryNoCookies:
    """WSGI middleware: an API call with a bearer token is authenticated by the token alone.

    Its cookies are dropped before Flask opens the session, so neither a session nor a
    remember-me cookie can stand in for the token, and no cookie is set on its answer.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if is_bearer_call(environ):
            environ.pop("HTTP_COOKIE", None)
        return self.wsgi_app(environ, start_response)


def init_app(app) -> None:
    """Install user loading (sign-ins and API tokens) and the CSRF policy."""
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.anonymous_user = Anonymous
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    # The remember-me cookie lives no longer than the sign-in it carries.
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(days=app.config["VECTORFLOW_SESSION_DAYS"])
    app.wsgi_app = BearerCallsCarryNoCookies(app.wsgi_app)

    @login_manager.user_loader
    def load_signed_in_user(session_token: str):
        return load_session_user(session_token)

    @login_manager.request_loader
    def load_bearer_caller(request):
        if request.blueprint == "agent" or request.path.startswith("/api/agent/"):
            return None  # agents authenticate with node tokens in their own blueprint
        if not is_bearer_call(request.environ):
            return None
        raw = bearer_token(request.headers["Authorization"])
        return authenticate_api_token(raw) if raw else None

    @login_manager.unauthorized_handler
    def unauthorized():
        from flask import redirect, url_for

        from ..errors import render_error
        from ..guards import wants_json

        if wants_json():
            return render_error(401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.before_request
    def refuse_bad_bearer_tokens_and_check_csrf():
        if request.blueprint == "agent" or request.path.startswith("/api/agent/"):
            # Agents authenticate with node tokens in their own blueprint (the path test covers
            # requests that matched no agent route, e.g. a wrong method, so they get 405/404).
            return None
        if request.endpoint == "api.openapi_document":
            return None  # public, whatever Authorization header comes with it
        if is_bearer_call(request.environ):
            if not current_user.is_authenticated:
                from ..errors import render_error

                return render_error(401)
            return None  # a token cannot be forged by another site: no CSRF check
        if request.path.startswith("/api/") and not current_user.is_authenticated:
            return None  # no session to forge: the view answers 401 (a CSRF 400 would mislead)
        csrf.protect()
        return None
