"""Live updates: committed outbox events fanned out to dashboard and agent streams.

One ``Broker`` per process lives in ``app.extensions["vectorflow.broker"]``. It keeps a
ring of recent events (``Hub``) fed from the ``events`` table by one feed thread, woken
after commit (SQLite), by PostgreSQL NOTIFY, or by Redis pub/sub when REDIS_URL is set.
"""
from .broker import (
    Broker,
    Scope,
    Subscription,
    browser_subscription,
    event_stream_response,
    init_app,
)
from .hub import Hub, LiveEvent, sse_message

__all__ = [
    "Broker", "Hub", "LiveEvent", "Scope", "Subscription", "browser_subscription",
    "event_stream_response", "get_broker", "init_app", "sse_message",
]


def get_broker():
    """Return the current app's broker."""
    from flask import current_app

    return current_app.extensions["vectorflow.broker"]
