"""Failed sign-ins are throttled per account and per client address.

Counts live in memory (one server process) or in Redis when ``REDIS_URL`` is set, so every
process and host shares them. Only failures count: a successful sign-in costs nothing, and
nothing outside the login form is throttled here (the agent and REST APIs never call it).
"""
from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

EXTENSION = "vectorflow.login_throttle"
KEY_PREFIX = "vectorflow-login"  # of every Redis key this throttle writes


class LoginThrottle:
    """Moving-window counts of failed sign-ins, by account and by client address."""

    def __init__(self, storage_uri: str, per_account: RateLimitItem, per_address: RateLimitItem):
        self.storage = storage_from_string(storage_uri, key_prefix=KEY_PREFIX, wrap_exceptions=True)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.per_account = per_account
        self.per_address = per_address

    @classmethod
    def from_config(cls, config) -> LoginThrottle:
        limits = {}
        for name in ("VECTORFLOW_LOGIN_LIMIT_ACCOUNT", "VECTORFLOW_LOGIN_LIMIT_ADDRESS"):
            try:
                limits[name] = parse(config[name])
            except ValueError:
                raise ValueError(f"{name}: expected e.g. '10 per 15 minutes', "
                                 f"got {config[name]!r}") from None
        return cls(config.get("REDIS_URL") or "memory://", *limits.values())

    def _counters(self, email: str, address: str | None) -> list[tuple[RateLimitItem, str]]:
        # The email is hashed: keys stay short and the store holds no email addresses.
        account = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:32]
        return [(self.per_account, f"account/{account}"),
                (self.per_address, f"address/{address or 'unknown'}")]

    def retry_after(self, email: str, address: str | None) -> int | None:
        """Return the seconds to wait before this account or address may try again, or None."""
        try:
            for item, key in self._counters(email, address):
                if not self.limiter.test(item, key):
                    reset_at, _ = self.limiter.get_window_stats(item, key)
                    return max(1, math.ceil(reset_at - time.time()))
        except StorageError as err:
            # Unreachable storage must not lock every user out; sign-ins stay password-checked.
            log.error("login throttle storage unavailable, not throttling: %s", err)
        return None

    def record_failure(self, email: str, address: str | None) -> None:
        """Count a failed sign-in against the account and the address."""
        try:
            for item, key in self._counters(email, address):
                self.limiter.hit(item, key)
        except StorageError as err:
            log.error("login throttle storage unavailable, failure not counted: %s", err)

    def reset_for_tests(self) -> None:
        """Forget every count (in Redis, only this throttle's keys)."""
        self.storage.reset()


def init_app(app: Flask) -> None:
    """Create the app's login throttle from its config."""
    app.extensions[EXTENSION] = LoginThrottle.from_config(app.config)


def login_throttle() -> LoginThrottle:
    """Return the current app's login throttle."""
    return current_app.extensions[EXTENSION]
