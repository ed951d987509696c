"""The fleet table: every node the user can see, paginated, filtered and sorted server-side,
with the overview strip, bulk maintenance and pruning (each previewed before it changes)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import (
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..auth.views import safe_next
from ..extensions import db
from ..guards import get_node_or_404, require_login
from ..live import live_page
from ..maintenance.views import until_from_form
from ..models import Environment, NodeStatus, Role, VectorNode
from ..pagination import page_number, paginate, url_with
from ..schemas.fields import BULK_MAX
from ..services import Conflict
from ..services import fleet as fleet_service
from ..services import maintenance as maintenance_service
from ..services import nodes as node_service
from ..transactions import attempt
from . import bp

PER_PAGE = 100
TRUE = {"1", "true", "on", "yes"}

bp.add_app_template_global(url_with, "url_with")


def _cutoff():
    """Return the unreachable cutoff, computed once per request (one settings query)."""
    if not has_request_context():
        return node_service.unreachable_cutoff()
    if "unreachable_cutoff" not in g:
        g.unreachable_cutoff = node_service.unreachable_cutoff()
    return g.unreachable_cutoff


@bp.app_template_global("node_status")
def node_status(node: VectorNode) -> NodeStatus:
    """Return the node's effective status for display (stale heartbeat -> Unreachable)."""
    return node_service.effective_status(node, _cutoff())


def _filter(args) -> tuple[list[Environment], fleet_service.FleetFilter]:
    environments = node_service.visible_environments(current_user)
    return environments, fleet_service.parse_filter(args, {env.id for env in environments})


@bp.get("/")
@require_login
@live_page
def index():
    environments, f = _filter(request.args)
    cutoff = _cutoff()
    newest = fleet_service.newest_deployed(
        [f.env] if f.env else None if current_user.team_ids() is None
        else [e.id for e in environments])
    summary = fleet_service.overview(current_user, f, cutoff, newest)
    query = fleet_service.filtered_query(current_user, f, cutoff, newest)
    page = paginate(query, page_number(request.args.get("page")), PER_PAGE,
                    options=(selectinload(VectorNode.environment),), key=VectorNode.id)
    back = request.full_path.rstrip("?")
    return render_template(
        "fleet/index.html", page=page, nodes=page.items, environments=environments,
        overview=summary, counts=summary.statuses, filters=f, back=back,
        running=fleet_service.running_by_node(page.items),
        admin=_is_admin(), statuses=fleet_service.STATUSES,
    ), 400 if f.problems else 200


@bp.get("/favicon.ico")
def favicon():
    """Answer browsers and tools that ask for /favicon.ico with the SVG icon (no 404 per page)."""
    return send_from_directory(current_app.static_folder, "favicon.svg",
                               mimetype="image/svg+xml", max_age=86400)


@bp.get("/fleet/rows/<node_id>")
@require_login
def row(node_id):
    """Render one fleet row (live updates re-fetch rows one at a time); ``back`` is the fleet
    page the row sits on, where its forms return to."""
    node = get_node_or_404(node_id)
    return render_template("fleet/_row.html", node=node, back=safe_next(request.args.get("back")),
                           running=fleet_service.running_by_node([node]), admin=_is_admin())


def _is_admin() -> bool:
    """Whether the table has a selection column: the user is an ADMIN of some team."""
    return (current_user.max_role() or 0) >= Role.ADMIN


# ---------------------------------------------------------------- bulk actions

def _admin_scope(query: sa.Select) -> sa.Select:
    """Narrow a fleet query to the teams where the user is an ADMIN."""
    ids = current_user.team_ids()
    if ids is None:
        return query
    return query.where(Environment.team_id.in_(
        [t for t in ids if current_user.role_in(t) == Role.ADMIN]))


def _targets(form, *where) -> tuple[list[VectorNode], fleet_service.FleetFilter | None,
                                   str | None]:
    """Return the nodes a bulk form names: ticked rows (``node``) or, with ``scope=filter``,
    every node matching the filter it carries (and ``where``); an error message when there
    is none."""
    if form.get("scope") == "filter":
        _, f = _filter(form)
        if f.problems:
            return [], f, "; ".join(f.problems.values())
        query = _admin_scope(fleet_service.filtered_query(current_user, f, _cutoff())
                             .where(*where))
        nodes = list(db.session.scalars(query.limit(BULK_MAX + 1)))
    else:
        f = None
        ids = list(dict.fromkeys(form.getlist("node")))[:BULK_MAX + 1]
        nodes = [get_node_or_404(i, Role.ADMIN) for i in ids if isinstance(i, str) and i]
    if not nodes:
        return [], f, "select at least one node you administer"
    if len(nodes) > BULK_MAX:
        return [], f, f"at most {BULK_MAX} nodes at once: narrow the filter"
    return nodes, f, None


def _back(form) -> str:
    return safe_next(form.get("next") or url_for("fleet.index"))


@bp.post("/fleet/maintenance")
@require_login
def bulk_maintenance():
    """Preview (the dry run of the API's bulk maintenance) and then apply it to the ticked
    rows or every node matching the filter; ``confirm=1`` applies exactly the previewed ids."""
    form = request.form
    back = _back(form)
    enabled = form.get("enabled", "1").strip().lower() in TRUE
    nodes, f, error = _targets(form)
    if error:
        flash(f"Bulk maintenance: {error}.", "error")
        return redirect(back)
    options = dict(reason=form.get("reason"), until=until_from_form(form),
                   force=form.get("force", "").strip().lower() in TRUE)
    confirm = form.get("confirm", "").strip().lower() in TRUE
    preview, err = attempt(maintenance_service.set_maintenance_many, nodes, enabled,
                           dry_run=True, **(options if confirm else {}))
    if err is None and confirm:
        result, err = attempt(maintenance_service.set_maintenance_many, nodes, enabled, **options)
        if err is None:
            flash(f"{len(result.changed)} node{'' if len(result.changed) == 1 else 's'} "
                  f"{'entered' if enabled else 'left'} maintenance"
                  + (f"; {len(result.unchanged)} already were" if result.unchanged else "")
                  + ".", "success")
            return redirect(back)
    status = 200 if err is None else (409 if isinstance(err, Conflict) else 400)
    preview = preview or maintenance_service.BulkResult(dry_run=True)
    return render_template("fleet/bulk_preview.html", enabled=enabled, result=preview,
                           nodes=nodes, back=back, error=err.message if err else None,
                           form=form, filters=f), status


@bp.post("/fleet/prune")
@require_login
def prune():
    """Preview and then delete nodes unseen for more than N days: ticked rows, one node, or
    every node matching the filter."""
    form = request.form
    back = _back(form)
    try:
        days = int(form.get("days", "").strip()[:6])
    except ValueError:
        days = None
    where = []
    if isinstance(days, int) and 1 <= days <= node_service.PRUNE_DAYS_MAX:
        where.append(node_service.unseen_since(node_service.prune_cutoff(days)))
    nodes, f, error = _targets(form, *where)
    if error:
        flash(f"Prune: {error}.", "error")
        return redirect(back)
    confirm = form.get("confirm", "").strip().lower() in TRUE
    preview, err = attempt(node_service.prune_nodes, nodes, days, dry_run=True)
    if err is None and confirm:
        result, err = attempt(node_service.prune_nodes, nodes, days)
        if err is None:
            flash(f"Pruned {len(result.pruned)} node{'' if len(result.pruned) == 1 else 's'} "
                  f"unseen for more than {days} days"
                  + (f"; kept {len(result.kept)} seen since" if result.kept else "") + ".",
                  "success")
            return redirect(back)
    return render_template("fleet/prune_preview.html", days=days, result=preview,
                           nodes=nodes, back=back, error=err.message if err else None,
                           filters=f), 200 if err is None else 400
