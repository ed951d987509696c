"""CLI: read the audit log."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..extensions import db
from ..models import AuditLog, VectorNode
from .output import echo_json, echo_table, when


@click.command("audit")
@click.option("--node", "node_ref", default=None, help="Rows about this node (id or name).")
@click.option("--action", default=None, help="Only this action, e.g. node.maintenance_entered.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as the REST API does).")
@with_appcontext
def audit_command(node_ref, action, limit, as_json):
    """Show audit rows, newest first."""
    from ..schemas.api import AuditEntry
    from ..services.audit import audit_query

    node_id = node_id_for_audit(node_ref) if node_ref else None
    query = audit_query(None, action=action, node_id=node_id)
    rows = db.session.scalars(query.order_by(AuditLog.id.desc()).limit(limit)).all()
    if as_json:
        echo_json([AuditEntry.of(r).as_json() for r in rows])
        return
    echo_table(["time", "actor", "action", "entity", "change"],
               [[when(r.created_at), f"{r.actor_label} ({r.actor_type})", r.action,
                 f"{r.entity_type} {r.entity_id or ''}".strip(), describe_change(r)] for r in rows],
               empty="no audit rows")


def node_id_for_audit(ref: str) -> str:
    """Return the id of the node with this id or name; an unknown ref is taken as the id of a
    deleted node, whose history stays in the log."""
    from .nodes import find_node

    if db.session.get(VectorNode, ref) is None and db.session.scalar(
        sa.select(VectorNode.id).where(VectorNode.name == ref).limit(1)
    ):
        return find_node(ref).id
    return ref


def describe_change(row: AuditLog) -> str:
    """Summarise before/after as ``key: old -> new`` pairs."""
    before, after = row.before or {}, row.after or {}
    parts = []
    for key in list(dict.fromkeys([*before, *after])):
        old, new = before.get(key), after.get(key)
        if key in before and key in after:
            if old != new:
                parts.append(f"{key}: {old} -> {new}")
        elif key in after:
            parts.append(f"{key}={new}")
        else:
            parts.append(f"{key} was {old}")
    return "; ".join(parts)[:120]
