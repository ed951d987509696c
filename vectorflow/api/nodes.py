"""Nodes: list (filtered, paginated), show, rename, delete, trigger an agent update.

Maintenance has its own module (api/maintenance.py).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..guards import get_node_or_404, require_login
from ..models import NodePipelineStatus, Role, VectorNode
from ..schemas import api as models
from ..schemas.base import InvalidInput, page_response, parse_body, parse_query, respond
from ..services import nodes as node_service
from ..services.nodes import effective_status_clause, unreachable_cutoff
from . import bp
from .common import in_environments, no_content
from .pagination import paginate

# Everything models.Node reads, loaded per page in a fixed number of queries.
NODE_LOAD = (
    selectinload(VectorNode.environment),
    selectinload(VectorNode.pipeline_statuses).selectinload(NodePipelineStatus.pipeline),
)
LABEL_KEY = node_service.LABEL_KEY


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
    args = parse_query(models.ListNodes)
    query = in_environments(sa.select(VectorNode).options(*NODE_LOAD), VectorNode.environment_id,
                            args.environment_id)
    cutoff = unreachable_cutoff()
    if args.status:
        query = query.where(effective_status_clause(args.status, cutoff))
    if args.maintenance is not None:
        query = query.where(VectorNode.maintenance_mode.is_(args.maintenance))
    query = query.where(*label_filters(args.label or []))
    rows, cursor = paginate(query, [VectorNode.id], args)
    return page_response(rows, cursor, models.Node, cutoff=cutoff)


@bp.get("/nodes/<id:node_id>")
@require_login
def show_node(node_id):
    return respond(models.Node.of(get_node_or_404(node_id)))


@bp.patch("/nodes/<id:node_id>")
@require_login
def update_node(node_id):
    node = get_node_or_404(node_id, Role.ADMIN)
    body = parse_body(models.RenameNode)
    node_service.rename_node(node, body.name)
    return respond(models.Node.of(node))


@bp.delete("/nodes/<id:node_id>")
@require_login
def delete_node(node_id):
    node_service.delete_node(get_node_or_404(node_id, Role.ADMIN))
    return no_content()


@bp.post("/nodes/<id:node_id>/agent-update")
@require_login
def agent_update(node_id):
    node = get_node_or_404(node_id, Role.ADMIN)
    body = parse_body(models.AgentUpdate)
    node_service.trigger_agent_update(node, body.target_version, body.download_url,
                                      body.checksum)
    return respond(models.Node.of(node))
