"""Live updates: committed outbox events fanned out to dashboard and agent streams.

One ``Broker`` per process lives in ``app.extensions["vectorflow.broker"]``. It keeps a
ring of recent events (``Hub``) fed from the ``events`` table by one feed thread, woken
after commit (SQLite), by PostgreSQL NOTIFY, or by Redis pub/sub when REDIS_URL is set.
"""
from flask import Flask

from . import broker as _broker
from .broker import (
    Broker,
    Scope,
    Subscription,
    browser_subscription,
    event_stream_response,
    get_broker,
)
from .hub import Hub, LiveEvent, sse_message
from .pages import live_page, live_stream_url

__all__ = [
    "Broker", "Hub", "LiveEvent", "Scope", "Subscription", "browser_subscription",
    "event_stream_response", "get_broker", "init_app", "live_page", "live_stream_url",
    "sse_message",
]


def init_app(app: Flask) -> Broker:
    """Install the broker (nothing starts until a stream opens) and the page helper."""
    app.add_template_global(live_stream_url, "live_stream_url")
    return _broker.init_app(app)
