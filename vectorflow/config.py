"""Configuration read from environment variables, with defaults that work on a fresh checkout."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def normalise_database_url(url: str) -> str:
    """Make ``postgres://`` and ``postgresql://`` URLs use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_secret_key(instance_path: str) -> str:
    """Return SECRET_KEY from the environment, or one generated once and kept in the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Create with 0600 so the key is never world-readable, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def from_environment(instance_path: str) -> dict:
    """Build the app's config mapping from environment variables."""
    default_db = "sqlite:///" + str(Path(instance_path) / "vectorflow.db")
    return {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            os.environ.get("DATABASE_URL", default_db)
        ),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "VECTORFLOW_PUBLIC_URL": (os.environ.get("VECTORFLOW_PUBLIC_URL") or "").rstrip("/") or None,
        "VECTORFLOW_ENCRYPTION_KEY": os.environ.get("VECTORFLOW_ENCRYPTION_KEY") or None,
        # Background sweeps (health, scheduled maintenance end). Off in tests, which call them directly.
        "VECTORFLOW_SWEEP_INTERVAL": float(os.environ.get("VECTORFLOW_SWEEP_INTERVAL", "5")),
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        # No ping on checkout (a round trip per request): transactions.run runs the work again
        # on a fresh connection when a pooled one turns out dead; connections older than an
        # hour are replaced before use (firewalls and proxies drop idle ones).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 3600},
        # Heartbeats by group commit (services.heartbeats): how long the first heartbeat of a
        # batch waits for others to join, and the most one batch holds.
        "VECTORFLOW_HEARTBEAT_WINDOW_MS": float(os.environ.get("VECTORFLOW_HEARTBEAT_WINDOW_MS",
                                                               "2")),
        "VECTORFLOW_HEARTBEAT_BATCH": int(os.environ.get("VECTORFLOW_HEARTBEAT_BATCH", "100")),
        # The config poll's per-process cache (services.poll_cache): an entry is read again
        # after this many seconds even when no change dropped it; 0 turns the cache off.
        "VECTORFLOW_POLL_CACHE_SECONDS": float(os.environ.get("VECTORFLOW_POLL_CACHE_SECONDS",
                                                              "300")),
        # A sign-in (session and remember-me cookie) lasts at most this many days.
        "VECTORFLOW_SESSION_DAYS": float(os.environ.get("VECTORFLOW_SESSION_DAYS", "30")),
        # Failed sign-ins allowed per account and per client address (the `limits` notation).
        "VECTORFLOW_LOGIN_LIMIT_ACCOUNT": os.environ.get("VECTORFLOW_LOGIN_LIMIT_ACCOUNT",
                                                         "10 per 15 minutes"),
        "VECTORFLOW_LOGIN_LIMIT_ADDRESS": os.environ.get("VECTORFLOW_LOGIN_LIMIT_ADDRESS",
                                                         "50 per 15 minutes"),
        # Reverse proxies in front of the app that set X-Forwarded-For (nginx: 1).
        "VECTORFLOW_TRUSTED_PROXIES": int(os.environ.get("VECTORFLOW_TRUSTED_PROXIES", "0")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Agent and API bodies above this size get 413.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
    }
