"""REST: maintenance windows (list, create, show, change, delete, preview).

Every member of the team sees them; creating, changing and deleting needs ADMIN.
"""
from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa
from flask import jsonify

from ..guards import get_environment_or_404, get_window_or_404, require_login
from ..models import MaintenanceWindow, Role
from ..services import windows as window_service
from ..services.maintenance import MAX_REASON
from . import bp
from .common import in_environments, no_content, page_response
from .pagination import PAGE_FIELDS, paginate
from .serializers import window_json, window_preview_json
from .validation import Body, Field, Query

WINDOW_FIELDS = dict(
    name=Field("string", max_length=window_service.MAX_NAME),
    nodeIds=Field("array", nullable=True, items=Field("string", max_length=40),
                  max_items=window_service.MAX_NODE_IDS,
                  description="These nodes of the environment; or give selector."),
    selector=Field("object", nullable=True, fields=Body(
        labels=Field("object", values=Field("string", max_length=window_service.MAX_LABEL_VALUE)),
    ), description="Nodes of the environment with all these labels, also those enrolled or "
                   "relabelled while the window is open; or give nodeIds."),
    start=Field("datetime", description="The first occurrence, ISO 8601 with an offset; "
                                        "recurrences repeat its wall-clock time in timezone."),
    durationMinutes=Field("integer", minimum=1, maximum=window_service.MAX_DURATION),
    timezone=Field("string", max_length=64,
                   description="IANA time zone such as Europe/Berlin (default UTC)."),
    rrule=Field("string", nullable=True, max_length=window_service.MAX_RRULE,
                description="RFC 5545 recurrence such as FREQ=WEEKLY;BYDAY=TU (at most hourly); "
                            "null: once."),
    reason=Field("string", nullable=True, max_length=MAX_REASON,
                 description="Shown as the nodes' maintenance reason."),
    enabled=Field("boolean", description="Default true; false ends an open occurrence at once."),
)
CREATE_WINDOW = Body(
    environmentId=Field("string", required=True, max_length=40),
    **{key: replace(field, required=key in ("name", "start", "durationMinutes"))
       for key, field in WINDOW_FIELDS.items()},
)
UPDATE_WINDOW = Body(**WINDOW_FIELDS)
LIST_WINDOWS = Query(environmentId=Field("string", max_length=40), **PAGE_FIELDS)
PREVIEW_WINDOW = Query(count=Field("integer", minimum=1, maximum=50,
                                   description="Occurrences to list (default 5)."))


def represent(window: MaintenanceWindow) -> dict:
    return window_json(window, window_service.last_run(window))


@bp.get("/maintenance-windows")
@require_login
def list_windows():
    args = LIST_WINDOWS.parse()
    query = in_environments(sa.select(MaintenanceWindow), MaintenanceWindow.environment_id,
                            args.get("environmentId"))
    rows, cursor = paginate(query, [MaintenanceWindow.name, MaintenanceWindow.id], args)
    latest = window_service.last_runs(rows)
    return page_response(rows, cursor, lambda w: window_json(w, latest.get(w.id)))


@bp.post("/maintenance-windows")
@require_login
def create_window():
    data = CREATE_WINDOW.parse()
    env = get_environment_or_404(data.pop("environmentId"), Role.ADMIN)
    window = window_service.create_window(env, data)
    return jsonify(represent(window)), 201


@bp.get("/maintenance-windows/<window_id>")
@require_login
def show_window(window_id):
    return jsonify(represent(get_window_or_404(window_id)))


@bp.patch("/maintenance-windows/<window_id>")
@require_login
def update_window(window_id):
    window = get_window_or_404(window_id, Role.ADMIN)
    data = UPDATE_WINDOW.parse()
    window = window_service.update_window(window, data)
    return jsonify(represent(window))


@bp.delete("/maintenance-windows/<window_id>")
@require_login
def delete_window(window_id):
    window_service.delete_window(get_window_or_404(window_id, Role.ADMIN))
    return no_content()


@bp.get("/maintenance-windows/<window_id>/preview")
@require_login
def preview_window(window_id):
    window = get_window_or_404(window_id)
    args = PREVIEW_WINDOW.parse()
    shown = window_service.preview(window.environment, window_service.spec_of(window),
                                   count=args.get("count") or window_service.PREVIEW_COUNT)
    return jsonify(window_preview_json(window, shown))
