"""Audit log views."""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from flask_login import current_user
from pydantic import ConfigDict

from ..api.pagination import paginate
from ..extensions import db
from ..guards import require_role
from ..models import AuditLog, Environment, Role, VectorNode
from ..schemas.api import PageQuery
from ..schemas.base import RequestModel, absent, parse_query
from ..schemas.fields import ACTION_MAX, ID_MAX, Cursor, text
from ..services.audit import audit_query
from ..services.tokens import admin_team_ids
from . import bp

PER_PAGE = 50
NODE_CHOICES = 500


class AuditFilters(RequestModel):
    """The audit page's query string (other parameters are ignored)."""

    model_config = ConfigDict(extra="ignore")
    action: text(ACTION_MAX, strip=True) = absent()
    node: text(ID_MAX, strip=True) = absent()
    cursor: Cursor = absent()


def changes(before: dict | None, after: dict | None) -> list[tuple[str, object, object]]:
    """Return (key, before, after) for every key whose value differs."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


@bp.get("/")
@require_role(Role.ADMIN)
def index():
    team_ids = admin_team_ids(current_user)
    filters = parse_query(AuditFilters)
    action, node_id = filters.action or None, filters.node or None
    rows, next_cursor = paginate(
        audit_query(team_ids, action=action, node_id=node_id), [AuditLog.id],
        PageQuery.model_construct(cursor=filters.cursor, limit=PER_PAGE), descending=True,
    )

    scope = (lambda q, col: q if team_ids is None else q.where(col.in_(team_ids)))
    actions = db.session.scalars(
        scope(sa.select(AuditLog.action).distinct(), AuditLog.team_id).order_by(AuditLog.action)
    ).all()
    nodes = db.session.execute(
        scope(sa.select(VectorNode.id, VectorNode.name, Environment.name)
              .join(Environment, Environment.id == VectorNode.environment_id), Environment.team_id)
        .order_by(Environment.name, VectorNode.name).limit(NODE_CHOICES)
    ).all()
    node_ids = {r.entity_id for r in rows if r.entity_type == "node" and r.entity_id}
    names = dict(db.session.execute(
        sa.select(VectorNode.id, VectorNode.name).where(VectorNode.id.in_(node_ids))
    ).all()) if node_ids else {}
    return render_template(
        "audit/index.html", rows=rows, next_cursor=next_cursor, actions=actions, nodes=nodes,
        node_names=names, filters={"action": action or "", "node": node_id or ""},
        changes=changes,
    )
