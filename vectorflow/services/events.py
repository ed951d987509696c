"""Queue events into the outbox; they are published to live streams after commit."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Event

_PENDING = "vectorflow.pending_events"


def emit(
    type: str,
    *,
    team_id: str | None,
    environment_id: str | None = None,
    node_id: str | None = None,
    payload: dict | None = None,
) -> Event:
    """Write an event in the current transaction; it is published once that commits."""
    ev = Event(
        type=type,
        team_id=team_id,
        environment_id=environment_id,
        node_id=node_id,
        payload=payload or {},
    )
    db.session.add(ev)
    db.session.info.setdefault(_PENDING, []).append(ev)
    return ev


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    broker = current_app.extensions.get("vectorflow.broker")
    if broker is not None:
        broker.notify_committed()


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def init_app(app) -> None:
    """Hook publication to the session's commit and rollback."""
    if not sa_event.contains(Session, "after_commit", _after_commit):
        sa_event.listen(Session, "after_commit", _after_commit)
        sa_event.listen(Session, "after_soft_rollback", lambda s, prev: _after_rollback(s))
