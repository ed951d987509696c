"""REST: put nodes into maintenance and take them out, one at a time or in bulk."""
from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify

from ..extensions import db
from ..guards import get_environment_or_404, get_node_or_404, require_login
from ..models import Role, VectorNode
from ..services.maintenance import set_maintenance, set_maintenance_many
from ..services.nodes import has_labels
from . import bp
from .serializers import node_json, node_maintenance_json
from .validation import Body, Field, InvalidInput

MAX_BULK = 1000

MAINTENANCE_FIELDS = dict(
    enabled=Field("boolean", required=True),
    reason=Field("string", max_length=500, nullable=True),
    until=Field("datetime", nullable=True, description="Scheduled end; must be in the future."),
    force=Field("boolean", description="Enter even if it breaks a deployed pipeline's disruption "
                                       "budget (otherwise 409); audited as forced."),
)
NODE_MAINTENANCE = Body(**MAINTENANCE_FIELDS)
BULK_MAINTENANCE = Body(
    selector=Field("object", fields=Body(
        environmentId=Field("string", required=True),
        labels=Field("object", values=Field("string")),
    ), description="Nodes of one environment with all these labels; or give nodeIds."),
    nodeIds=Field("array", items=Field("string"), max_items=MAX_BULK),
    dryRun=Field("boolean", description="Report what would change, change nothing."),
    **MAINTENANCE_FIELDS,
)


def maintenance_summary_json(node: VectorNode) -> dict:
    """Represent a node a bulk call changed (schema NodeMaintenance)."""
    return {"id": node.id, "name": node.name, "environmentId": node.environment_id,
            "status": node.status.value, **node_maintenance_json(node)}




def _options(body: dict) -> dict:
    return {"reason": body.get("reason"), "until": body.get("until"),
            "force": body.get("force", False)}


@bp.post("/nodes/<node_id>/maintenance")
@require_login
def node_maintenance(node_id):
    """Put one node into maintenance or take it out; answer with the node."""
    node = get_node_or_404(node_id, Role.ADMIN)
    body = NODE_MAINTENANCE.parse()
    set_maintenance(node, body["enabled"], **_options(body))
    return jsonify(node_json(node))


def _selected_nodes(body: dict) -> list[VectorNode]:
    selector, node_ids = body.get("selector"), body.get("nodeIds")
    if (selector is None) == (node_ids is None):
        raise InvalidInput({"selector": "give either selector or nodeIds"})
    if node_ids is not None:
        if not node_ids:
            raise InvalidInput({"nodeIds": "must not be empty"})
        return [get_node_or_404(i, Role.ADMIN) for i in dict.fromkeys(node_ids)]
    env = get_environment_or_404(selector["environmentId"], Role.ADMIN)
    labels = selector.get("labels") or {}
    nodes = db.session.scalars(
        sa.select(VectorNode).where(VectorNode.environment_id == env.id).order_by(VectorNode.name)
    )
    return [n for n in nodes if has_labels(n, labels)]


@bp.post("/nodes/maintenance")
@require_login
def bulk_maintenance():
    """Put the selected nodes into maintenance or take them out; dryRun only reports."""
    body = BULK_MAINTENANCE.parse()
    nodes = _selected_nodes(body)
    dry_run = body.get("dryRun", False)
    result = set_maintenance_many(nodes, body["enabled"], dry_run=dry_run, **_options(body))
    return jsonify({
        "dryRun": dry_run,
        "enabled": body["enabled"],
        "nodes": [maintenance_summary_json(n) for n in result.changed],
        "unchangedNodeIds": [n.id for n in result.unchanged],
        "coverageWarnings": [s.as_dict() for s in result.warnings],
    })
