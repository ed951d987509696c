"""Write audit rows. Never pass tokens, digests or secret values in here."""
from __future__ import annotations

from flask import has_request_context, request

from ..extensions import db
from ..models import AuditLog
from .actors import Actor, current_actor


def record(
    action: str,
    *,
    entity_type: str,
    entity_id: str | None,
    team_id: str | None,
    environment_id: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    details: dict | None = None,
    actor: Actor | None = None,
) -> AuditLog:
    """Add an audit row for a change in the current transaction."""
    actor = actor or current_actor()
    row = AuditLog(
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        team_id=team_id,
        environment_id=environment_id,
        before=before,
        after=after,
        details=details,
        client_ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(row)
    return row


def admin_team_ids(principal) -> list[str] | None:
    """Return the teams whose audit rows ``principal`` may read (ADMIN there); None means all."""
    if principal.is_superadmin:
        return None
    from ..models import Role

    return [t for t in (principal.team_ids() or []) if (principal.role_in(t) or 0) >= Role.ADMIN]


def audit_rows(
    team_ids: list[str] | None,
    *,
    action: str | None = None,
    node_id: str | None = None,
    since=None,
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[AuditLog], int | None]:
    """Return one page of audit rows, newest first, and the cursor of the next (older) page.

    Keyset pagination on the id (``before_id``), so a deep page costs what the first does.
    """
    import sqlalchemy as sa

    query = sa.select(AuditLog).order_by(AuditLog.id.desc())
    if team_ids is not None:
        query = query.where(AuditLog.team_id.in_(team_ids))
    if action:
        query = query.where(AuditLog.action == action)
    if node_id:
        query = query.where(AuditLog.entity_type == "node", AuditLog.entity_id == node_id)
    if since is not None:
        query = query.where(AuditLog.created_at >= since)
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    rows = list(db.session.scalars(query.limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor
