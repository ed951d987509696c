"""REST: put nodes into maintenance and take them out, one at a time or in bulk; prune nodes
unseen for a long time (the same selection as bulk maintenance)."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..guards import get_environment_or_404, get_node_or_404, require_login
from ..models import Role, VectorNode
from ..schemas import api as models
from ..schemas.base import parse_body, respond
from ..services.maintenance import set_maintenance, set_maintenance_many
from ..services import nodes as node_service
from ..services.nodes import has_labels
from . import bp


def _options(body: models.NodeMaintenance) -> dict:
    return {"reason": body.reason, "until": body.until, "force": bool(body.force)}


@bp.post("/nodes/<id:node_id>/maintenance")
@require_login
def node_maintenance(node_id):
    """Put one node into maintenance or take it out; answer with the node."""
    node = get_node_or_404(node_id, Role.ADMIN)
    body = parse_body(models.NodeMaintenance)
    set_maintenance(node, body.enabled, **_options(body))
    return respond(models.Node.of(node))


def _selected_nodes(body: models.BulkMaintenance | models.PruneNodes) -> list[VectorNode]:
    if body.node_ids is not None:
        return [get_node_or_404(i, Role.ADMIN) for i in dict.fromkeys(body.node_ids)]
    env = get_environment_or_404(body.selector.environment_id, Role.ADMIN)
    labels = body.selector.labels or {}
    nodes = db.session.scalars(
        sa.select(VectorNode).where(VectorNode.environment_id == env.id).order_by(VectorNode.name)
    )
    return [n for n in nodes if has_labels(n, labels)]


@bp.post("/nodes/maintenance")
@require_login
def bulk_maintenance():
    """Put the selected nodes into maintenance or take them out; dryRun only reports."""
    body = parse_body(models.BulkMaintenance)
    nodes = _selected_nodes(body)
    dry_run = bool(body.dry_run)
    result = set_maintenance_many(nodes, body.enabled, dry_run=dry_run, **_options(body))
    return respond(models.BulkMaintenanceResult(
        dry_run=dry_run, enabled=body.enabled,
        nodes=[models.NodeSummary.of(n) for n in result.changed],
        unchanged_node_ids=[n.id for n in result.unchanged],
        coverage_warnings=[models.BudgetShortfall.of(s) for s in result.warnings],
    ))


@bp.post("/nodes/prune")
@require_login
def prune_nodes():
    """Delete the selected nodes unseen for more than olderThanDays; dryRun only reports."""
    body = parse_body(models.PruneNodes)
    if body.node_ids is not None:
        nodes = _selected_nodes(body)
    else:
        cutoff = node_service.prune_cutoff(body.older_than_days)
        nodes = [n for n in _selected_nodes(body) if node_service.unseen_since_value(n, cutoff)]
    dry_run = bool(body.dry_run)
    result = node_service.prune_nodes(nodes, body.older_than_days, dry_run=dry_run)
    return respond(models.PruneResult(
        dry_run=dry_run, older_than_days=body.older_than_days,
        nodes=[models.NodeSummary.of(n) for n in result.pruned],
        kept_node_ids=[n.id for n in result.kept],
    ))
