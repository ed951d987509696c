"""Form endpoints behind the maintenance toggle (fleet rows and node page).

The dialog posts here with fetch (JSON answer, then the page re-renders the fragments);
without JavaScript the toggle links to the confirmation page and the form redirects back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from flask import flash, jsonify, redirect, render_template, request, url_for

from ..auth.views import safe_next
from ..guards import get_node_or_404, require_login, wants_json
from ..models import Role, VectorNode
from ..schemas.api import MaintenanceState
from ..services import Conflict
from ..services import maintenance as service
from ..services.budgets import Shortfall
from ..transactions import attempt
from . import bp

TRUE = {"1", "true", "on", "yes"}


@dataclass
class MaintenanceInfo:
    """What the toggle dialog says about a node: pipelines running now, budgets it would break."""

    running: int
    warnings: list[Shortfall]


def maintenance_info(node: VectorNode, enabled: bool) -> MaintenanceInfo | None:
    """Return what the confirmation says before ``node`` enters maintenance (None when it
    leaves), read when it is shown: a few indexed queries."""
    if not enabled:
        return None
    return MaintenanceInfo(service.running_count(node), service.budget_shortfalls(node))


def next_url(value: str | None, node: VectorNode) -> str:
    """Return where to go after the toggle: ``value`` if it is a safe local path, else the node."""
    return safe_next(value or url_for("nodes.show", node_id=node.id))


@bp.app_template_global("maintenance_history")
def maintenance_history(node: VectorNode, limit: int = 20):
    """Return the node's latest maintenance periods, newest first."""
    return service.history(node, limit)


@bp.app_template_global("maintenance_phase")
def maintenance_phase(node: VectorNode) -> service.Phase | None:
    """Return where the node is in maintenance (services.maintenance.PHASES), or None."""
    return service.phase_of(node)


def confirm_page(node: VectorNode, enabled: bool, back: str, **context) -> str:
    """Render the confirmation page (the toggle without JavaScript, and its form errors)."""
    return render_template("maintenance/confirm.html", node=node, enabled=enabled, next=back,
                           info=maintenance_info(node, enabled), **context)


def until_from_form(form) -> str | datetime | None:
    """Return the scheduled end a form sent: ``until`` (ISO, set by the dialog's script)
    or ``until_local`` read as UTC (the page without JavaScript says so)."""
    if form.get("until", "").strip():
        return form["until"]
    local = form.get("until_local", "").strip()
    if not local:
        return None
    try:
        parsed = datetime.fromisoformat(local)
    except ValueError:
        return local  # the service explains what is wrong with it
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@bp.get("/<node_id>/maintenance")
@require_login
def confirm(node_id):
    """Show the confirmation as a page (the toggle's target when JavaScript is off)."""
    node = get_node_or_404(node_id, Role.ADMIN)
    return confirm_page(node, not node.maintenance_mode, next_url(request.args.get("next"), node))


@bp.get("/<node_id>/maintenance/dialog")
@require_login
def dialog_body(node_id):
    """Render the body of a toggle's dialog when it opens, so its facts are current and
    pages that list many toggles compute none of them.

    ``enabled`` is the direction the dialog was rendered for, so a node that changed state
    since keeps a body that matches its title (the post is then a no-op).
    """
    node = get_node_or_404(node_id, Role.ADMIN)
    enabled = request.args.get("enabled", "").strip().lower() in TRUE
    return render_template("maintenance/_dialog_body.html", node=node, enabled=enabled,
                           info=maintenance_info(node, enabled),
                           next=next_url(request.args.get("next"), node))


@bp.post("/<node_id>/maintenance")
@require_login
def toggle(node_id):
    """Enter or leave maintenance from the dialog (fetch: JSON; plain form: redirect)."""
    node = get_node_or_404(node_id, Role.ADMIN)
    form = request.form
    enabled = form.get("enabled", "").strip().lower() in TRUE
    back = next_url(form.get("next"), node)
    options = dict(reason=form.get("reason"), until=until_from_form(form),
                   force=form.get("force", "").strip().lower() in TRUE)
    if wants_json():  # the dialog's fetch: a refusal is the usual JSON error
        changed = service.set_maintenance(node, enabled, **options)
        return jsonify({"changed": changed,
                        "node": {"id": node.id, **MaintenanceState.of(node).as_json()}})
    changed, err = attempt(service.set_maintenance, node, enabled, **options)
    if err is not None:
        status = 409 if isinstance(err, Conflict) else 400
        return confirm_page(node, enabled, back, error=err.message, form=form), status
    if not changed:
        flash(f"{node.name} was already {'in' if enabled else 'out of'} maintenance.", "info")
    elif enabled:
        flash(f"{node.name} is in maintenance: its agent stops all pipelines on its next poll.",
              "success")
    else:
        flash(f"{node.name} left maintenance: its agent starts its pipelines on its next poll.",
              "success")
    return redirect(back)


@bp.get("/<node_id>/maintenance/panel")
@require_login
def panel(node_id):
    """Render the node page's maintenance panel (banner and toggle) alone, for live updates."""
    return render_template("nodes/_maintenance_banner.html", node=get_node_or_404(node_id))


@bp.get("/<node_id>/maintenance/history")
@require_login
def history(node_id):
    """Render the node's maintenance history table alone."""
    return render_template("nodes/_maintenance_history.html", node=get_node_or_404(node_id))


@bp.get("/<node_id>/maintenance/toggle")
@require_login
def toggle_fragment(node_id):
    """Render the node page's toggle (and its dialog) alone."""
    return render_template("maintenance/_toggle.html", node=get_node_or_404(node_id))
