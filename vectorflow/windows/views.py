"""Maintenance windows of an environment: list, create and edit with a preview, enable or
disable, delete; the node page shows the window holding a node (template globals)."""
from __future__ import annotations

from zoneinfo import available_timezones

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from ..extensions import db
from ..guards import get_environment_or_404, get_window_or_404, require_login
from ..models import MaintenanceWindow, Role, VectorNode
from ..services import ServiceError
from ..services import windows as service
from ..teams.forms import EmptyForm
from ..transactions import attempt
from . import bp
from .forms import WindowForm

ZONES = sorted(available_timezones() - {"localtime", "Factory"})


@bp.app_template_global("maintenance_window_of")
def maintenance_window_of(node: VectorNode):
    """Return (window, run) when a maintenance window holds the node now, else None."""
    return service.holding_window(node)


@bp.app_template_global("maintenance_windows_for")
def maintenance_windows_for(node: VectorNode) -> list[MaintenanceWindow]:
    """Return the enabled windows that target the node, soonest first."""
    return service.windows_for(node)


@bp.app_template_filter("in_zone")
def in_zone(value, zone: str, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """Format a timestamp as a wall-clock time in ``zone`` (with its abbreviation)."""
    return service.local(value, zone).strftime(fmt) if value is not None else "—"


def _nodes(env) -> list[VectorNode]:
    return list(db.session.scalars(sa.select(VectorNode).where(
        VectorNode.environment_id == env.id).order_by(VectorNode.name)))


def _form_for(env, window: MaintenanceWindow | None = None) -> WindowForm:
    """Return the form, filled from the request when one was posted, else from ``window``."""
    if request.method == "POST":
        form = WindowForm()
    elif window is None:
        form = WindowForm(formdata=None)
    else:
        labels = (window.selector or {}).get("labels") or {}
        form = WindowForm(
            formdata=None, name=window.name, duration=window.duration_minutes,
            target="nodes" if window.node_ids is not None else "labels" if labels else "all",
            labels=", ".join(f"{k}={v}" for k, v in sorted(labels.items())),
            node_ids=window.node_ids or [], timezone=window.timezone, rrule=window.rrule or "",
            reason=window.reason or "", enabled=window.enabled,
            start=service.local(window.start_at, window.timezone).strftime("%Y-%m-%dT%H:%M"),
        )
    form.node_ids.choices = [SelectChoice(n.id, n.name) for n in _nodes(env)]
    return form


def _checked(env, form: WindowForm, base: MaintenanceWindow | None):
    """Return the form's settings checked by the service, or None with the problems shown."""
    if not form.validate_on_submit():
        return None
    values = form.values()
    if form.labels.errors:
        return None
    try:
        return values, service.clean_spec(
            env, values, base=service.spec_of(base) if base is not None else None)
    except ServiceError as err:
        _refused(form, err)
        return None


def _refused(form: WindowForm, err: ServiceError) -> int:
    """Show a refused save on the form (or as a message); return the status to answer."""
    if not form.show_problems(err.details):
        flash(err.message, "error")
    return err.status_code


@bp.get("/environments/<env_id>/maintenance-windows")
@require_login
def index(env_id):
    env = get_environment_or_404(env_id)
    rows = service.environment_windows(env)
    return render_template("windows/index.html", environment=env, windows=rows,
                           latest=service.last_runs(rows))


@bp.get("/environments/<env_id>/maintenance-windows/new")
@require_login
def new(env_id):
    env = get_environment_or_404(env_id, Role.ADMIN)
    return render_template("windows/edit.html", environment=env, window=None,
                           form=_form_for(env), zones=ZONES, shown=None)


@bp.post("/environments/<env_id>/maintenance-windows")
@require_login
def create(env_id):
    """Preview the form (action=preview) or save it as a new window."""
    env = get_environment_or_404(env_id, Role.ADMIN)
    form = _form_for(env)
    checked, status = _checked(env, form, None), 400
    if checked is not None and request.form.get("action") != "preview":
        window, err = attempt(service.create_window, env, checked[0])
        if err is None:
            flash(f"Maintenance window {window.name} saved.", "success")
            return redirect(url_for("windows.show", window_id=window.id))
        checked, status = None, _refused(form, err)
    shown = service.preview(env, checked[1]) if checked is not None else None
    return render_template("windows/edit.html", environment=env, window=None, form=form,
                           zones=ZONES, shown=shown), 200 if checked is not None else status


@bp.get("/maintenance-windows/<window_id>")
@require_login
def show(window_id):
    window = get_window_or_404(window_id)
    env = window.environment
    names = {n.id: n.name for n in _nodes(env)}
    return render_template(
        "windows/show.html", environment=env, window=window, names=names,
        shown=service.preview(env, service.spec_of(window)), runs=service.runs(window),
        current=service.open_run(window), button=EmptyForm())


@bp.get("/maintenance-windows/<window_id>/edit")
@require_login
def edit(window_id):
    window = get_window_or_404(window_id, Role.ADMIN)
    return render_template("windows/edit.html", environment=window.environment, window=window,
                           form=_form_for(window.environment, window), zones=ZONES, shown=None)


@bp.post("/maintenance-windows/<window_id>")
@require_login
def update(window_id):
    """Preview the changed form (action=preview) or save the changes."""
    window = get_window_or_404(window_id, Role.ADMIN)
    env = window.environment
    form = _form_for(env, window)
    checked, status = _checked(env, form, window), 400
    if checked is not None and request.form.get("action") != "preview":
        _, err = attempt(service.update_window, window, checked[0])
        if err is None:
            flash(f"Maintenance window {window.name} saved.", "success")
            return redirect(url_for("windows.show", window_id=window.id))
        checked, status = None, _refused(form, err)
    shown = service.preview(env, checked[1]) if checked is not None else None
    return render_template("windows/edit.html", environment=env, window=window, form=form,
                           zones=ZONES, shown=shown), 200 if checked is not None else status


@bp.post("/maintenance-windows/<window_id>/enabled")
@require_login
def set_enabled(window_id):
    """Enable or disable a window (disabling ends an open occurrence at once)."""
    window = get_window_or_404(window_id, Role.ADMIN)
    if not EmptyForm().validate_on_submit():
        flash("The form expired. Try again.", "error")
        return redirect(url_for("windows.show", window_id=window.id))
    enabled = request.form.get("enabled") == "1"
    _, err = attempt(service.update_window, window, {"enabled": enabled})
    if err is not None:
        flash(err.message, "error")
    else:
        flash(f"Maintenance window {window.name} {'enabled' if enabled else 'disabled'}.",
              "success")
    return redirect(url_for("windows.show", window_id=window.id))


@bp.post("/maintenance-windows/<window_id>/delete")
@require_login
def delete(window_id):
    window = get_window_or_404(window_id, Role.ADMIN)
    env_id, name = window.environment_id, window.name
    if not EmptyForm().validate_on_submit():
        flash("The form expired. Try again.", "error")
        return redirect(url_for("windows.show", window_id=window.id))
    _, err = attempt(service.delete_window, window)
    if err is not None:
        flash(err.message, "error")
        return redirect(url_for("windows.show", window_id=window_id))
    flash(f"Maintenance window {name} deleted.", "success")
    return redirect(url_for("windows.index", env_id=env_id))
