"""Sign-ins kept on the server: a row per sign-in, so ending one ends every copy of its cookies.

Flask-Login keeps ``User.get_id()`` in the session cookie and in the remember-me cookie; for a
user that is the raw token of one sign-in, whose SHA-256 digest is a row of ``user_sessions``.
Logging out deletes that row; a password change or "sign out everywhere" deletes all of the
user's rows. A cookie whose row is gone, or past its ``expires_at``, signs nobody in.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import User, UserSession, utcnow
from ..security import generate_token, token_digest
from .actors import Actor
from .audit import record

SESSION_PREFIX = "vf_session_"


def session_lifetime() -> timedelta:
    """Return how long a sign-in lasts at most (``VECTORFLOW_SESSION_DAYS``)."""
    return timedelta(days=current_app.config["VECTORFLOW_SESSION_DAYS"])


def start_session(user: User, *, remember: bool = False) -> str:
    """Record a new sign-in of ``user`` and return its token (``user.get_id()`` returns it too)."""
    now = utcnow()
    # The user's ended sign-ins go here rather than in a sweep: the table stays small.
    db.session.execute(
        sa.delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now)
    )
    token = generate_token(SESSION_PREFIX)
    db.session.add(UserSession(user_id=user.id, token_digest=token_digest(token), remember=remember,
                               created_at=now, expires_at=now + session_lifetime()))
    db.session.flush()
    user.session_token = token
    return token


def load_session_user(token: str) -> User | None:
    """Return the user of a live sign-in token, or None when it ended, expired or is malformed."""
    if not token.startswith(SESSION_PREFIX) or len(token) > 100:
        return None
    row = db.session.execute(
        sa.select(UserSession.expires_at, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_digest == token_digest(token))
    ).first()
    if row is None or row.expires_at <= utcnow() or not row.User.is_active:
        return None
    user = row.User
    user.session_token = token
    return user


def end_session(token: str | None) -> None:
    """End one sign-in (logout): its session and remember-me cookies stop working everywhere."""
    if token:
        db.session.execute(sa.delete(UserSession).where(UserSession.token_digest == token_digest(token)))


def end_all_sessions(user: User) -> int:
    """End every sign-in of ``user``; return how many there were."""
    result = db.session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id))
    return result.rowcount


def sign_out_everywhere(user: User, *, actor: Actor | None = None) -> int:
    """End every sign-in of ``user`` (an admin's action, audited); return how many ended."""
    ended = end_all_sessions(user)
    record("user.signed_out_everywhere", entity_type="user", entity_id=user.id, team_id=None,
           after={"email": user.email, "sessionsEnded": ended}, actor=actor)
    return ended
