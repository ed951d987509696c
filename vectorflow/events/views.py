"""The event stream: ``GET /events`` for dashboards, ``GET /api/v1/events`` for API tokens."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from ..errors import render_error
from ..extensions import db
from ..guards import get_environment_or_404, get_node_or_404, require_login
from ..live import Scope, browser_subscription, event_stream_response, get_broker
from . import bp


def parse_cursor(raw: str | None) -> int | None:
    """Return the event id a client resumes after, or None; ValueError when malformed."""
    if raw is None or raw.strip() == "":
        return None
    value = int(raw.strip())
    if value < 0:
        raise ValueError(raw)
    return value


@bp.get("/events")
@bp.get("/api/v1/events")
@require_login
def stream():
    """Stream the caller's teams' events, resuming after Last-Event-ID (or ?lastEventId=)."""
    try:
        # The header is newer than the URL: browsers send it on their own reconnects.
        cursor = parse_cursor(request.headers.get("Last-Event-ID")
                              or request.args.get("lastEventId"))
    except ValueError:
        return render_error(400, "Invalid input",
                            {"lastEventId": "must be a non-negative integer event id"})
    environment_id = request.args.get("environmentId") or None
    node_id = request.args.get("nodeId") or None
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
