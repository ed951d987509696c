"""Hooks for pages that update live: the stream URL they connect to, resuming at their data."""
from __future__ import annotations

from functools import wraps

from flask import g, url_for

from .broker import get_broker


def live_page(view):
    """Note the newest event id before the view reads its data (see ``live_stream_url``).

    An event committed after that read but before the browser connects is then replayed
    to the page instead of being lost.
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        g.live_cursor = get_broker().head()
        return view(*args, **kwargs)

    return wrapped


def live_stream_url(**filters: str | None) -> str:
    """Return the page's event-stream URL with the given filters (environmentId, nodeId)."""
    cursor = g.get("live_cursor")
    if cursor is None:
        cursor = get_broker().head()
    return url_for("events.stream", lastEventId=cursor,
                   **{key: value for key, value in filters.items() if value})
