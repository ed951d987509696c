"""Queue events into the outbox; they are published to live streams after commit.

The ``events`` table is the outbox: an event is written in the same transaction as the
change it describes, so it exists exactly when the change does. Ids are monotonic and,
on PostgreSQL, become visible in id order: event-writing transactions are serialised
with a transaction-level advisory lock, so a stream that has seen id N can never later
find an id below N appear.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from ..extensions import db
from ..models import Event, utcnow

_PENDING = "vectorflow.pending_events"
_LOCKED = "vectorflow.events_locked"
# pg_advisory_xact_lock key that serialises event inserts ("VFEV").
ADVISORY_LOCK_KEY = 0x56464556
NOTIFY_CHANNEL = "vectorflow_events"


def emit(
    type: str,
    *,
    team_id: str | None,
    environment_id: str | None = None,
    node_id: str | None = None,
    payload: dict | None = None,
) -> Event:
    """Write an event in the current transaction; it is published once that commits."""
    session = db.session
    if not session.info.get(_LOCKED) and session.get_bind().dialect.name == "postgresql":
        # Held until commit: the next event transaction gets its ids only after ours are visible.
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
        broker = current_app.extensions.get("vectorflow.broker")
        if broker is None or broker.uses_pg_notify:
            # Delivered at commit, dropped on rollback: the wake-up for every process's feed.
            session.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
        session.info[_LOCKED] = True
    ev = Event(
        type=type,
        team_id=team_id,
        environment_id=environment_id,
        node_id=node_id,
        payload=payload or {},
    )
    session.add(ev)
    session.info.setdefault(_PENDING, []).append(ev)
    return ev


def prune_events(now: datetime | None = None, older_than: timedelta | None = None) -> int:
    """Delete events older than the retention period (default 24 h); return how many.

    A registered sweep. The newest event is always kept, so ids keep growing (SQLite would
    otherwise reuse them) and a stream can tell a resumable id from one that was pruned.
    Nothing is written when nothing is old enough.
    """
    if older_than is None:
        older_than = timedelta(hours=current_app.config["VECTORFLOW_EVENTS_RETENTION_HOURS"])
    cutoff = (now or utcnow()) - older_than
    newest = sa.select(sa.func.max(Event.id)).scalar_subquery()
    old = sa.and_(Event.created_at < cutoff, Event.id < newest)
    if db.session.scalar(sa.select(Event.id).where(old).limit(1)) is None:
        return 0
    return db.session.execute(sa.delete(Event).where(old)).rowcount or 0


def _after_commit(session: Session) -> None:
    session.info.pop(_LOCKED, None)
    if not session.info.pop(_PENDING, None) or not has_app_context():
        return
    broker = current_app.extensions.get("vectorflow.broker")
    if broker is not None:
        broker.notify_committed()


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    # A rolled-back savepoint drops its lock and NOTIFY, so the next emit takes them again;
    # a full rollback drops the events too.
    session.info.pop(_LOCKED, None)
    if not previous.nested:
        session.info.pop(_PENDING, None)


def init_app(app) -> None:
    """Hook publication to the session's commit and rollback; prune in the sweeps."""
    from ..sweeper import register_sweep

    register_sweep(prune_events)
    if not sa_event.contains(Session, "after_commit", _after_commit):
        sa_event.listen(Session, "after_commit", _after_commit)
        sa_event.listen(Session, "after_soft_rollback", _after_soft_rollback)
