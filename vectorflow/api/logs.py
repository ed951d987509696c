"""A node's log lines for scripts: GET /api/v1/nodes/<id>/logs (oldest first, by cursor) and
its live tail, GET /api/v1/nodes/<id>/logs/stream."""
from __future__ import annotations

from ..extensions import db
from ..guards import get_node_or_404, require_login
from ..models import LogLine
from ..schemas.base import page_response, parse_query
from ..schemas.telemetry import LogLineOut, LogsQuery, LogStreamQuery
from ..services.telemetry import log_query
from . import bp


@bp.get("/nodes/<id:node_id>/logs")
@require_login
def node_logs(node_id):
    node = get_node_or_404(node_id)
    args = parse_query(LogsQuery)
    query = log_query(node_id=node.id, pipeline_id=args.pipeline_id, level=args.level,
                      q=args.q, since=args.since)
    if args.cursor:
        query = query.where(LogLine.id > int(args.cursor))
    rows = db.session.scalars(query.order_by(LogLine.id).limit(args.limit + 1)).all()
    more = len(rows) > args.limit
    rows = rows[:args.limit]
    return page_response(rows, str(rows[-1].id) if more else None, LogLineOut)


@bp.get("/nodes/<id:node_id>/logs/stream")
@require_login
def node_log_stream(node_id):
    """Follow the node's new log lines (server-sent events), from ``after`` or from now."""
    from ..events.views import header_cursor
    from ..services.telemetry import newest_log_id
    from ..telemetry.views import open_log_tail

    node = get_node_or_404(node_id)
    args = parse_query(LogStreamQuery)
    after = header_cursor()
    if after is None:
        after = args.after if args.after is not None else newest_log_id()
    return open_log_tail(level=args.level, q=args.q, after=after, node_id=node.id,
                         pipeline_id=args.pipeline_id)
