"""What the config poll reads of a node, kept per process and dropped by committed changes.

A steady poll asks the database nothing: the node, its environment's config inputs and the
poll interval come from this cache, by token digest. Every committed change to one of those
inputs drops the entries it concerns, in every process:

- A flush that changes a poll input (a node's token, maintenance flag, pending action or
  environment; an environment's secret backend or ``config_revision``, which every pipeline,
  version and secret write raises; a sample request; the system settings; a deleted node,
  environment or team) adds what it touched to one ``agent.config_changed`` event of its
  transaction (``nodeIds``, ``environmentIds`` or ``all``). The event is internal: dashboards
  and agents never receive it.
- The committing process drops the entries at its commit; every other process when its live
  feed (``vectorflow.live``: PostgreSQL NOTIFY, Redis, or the events table polled every
  ``VECTORFLOW_EVENTS_POLL`` seconds on SQLite) brings the event, within that interval.
- While a process's feed is not running or has failed, nothing is served from the cache or
  put in it; an entry older than ``VECTORFLOW_POLL_CACHE_SECONDS`` is read again anyway.

Invalidation is by marks, not by deletion alone: an entry remembers the process's change
counter from before its database read, and is good only while no change to its node, its
environment or everything came after that. A poll that read the old row while a change
committed therefore never stores it as current.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from ..models import Environment, SampleRequest, SystemSettings, Team, VectorNode
from .events import _QUEUED, emit

_EXTENSION = "vectorflow.poll_cache"
EVENT = "agent.config_changed"  # internal: never rendered to a dashboard or agent stream
_CHANGED = "vectorflow.poll_inputs_changed"  # this transaction's event, while it is open
_NODE_INPUTS = ("node_token_digest", "maintenance_mode", "pending_action", "environment_id")
MAX_ENTRIES = 200_000  # far above any fleet one process serves; cleared whole beyond it


@dataclass
class _Entry:
    value: object
    node_id: str
    environment_id: str
    mark: int         # the change counter before the database read
    stored_at: float  # time.monotonic()


@dataclass
class _Changes:
    node_ids: set[str] = field(default_factory=set)
    environment_ids: set[str] = field(default_factory=set)
    everything: bool = False

    @classmethod
    def of_payload(cls, payload: dict) -> _Changes:
        return cls(set(payload.get("nodeIds") or ()), set(payload.get("environmentIds") or ()),
                   bool(payload.get("all")))

    def payload(self) -> dict:
        return {"nodeIds": sorted(self.node_ids), "environmentIds": sorted(self.environment_ids),
                "all": self.everything}


class PollCache:
    """Per process: token digest -> what the poll needs of the node holding it."""

    def __init__(self, max_age: float, is_live: Callable[[], bool]):
        self.max_age = max_age
        self._is_live = is_live  # the process's live feed runs and brings every change
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._counter = 0
        self._node_marks: dict[str, int] = {}
        self._environment_marks: dict[str, int] = {}
        self._everything_mark = 0
        self._applied: set[int] = set()  # ids of this process's own events, applied at commit

    @property
    def enabled(self) -> bool:
        return self.max_age > 0

    def mark(self) -> int:
        """Return the change counter: take it before reading what ``put`` will store."""
        return self._counter

    def get(self, digest: str):
        """Return the cached value for ``digest``, or None when it must be read."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if not self._is_live() or not self._current(entry):
            self._entries.pop(digest, None)
            return None
        return entry.value

    def put(self, digest: str, value, node_id: str, environment_id: str, mark: int) -> None:
        """Keep ``value``, read from the database after ``mark()`` returned ``mark``."""
        if not self._is_live():
            return
        entry = _Entry(value, node_id, environment_id, mark, time.monotonic())
        with self._lock:
            if not self._current(entry):
                return  # a change came in while it was being read
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = entry

    def _current(self, entry: _Entry) -> bool:
        return (time.monotonic() - entry.stored_at < self.max_age
                and entry.mark >= self._everything_mark
                and entry.mark >= self._node_marks.get(entry.node_id, 0)
                and entry.mark >= self._environment_marks.get(entry.environment_id, 0))

    def changed(self, changes: _Changes) -> None:
        """Drop what ``changes`` concern (a committed ``agent.config_changed``)."""
        with self._lock:
            self._counter += 1
            if changes.everything:
                self._everything_mark = self._counter
                self._entries.clear()
                self._node_marks.clear()
                self._environment_marks.clear()
                return
            for node_id in changes.node_ids:
                self._node_marks[node_id] = self._counter
            for environment_id in changes.environment_ids:
                self._environment_marks[environment_id] = self._counter

    def committed(self, event_id: int, changes: _Changes) -> None:
        """Apply a change this process committed (at once: its own next poll sees it)."""
        with self._lock:
            if len(self._applied) > 10_000:
                self._applied.clear()  # a feed that stopped delivering; harmless to forget
            self._applied.add(event_id)
        self.changed(changes)

    def on_events(self, events) -> None:
        """The live feed's listener: apply every ``agent.config_changed`` it brings, but for
        this process's own (applied at their commit: again would drop entries read since)."""
        for ev in events:
            if ev.type == EVENT:
                with self._lock:
                    own = ev.id in self._applied
                    self._applied.discard(ev.id)
                if not own:
                    self.changed(_Changes.of_payload(ev.payload or {}))

    def clear(self) -> None:
        """Forget everything (the feed failed: changes may have been missed)."""
        self.changed(_Changes(everything=True))

    def reset_for_tests(self) -> None:
        self.clear()


def get_poll_cache() -> PollCache:
    return current_app.extensions[_EXTENSION]


# --- what a flush changed ------------------------------------------------------------------


def _changed(obj, names) -> bool:
    attrs = sa.inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _poll_inputs(session: Session) -> _Changes:
    changes = _Changes()
    for obj in session.dirty:
        if isinstance(obj, VectorNode) and _changed(obj, _NODE_INPUTS):
            changes.node_ids.add(obj.id)
        elif isinstance(obj, Environment) and _changed(obj, ("config_revision",)):
            # Raised by config_render's before_flush hook, which runs before this one, for
            # every write to a pipeline, version, secret or the secret backend.
            changes.environment_ids.add(obj.id)
        elif isinstance(obj, SampleRequest):
            changes.environment_ids.add(obj.environment_id)
        elif isinstance(obj, SystemSettings):
            changes.everything = True
    for obj in session.new:
        if isinstance(obj, SampleRequest):
            changes.environment_ids.add(obj.environment_id)
        elif isinstance(obj, SystemSettings):
            changes.everything = True
    for obj in session.deleted:
        if isinstance(obj, VectorNode):
            changes.node_ids.add(obj.id)
        elif isinstance(obj, SampleRequest):
            changes.environment_ids.add(obj.environment_id)
        elif isinstance(obj, (Environment, Team, SystemSettings)):
            changes.everything = True  # their nodes go with them (ON DELETE CASCADE)
    changes.node_ids.discard(None)
    changes.environment_ids.discard(None)
    return changes


def _before_flush(session: Session, flush_context, instances) -> None:
    """Add what this flush changes of the poll's inputs to the transaction's event."""
    changes = _poll_inputs(session)
    if not (changes.node_ids or changes.environment_ids or changes.everything):
        return
    ev = session.info.get(_CHANGED)
    if ev is None or ev not in session.info.get(_QUEUED, ()):
        # The first of this transaction (or the previous one went with a rolled-back savepoint).
        ev = session.info[_CHANGED] = emit(EVENT, team_id=None, payload={})
    merged = _Changes.of_payload(ev.payload)
    merged.node_ids |= changes.node_ids
    merged.environment_ids |= changes.environment_ids
    merged.everything |= changes.everything
    ev.payload = merged.payload()


def _after_commit(session: Session) -> None:
    """The committing process drops what its commit changed at once."""
    ev = session.info.pop(_CHANGED, None)
    if ev is None or ev.id is None or session.in_nested_transaction():
        return
    cache = current_app.extensions.get(_EXTENSION) if has_app_context() else None
    if cache is not None:
        cache.committed(ev.id, _Changes.of_payload(ev.payload))


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CHANGED, None)


_HOOKS = {"before_flush": _before_flush, "after_commit": _after_commit,
          "after_transaction_end": _after_transaction_end}


def init_app(app: Flask) -> None:
    """Give the app its poll cache, fed by the live feed's events (see the module).

    Called after ``config_render.init_app``: its before_flush hook raises the revisions this
    module's hook reads, and SQLAlchemy runs hooks in the order they were added."""
    broker = app.extensions["vectorflow.broker"]  # live.init_app runs first
    cache = PollCache(float(app.config["VECTORFLOW_POLL_CACHE_SECONDS"]), broker.feed_is_live)
    broker.add_listener(cache.on_events, on_failure=cache.clear)
    app.extensions[_EXTENSION] = cache
    for name, hook in _HOOKS.items():
        if not sa_event.contains(Session, name, hook):
            sa_event.listen(Session, name, hook)
