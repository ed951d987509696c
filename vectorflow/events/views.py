"""The event stream: ``GET /events`` for dashboards, ``GET /api/v1/events`` for API tokens."""
from __future__ import annotations

import re

from flask import request
from flask_login import current_user

from ..extensions import db
from ..guards import get_environment_or_404, get_node_or_404, require_login
from ..live import Scope, browser_subscription, event_stream_response, get_broker
from ..schemas.api import StreamQuery
from ..schemas.base import InvalidInput, parse_query
from . import bp

EVENT_ID = re.compile(r"[0-9]{1,19}")


def header_cursor() -> int | None:
    """Return the Last-Event-ID header as an event id, or None when absent; 400 when it is
    not one (this server only sends ids of 1-19 ASCII digits, as event ids are BIGINTs)."""
    raw = (request.headers.get("Last-Event-ID") or "").strip()
    if not raw:
        return None
    if not EVENT_ID.fullmatch(raw):
        raise InvalidInput({"Last-Event-ID": "must be an event id: a non-negative integer "
                                             "of at most 19 digits"})
    return int(raw)


@bp.get("/events")
@bp.get("/api/v1/events", endpoint="api_stream")
@require_login
def stream():
    """Stream the caller's teams' events, resuming after Last-Event-ID (or ?lastEventId=)."""
    query = parse_query(StreamQuery)
    # The header is newer than the URL: browsers send it on their own reconnects.
    cursor = header_cursor()
    if cursor is None:
        cursor = query.last_event_id
    environment_id = query.environment_id
    node_id = query.node_id
    if environment_id:
        get_environment_or_404(environment_id)
    if node_id:
        get_node_or_404(node_id)
    team_ids = current_user.team_ids()
    scope = Scope(team_ids=None if team_ids is None else frozenset(team_ids),
                  environment_id=environment_id, node_id=node_id)
    stream = get_broker().open(browser_subscription(scope), cursor)
    db.session.close()  # nothing below touches the database while the stream is open
    return event_stream_response(stream)
