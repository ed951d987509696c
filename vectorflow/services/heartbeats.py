"""Heartbeats by group commit: the heartbeats a process receives at about the same time are
written in one transaction, and each is answered only once that transaction has committed.

The first heartbeat to arrive while no batch is open leads a new one: it waits the
collection window (``VECTORFLOW_HEARTBEAT_WINDOW_MS``, a few milliseconds, during which
other requests join), then for the previous batch of the process to finish writing (more
join meanwhile), closes the batch and writes it: the nodes are looked up and locked in one
statement, ``agent.record_heartbeats_by_token`` applies them set-based, ``transactions.run`` commits
(retrying lost races). The others wait for that commit, so no acknowledged heartbeat is ever
lost: a crash before the commit answers nobody. A batch holds at most
``VECTORFLOW_HEARTBEAT_BATCH`` heartbeats; one that fails as a whole (a bug, the database
refusing it) is written again one heartbeat per transaction, so each request gets its own
answer.

On SQLite a batch first takes ``transactions.sqlite_write_lock``: two processes' batches wait
for each other with a cooperative sleep, not in SQLite's busy handler (which would freeze the
whole gevent worker). When that lock stays taken for 5 s, the batch's requests get 503 with
``Retry-After``.

Works under gevent (gunicorn's worker patches ``threading`` and ``time.sleep``: the locks and
events below are cooperative) and under threads (the development and test servers).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import Flask, current_app

from .. import transactions
from ..extensions import db
from ..schemas.agent import AgentHeartbeat
from .agent import record_heartbeats_by_token

_EXTENSION = "vectorflow.heartbeats"


@dataclass
class _Batch:
    items: list[tuple[str, AgentHeartbeat]] = field(default_factory=list)
    full: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    accepted: set[str] = field(default_factory=set)  # the tokens of nodes that were found
    error: BaseException | None = None
    errors: dict[int, BaseException] = field(default_factory=dict)  # by item index


class Collector:
    """Per process: gathers heartbeats into batches and writes each batch in one commit."""

    def __init__(self, app: Flask, window: float, limit: int):
        self.app, self.window, self.limit = app, window, max(1, limit)
        self._lock = threading.Lock()       # guards ``_open``
        self._writing = threading.Lock()    # one batch of this process writes at a time
        self._open: _Batch | None = None

    def submit(self, token: str, heartbeat: AgentHeartbeat) -> bool:
        """Record the heartbeat of the node holding ``token``; return False when no node
        holds it. Returns (or raises the batch's error) after the batch's transaction ends."""
        with self._lock:
            batch, lead = self._open, False
            if batch is None:
                batch = self._open = _Batch()
                lead = True
            index = len(batch.items)
            batch.items.append((token, heartbeat))
            if len(batch.items) >= self.limit:
                batch.full.set()
                self._open = None  # the next heartbeat starts another batch
        if lead:
            self._lead(batch)
        else:
            batch.done.wait()
        if index in batch.errors:
            raise batch.errors[index]
        if batch.error is not None:
            raise batch.error
        return token in batch.accepted

    def _lead(self, batch: _Batch) -> None:
        try:
            if self.window > 0:
                batch.full.wait(self.window)
            with self._writing:
                with self._lock:
                    if self._open is batch:
                        self._open = None  # closed: later heartbeats lead the next batch
                self._write(batch)
        except BaseException as err:  # noqa: BLE001 - answered to every request of the batch
            batch.error = err
        finally:
            batch.done.set()

    def _write(self, batch: _Batch) -> None:
        if db.session.registry.has():
            # The leader's context already has a session (a test's): write in a context of
            # its own, so the batch commits nothing but itself.
            with self.app.app_context():
                self._write_in_context(batch)
        else:
            # The usual case: the leader's request never opened its session. The batch
            # commits it here; the view's transactions.run then finds nothing to end.
            self._write_in_context(batch)

    def _write_in_context(self, batch: _Batch) -> None:
        # SQLite: the other processes' collectors are waited for here, cooperatively.
        with transactions.sqlite_write_lock():
            self._write_locked(batch)

    def _write_locked(self, batch: _Batch) -> None:
        try:
            batch.accepted = transactions.run(lambda: record_heartbeats_by_token(batch.items))
            return
        except Exception:
            if len(batch.items) == 1:
                raise
        for index, item in enumerate(batch.items):  # one bad apple answers alone
            try:
                batch.accepted |= transactions.run(lambda item=item: record_heartbeats_by_token([item]))
            except Exception as err:  # noqa: BLE001 - answered to its request
                batch.errors[index] = err


def submit(token: str, heartbeat: AgentHeartbeat) -> bool:
    """Record a heartbeat through this process's collector (see the module); False when the
    token is unknown."""
    return current_app.extensions[_EXTENSION].submit(token, heartbeat)


def init_app(app: Flask) -> None:
    """Give the app its heartbeat collector (one per process: gunicorn forks before this)."""
    app.extensions[_EXTENSION] = Collector(
        app, app.config["VECTORFLOW_HEARTBEAT_WINDOW_MS"] / 1000,
        app.config["VECTORFLOW_HEARTBEAT_BATCH"])
