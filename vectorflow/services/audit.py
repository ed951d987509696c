"""Write audit rows. Never pass tokens, digests or secret values in here."""
from __future__ import annotations

import sqlalchemy as sa
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



def audit_query(
    team_ids: list[str] | None,
    *,
    action: str | None = None,
    node_id: str | None = None,
    since=None,
) -> sa.Select:
    """Return a select of the audit rows of ``team_ids`` (None: every row), filtered."""
    query = sa.select(AuditLog)
    if team_ids is not None:
        query = query.where(AuditLog.team_id.in_(team_ids))
    if action:
        query = query.where(AuditLog.action == action)
    if node_id:
        # By id only (ids are unique across tables): a deleted node keeps its history.
        query = query.where(AuditLog.entity_id == node_id)
    if since is not None:
        query = query.where(AuditLog.created_at >= since)
    return query
