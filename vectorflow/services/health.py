"""Node health: a live node whose last heartbeat is older than threshold x poll interval is
UNREACHABLE.

The rule (services.nodes: ``unreachable_cutoff``, ``effective_status`` for pages,
``effective_status_clause`` for queries) is applied twice: by pages when they read a node,
so a page never shows a stale HEALTHY, and by the periodic ``sweep_unreachable`` in the
server, so the stored status, its history and its events follow even when no agent talks
to the server. A heartbeat makes the node HEALTHY again (services.agent.record_heartbeat).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..extensions import db
from ..models import Environment, NodeStatus, NodeStatusEvent, VectorNode, utcnow
from .events import emit
from .nodes import LIVE, effective_status, effective_status_clause, unreachable_cutoff

# Nodes marked per status and sweep; more wait for the next sweep (seconds later).
SWEEP_BATCH = 2000

__all__ = ["effective_status", "effective_status_clause", "set_node_status", "sweep_unreachable",
           "unreachable_cutoff"]


def set_node_status(node: VectorNode, status: NodeStatus, reason: str) -> bool:
    """Move a node to ``status``, recording the transition and its event; False if unchanged."""
    previous = node.status
    if previous == status:
        return False
    node.status = status
    db.session.add(NodeStatusEvent(node_id=node.id, from_status=previous, to_status=status,
                                   reason=reason[:200]))
    emit("node.status_changed", team_id=node.environment.team_id,
         environment_id=node.environment_id, node_id=node.id,
         payload={"from": previous.value, "to": status.value, "reason": reason})
    return True


def sweep_unreachable(now: datetime | None = None) -> list[str]:
    """Mark live nodes without a recent heartbeat UNREACHABLE, recording each transition.

    Per live status (so each transition knows where it came from): lock the overdue nodes in
    id order, skipping any a heartbeat or an admin holds (services.locks; the next sweep gets
    them if they are still overdue), then one UPDATE. Each is a range on the indexed
    ``last_heartbeat``: the cost follows the number of overdue nodes, not the size of the
    fleet. Returns the ids of the nodes that changed.
    """
    now = now or utcnow()
    cutoff = unreachable_cutoff(now)
    moved: list[tuple[str, str, NodeStatus]] = []
    for previous in LIVE:
        overdue = sa.and_(VectorNode.status == previous, sa.or_(
            VectorNode.last_heartbeat < cutoff, VectorNode.last_heartbeat.is_(None)))
        ids = list(db.session.scalars(
            sa.select(VectorNode.id).where(overdue).order_by(VectorNode.id).limit(SWEEP_BATCH)
            .with_for_update(skip_locked=True, key_share=True)))
        if not ids:
            continue
        rows = db.session.execute(
            sa.update(VectorNode)
            .where(VectorNode.id.in_(ids), overdue)
            .values(status=NodeStatus.UNREACHABLE)
            .returning(VectorNode.id, VectorNode.environment_id),
            execution_options={"synchronize_session": "fetch"},
        ).all()
        moved += [(node_id, env_id, previous) for node_id, env_id in rows]
    if not moved:
        return []

    teams = dict(db.session.execute(
        sa.select(Environment.id, Environment.team_id)
        .where(Environment.id.in_({env_id for _, env_id, _ in moved}))
    ).all())
    seconds = int((now - cutoff).total_seconds())
    reason = f"no heartbeat for {seconds}s"
    for node_id, env_id, previous in moved:
        db.session.add(NodeStatusEvent(node_id=node_id, from_status=previous,
                                       to_status=NodeStatus.UNREACHABLE, reason=reason,
                                       created_at=now))
        emit("node.status_changed", team_id=teams.get(env_id), environment_id=env_id,
             node_id=node_id, payload={"from": previous.value, "to": NodeStatus.UNREACHABLE.value,
                                       "reason": reason})
    db.session.flush()
    return [node_id for node_id, _, _ in moved]
