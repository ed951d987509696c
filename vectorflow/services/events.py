"""Queue events into the outbox; they are written at commit and published after it.

The ``events`` table is the outbox: an event is written in the same transaction as the
change it describes, so it exists exactly when the change does. ``emit`` only queues the
event on the session; the transaction's commit inserts the queued events as its last write.
A rolled-back savepoint drops the events queued inside it, a rollback drops them all.

Ids are monotonic and, on PostgreSQL, become visible in id order: the commit takes a
transaction-level advisory lock just before it inserts its events and holds it to the end
of the commit, so event-writing transactions get their ids one after the other, and a
stream that has seen id N can never later find an id below N appear. The lock covers only
that final insert: a transaction that emitted early does not hold up others while it does
the rest of its work.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from ..extensions import db
from ..models import Event, utcnow

log = logging.getLogger(__name__)

_QUEUED = "vectorflow.queued_events"        # events emitted in this transaction, in order
_SAVEPOINTS = "vectorflow.event_savepoints"  # open savepoint -> len(queue) when it began
_WRITTEN = "vectorflow.events_written"      # this commit inserted events: publish after it
# pg_advisory_xact_lock key that serialises event inserts ("VFEV").
ADVISORY_LOCK_KEY = 0x56464556
NOTIFY_CHANNEL = "vectorflow_events"
# Held until the commit ends: the next event transaction takes its ids only after ours are
# visible.
_LOCK = sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY))
# NOTIFY is delivered at commit and dropped on rollback: the wake-up for every process's feed
# (unless Redis is the wake-up).
_LOCK_AND_NOTIFY = _LOCK.add_columns(sa.func.pg_notify(NOTIFY_CHANNEL, ""))


def emit(
    type: str,
    *,
    team_id: str | None,
    environment_id: str | None = None,
    node_id: str | None = None,
    payload: dict | None = None,
) -> Event:
    """Queue an event in the current transaction: written at its commit, published after.

    The returned Event gets its id at the commit.
    """
    session = db.session()
    if not session.in_transaction():
        session.begin()  # the queue belongs to a transaction: its end clears it
    ev = Event(
        type=type,
        team_id=team_id,
        environment_id=environment_id,
        node_id=node_id,
        payload=payload or {},
    )
    session.info.setdefault(_QUEUED, []).append(ev)
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


def _before_commit(session: Session) -> None:
    """Insert the queued events as the commit's last write (under the lock on PostgreSQL)."""
    if session.in_nested_transaction():
        return  # a savepoint is released: its events wait for the commit
    session.flush()  # the transaction's other changes first, outside the lock (a flush hook
    queued = session.info.get(_QUEUED)  # such as poll_cache's may queue an event)
    if not queued:
        return
    if session.get_bind().dialect.name == "postgresql":
        broker = current_app.extensions.get("vectorflow.broker") if has_app_context() else None
        # One round trip: every one made while holding the lock holds up the other writers.
        notify = broker is None or broker.uses_pg_notify
        session.connection().execute(_LOCK_AND_NOTIFY if notify else _LOCK)
    session.add_all(queued)
    del session.info[_QUEUED]
    session.info[_WRITTEN] = True
    session.flush()


def _after_commit(session: Session) -> None:
    if session.info.get(_QUEUED) and not session.in_nested_transaction():
        # Only when the outer transaction was committed through its SessionTransaction
        # while a savepoint was open (before_commit cannot tell that from a savepoint's
        # release), or emit ran during the commit. Session.commit() never loses them.
        log.error("%d queued events were not written: the transaction committed without "
                  "them", len(session.info[_QUEUED]))
    if not session.info.pop(_WRITTEN, None) or not has_app_context():
        return
    broker = current_app.extensions.get("vectorflow.broker")
    if broker is not None:
        broker.notify_committed()


def _after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        queued = session.info.get(_QUEUED, ())
        session.info.setdefault(_SAVEPOINTS, {})[transaction] = len(queued)


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    # A rolled-back savepoint drops the events queued since it began; a full rollback ends
    # the transaction, which drops them all (_after_transaction_end).
    if previous.nested:
        mark = session.info.get(_SAVEPOINTS, {}).pop(previous, None)
        if mark is not None and _QUEUED in session.info:
            del session.info[_QUEUED][mark:]


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed, rolled back or closed
        for key in (_QUEUED, _SAVEPOINTS, _WRITTEN):
            session.info.pop(key, None)


_HOOKS = {
    "before_commit": _before_commit,
    "after_commit": _after_commit,
    "after_transaction_create": _after_transaction_create,
    "after_soft_rollback": _after_soft_rollback,
    "after_transaction_end": _after_transaction_end,
}


def init_app(app) -> None:
    """Hook the queue to the session's transactions and commits; prune in the sweeps."""
    from ..sweeper import register_sweep

    register_sweep(prune_events)
    for name, hook in _HOOKS.items():
        if not sa_event.contains(Session, name, hook):
            sa_event.listen(Session, name, hook)
