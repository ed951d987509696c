"""REST: maintenance windows (list, create, show, change, delete, preview).

Every member of the team sees them; creating, changing and deleting needs ADMIN.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..guards import get_environment_or_404, get_window_or_404, require_login
from ..models import MaintenanceWindow, Role
from ..schemas import api as models
from ..schemas.base import page_response, parse_body, parse_query, respond
from ..schemas.fields import PREVIEW_DEFAULT
from ..services import windows as window_service
from . import bp
from .common import in_environments, no_content
from .pagination import paginate


def represent(window: MaintenanceWindow) -> models.MaintenanceWindow:
    return models.MaintenanceWindow.of(window, run=window_service.last_run(window))


@bp.get("/maintenance-windows")
@require_login
def list_windows():
    args = parse_query(models.ListWindows)
    query = in_environments(sa.select(MaintenanceWindow), MaintenanceWindow.environment_id,
                            args.environment_id)
    rows, cursor = paginate(query, [MaintenanceWindow.name, MaintenanceWindow.id], args)
    latest = window_service.last_runs(rows)
    return page_response(rows, cursor, models.MaintenanceWindow, run=lambda w: latest.get(w.id))


@bp.post("/maintenance-windows")
@require_login
def create_window():
    body = parse_body(models.CreateWindow)
    env = get_environment_or_404(body.environment_id, Role.ADMIN)
    window = window_service.create_window(env, body.settings())
    return respond(represent(window), 201)


@bp.get("/maintenance-windows/<id:window_id>")
@require_login
def show_window(window_id):
    return respond(represent(get_window_or_404(window_id)))


@bp.patch("/maintenance-windows/<id:window_id>")
@require_login
def update_window(window_id):
    window = get_window_or_404(window_id, Role.ADMIN)
    body = parse_body(models.UpdateWindow)
    window = window_service.update_window(window, body.settings())
    return respond(represent(window))


@bp.delete("/maintenance-windows/<id:window_id>")
@require_login
def delete_window(window_id):
    window_service.delete_window(get_window_or_404(window_id, Role.ADMIN))
    return no_content()


@bp.get("/maintenance-windows/<id:window_id>/preview")
@require_login
def preview_window(window_id):
    window = get_window_or_404(window_id)
    args = parse_query(models.PreviewQuery)
    shown = window_service.preview(window.environment, window_service.spec_of(window),
                                   count=args.count or PREVIEW_DEFAULT)
    return respond(models.MaintenanceWindowPreview.of(window, shown=shown))
