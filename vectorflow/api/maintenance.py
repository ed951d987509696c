"""REST: put nodes into maintenance and take them out, one at a time or in bulk."""
from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify, request

from ..extensions import db
from ..guards import get_environment_or_404, get_node_or_404, require_login
from ..models import Pipeline, Role, VectorNode
from ..services import ServiceError
from ..services.maintenance import set_maintenance, set_maintenance_many
from ..templating import iso
from . import bp

MAX_BULK = 1000


def maintenance_json(node: VectorNode) -> dict:
    """Return the maintenance fields of a node as the API shows them."""
    return {
        "maintenanceMode": bool(node.maintenance_mode),
        "maintenanceModeAt": iso(node.maintenance_mode_at) or None,
        "maintenanceReason": node.maintenance_reason,
        "maintenanceUntil": iso(node.maintenance_until) or None,
        "maintenanceBy": node.maintenance_by_label if node.maintenance_mode else None,
        "drainState": node.drain_state.value if node.drain_state else None,
        "drainedAt": iso(node.drained_at) or None,
    }


def _node_json(node: VectorNode) -> dict:
    return {"id": node.id, "name": node.name, "environmentId": node.environment_id,
            "status": node.status.value, **maintenance_json(node)}


def _coverage_json(pipelines: list[Pipeline]) -> list[dict]:
    return [{"pipelineId": p.id, "pipelineName": p.name, "environmentId": p.environment_id}
            for p in pipelines]


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Invalid input", {"body": "expected a JSON object"})
    return body


def _options(body: dict) -> dict:
    """Check the fields shared by the single and the bulk call; return them as keywords."""
    problems = {}
    if not isinstance(body.get("enabled"), bool):
        problems["enabled"] = "required, true or false"
    for name in ("reason", "until"):
        if body.get(name) is not None and not isinstance(body[name], str):
            problems[name] = "must be a string"
    for name in ("force", "dryRun"):
        if name in body and not isinstance(body[name], bool):
            problems[name] = "must be true or false"
    if problems:
        raise ServiceError("Invalid input", problems)
    return {"reason": body.get("reason"), "until": body.get("until"),
            "force": body.get("force", False)}


@bp.post("/nodes/<node_id>/maintenance")
@require_login
def node_maintenance(node_id):
    """Put one node into maintenance or take it out; answer with the node."""
    node = get_node_or_404(node_id, Role.ADMIN)
    body = _body()
    options = _options(body)
    set_maintenance(node, body["enabled"], **options)
    db.session.commit()
    return jsonify(_node_json(node))


def _selected_nodes(body: dict) -> list[VectorNode]:
    selector, node_ids = body.get("selector"), body.get("nodeIds")
    if (selector is None) == (node_ids is None):
        raise ServiceError("Invalid input", {"selector": "give either selector or nodeIds"})
    if node_ids is not None:
        if (not isinstance(node_ids, list) or not node_ids or len(node_ids) > MAX_BULK
                or not all(isinstance(i, str) for i in node_ids)):
            raise ServiceError("Invalid input",
                               {"nodeIds": f"a list of 1-{MAX_BULK} node id strings"})
        return [get_node_or_404(i, Role.ADMIN) for i in dict.fromkeys(node_ids)]
    if not isinstance(selector, dict) or not isinstance(selector.get("environmentId"), str):
        raise ServiceError("Invalid input", {"selector": "needs environmentId"})
    labels = selector.get("labels") or {}
    if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise ServiceError("Invalid input", {"selector.labels": "an object of string to string"})
    env = get_environment_or_404(selector["environmentId"], Role.ADMIN)
    nodes = db.session.scalars(
        sa.select(VectorNode).where(VectorNode.environment_id == env.id).order_by(VectorNode.name)
    )
    return [n for n in nodes if all((n.labels or {}).get(k) == v for k, v in labels.items())]


@bp.post("/nodes/maintenance")
@require_login
def bulk_maintenance():
    """Put the selected nodes into maintenance or take them out; dryRun only reports."""
    body = _body()
    options = _options(body)
    nodes = _selected_nodes(body)
    dry_run = body.get("dryRun", False)
    result = set_maintenance_many(nodes, body["enabled"], dry_run=dry_run, **options)
    if not dry_run:
        db.session.commit()
    return jsonify({
        "dryRun": dry_run,
        "enabled": body["enabled"],
        "nodes": [_node_json(n) for n in result.changed],
        "unchangedNodeIds": [n.id for n in result.unchanged],
        "coverageWarnings": _coverage_json(result.warnings),
    })
