"""Nodes: list (filtered, paginated), show, rename, delete, trigger an agent update.

Maintenance has its own module (api/maintenance.py).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify
from sqlalchemy.orm import selectinload

from ..guards import get_node_or_404, require_login
from ..models import NodePipelineStatus, NodeStatus, Role, VectorNode
from ..services import nodes as node_service
from ..services.nodes import effective_status_clause, unreachable_cutoff
from . import bp
from .common import in_environments, no_content, page_response
from .pagination import PAGE_FIELDS, paginate
from .serializers import node_json
from .validation import Body, Field, InvalidInput, Query

# Everything node_json() reads, loaded per page in a fixed number of queries.
NODE_LOAD = (
    selectinload(VectorNode.environment),
    selectinload(VectorNode.pipeline_statuses).selectinload(NodePipelineStatus.pipeline),
)
LABEL_KEY = node_service.LABEL_KEY

LIST_NODES = Query(
    environmentId=Field("string", max_length=40),
    status=Field("string", choices=tuple(s.value for s in NodeStatus)),
    maintenance=Field("boolean", description="true: only nodes in maintenance; false: only others."),
    label=Field("string", repeated=True, max_length=300,
                description="key=value; repeat for several labels (all must match)."),
    **PAGE_FIELDS,
)


def label_filters(selectors: list[str]) -> list:
    """Turn ``key=value`` selectors into SQL conditions on the node's labels."""
    labels = {}
    for selector in selectors:
        key, sep, value = selector.partition("=")
        if not sep or not LABEL_KEY.match(key):
            raise InvalidInput({"label": f"{selector!r} is not key=value"})
        labels[key] = value
    return node_service.label_clauses(labels)


@bp.get("/nodes")
@require_login
def list_nodes():
    args = LIST_NODES.parse()
    query = in_environments(sa.select(VectorNode).options(*NODE_LOAD), VectorNode.environment_id,
                            args.get("environmentId"))
    cutoff = unreachable_cutoff()
    if args.get("status"):
        query = query.where(effective_status_clause(NodeStatus(args["status"]), cutoff))
    if "maintenance" in args:
        query = query.where(VectorNode.maintenance_mode.is_(args["maintenance"]))
    query = query.where(*label_filters(args.get("label") or []))
    rows, cursor = paginate(query, [VectorNode.id], args)
    return page_response(rows, cursor, lambda node: node_json(node, cutoff))


@bp.get("/nodes/<node_id>")
@require_login
def show_node(node_id):
    return jsonify(node_json(get_node_or_404(node_id)))


UPDATE_NODE = Body(name=Field("string", required=True, max_length=node_service.MAX_NAME))
AGENT_UPDATE = Body(
    targetVersion=Field("string", required=True, max_length=node_service.MAX_VERSION),
    downloadUrl=Field("string", required=True, max_length=node_service.MAX_URL,
                      description="https:// URL of the new agent binary."),
    checksum=Field("string", required=True, max_length=71, description="sha256:<64 hex>"),
)


@bp.patch("/nodes/<node_id>")
@require_login
def update_node(node_id):
    node = get_node_or_404(node_id, Role.ADMIN)
    data = UPDATE_NODE.parse()
    node_service.rename_node(node, data["name"])
    return jsonify(node_json(node))


@bp.delete("/nodes/<node_id>")
@require_login
def delete_node(node_id):
    node_service.delete_node(get_node_or_404(node_id, Role.ADMIN))
    return no_content()


@bp.post("/nodes/<node_id>/agent-update")
@require_login
def agent_update(node_id):
    node = get_node_or_404(node_id, Role.ADMIN)
    data = AGENT_UPDATE.parse()
    node_service.trigger_agent_update(node, data["targetVersion"], data["downloadUrl"],
                                      data["checksum"])
    return jsonify(node_json(node))
