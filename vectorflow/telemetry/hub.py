"""Live tails: one reader per process hands new log lines and tap batches to open streams.

A browser tail is a ``Tail``: a bounded buffer the hub's reader thread fills and the
stream's generator drains. The reader never waits on a browser: when a tail's buffer is
full, lines are counted as dropped and the stream says so (backpressure that slows
neither the agents, whose posts only write rows, nor other viewers).

The reader wakes when a post commits in this process and polls every
``VECTORFLOW_TAIL_POLL`` seconds for posts served by other processes; it reads only the
rows of nodes, pipelines and taps someone is watching (indexed by id), so its cost follows
the open tails, not the fleet. Rows may commit out of id order (concurrent posts): the
reader re-reads the last ``GRACE`` seconds and skips ids it has already handed out.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from ..extensions import db
from ..models import LogLine, Tap, TapEvent, TapStatus

log = logging.getLogger(__name__)

GRACE = timedelta(seconds=5)
FETCH_MAX = 5000
DEFAULTS = {
    "VECTORFLOW_TAIL_POLL": 0.5,       # seconds between reads for other processes' posts
    "VECTORFLOW_TAIL_BUFFER": 2000,    # lines a slow browser may lag behind before drops
}


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def line_json(row, names: dict[str, str] | None = None) -> str:
    """Render one log line (a row of log_lines) as the JSON a tail sends."""
    return json.dumps({"id": row.id, "nodeId": row.node_id, "pipelineId": row.pipeline_id,
                       "time": _iso(row.logged_at), "level": row.level,
                       "message": row.message}, separators=(",", ":"))


class Tail:
    """One open stream's filter and its bounded buffer of rendered items."""

    def __init__(self, *, node_id: str | None = None, pipeline_id: str | None = None,
                 tap_id: str | None = None, levels: list[str] | None = None,
                 q: str | None = None, after: int = 0, capacity: int = 2000):
        self.node_id, self.pipeline_id, self.tap_id = node_id, pipeline_id, tap_id
        self.levels = set(levels) if levels else None
        self.q = q.lower() if q else None
        self.after = after  # rows at or below this id were sent from the database
        self.capacity = capacity
        self._items: deque[tuple[int, str]] = deque()
        self.dropped = 0
        self._cond = threading.Condition()
        self.closed = False
        self.ending = False  # the last item is buffered: end once it is sent

    def wants(self, row) -> bool:
        """Return whether a log line belongs in this tail."""
        if row.id <= self.after:
            return False
        if self.node_id is not None and row.node_id != self.node_id:
            return False
        if self.pipeline_id is not None and row.pipeline_id != self.pipeline_id:
            return False
        if self.levels is not None and row.level not in self.levels:
            return False
        return self.q is None or self.q in row.message.lower()

    def offer(self, item_id: int, data: str) -> None:
        """Buffer one item, or count it dropped when the buffer is full (never blocks)."""
        with self._cond:
            if len(self._items) >= self.capacity:
                self.dropped += 1
            else:
                self._items.append((item_id, data))
            self._cond.notify()

    def take(self, timeout: float) -> tuple[list[tuple[int, str]], int]:
        """Wait up to ``timeout`` for items; return them and how many were dropped since."""
        with self._cond:
            if not self._items and not self.dropped and not self.closed:
                self._cond.wait(timeout)
            items, dropped = list(self._items), self.dropped
            self._items.clear()
            self.dropped = 0
            return items, dropped

    def end_with(self, data: str) -> None:
        """Buffer a last item (even when full) and end the stream after it."""
        with self._cond:
            if not self.ending:
                self._items.append((-1, data))
                self.ending = True
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify()


class TailHub:
    """Per-process reader of new log lines and tap batches for the open tails."""

    def __init__(self, app: Flask):
        self.app = app
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._tails: set[Tail] = set()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._engine = None
        self._floors = {"log": 0, "tap": 0}
        self._seen: dict[str, set[int]] = {"log": set(), "tap": set()}
        self.rounds = 0  # reads done (the benchmark reports them)

    @property
    def poll(self) -> float:
        return float(self.app.config.get("VECTORFLOW_TAIL_POLL", DEFAULTS["VECTORFLOW_TAIL_POLL"]))

    @property
    def capacity(self) -> int:
        return int(self.app.config.get("VECTORFLOW_TAIL_BUFFER",
                                       DEFAULTS["VECTORFLOW_TAIL_BUFFER"]))

    def open(self, tail: Tail) -> Tail:
        """Start handing ``tail`` the rows above its ``after``: call it after reading the
        stream's backlog from the database up to ``after`` (in an app context)."""
        with self._lock:
            if self._thread is None:
                self._engine = db.engine
                self._stopped.clear()
                self._thread = threading.Thread(target=self._run, name="vectorflow-tails",
                                                daemon=True)
                self._thread.start()
            if not self._tails:  # nothing was read while no one watched: start at the head
                self._floors = {
                    "log": db.session.scalar(sa.select(sa.func.max(LogLine.id))) or 0,
                    "tap": db.session.scalar(sa.select(sa.func.max(TapEvent.id))) or 0}
                kind = "tap" if tail.tap_id else "log"
                self._floors[kind] = min(self._floors[kind], tail.after)
                self._seen = {"log": set(), "tap": set()}
            self._tails.add(tail)
        self.wake()
        return tail

    def close(self, tail: Tail) -> None:
        """Stop feeding ``tail``."""
        tail.close()
        with self._lock:
            self._tails.discard(tail)

    def wake(self) -> None:
        """Read now (a post committed in this process)."""
        self._wake.set()

    @property
    def open_tails(self) -> int:
        return len(self._tails)

    def shutdown(self) -> None:
        """Stop the reader and end every tail."""
        self._stopped.set()
        self._wake.set()
        with self._lock:
            tails, self._tails = list(self._tails), set()
            self._thread = None
            self._seen = {"log": set(), "tap": set()}
        for tail in tails:
            tail.close()

    def reset_for_tests(self) -> None:
        self.shutdown()

    # -- the reader -------------------------------------------------------------------------

    def _run(self) -> None:
        stopped = self._stopped
        while not stopped.is_set():
            try:
                self.read_once()
            except Exception:  # the reader must survive a database restart
                log.exception("live tail reader failed; retrying")
                stopped.wait(1.0)
            self._wake.wait(self.poll if self._tails else 30.0)
            self._wake.clear()

    def read_once(self) -> None:
        """Hand every open tail its new rows (one query per kind of tail open)."""
        with self._lock:
            tails = list(self._tails)
        if not tails:
            return
        self.rounds += 1
        log_tails = [t for t in tails if t.tap_id is None]
        tap_tails = [t for t in tails if t.tap_id is not None]
        with self._engine.connect() as conn:
            if log_tails:
                self._read_lines(conn, log_tails)
            if tap_tails:
                self._read_taps(conn, tap_tails)

    def _fresh(self, kind: str, rows, now: datetime) -> list:
        """Return the rows not handed out yet; move the floor past old enough rows."""
        seen, floor = self._seen[kind], self._floors[kind]
        fresh = [row for row in rows if row.id not in seen]
        cutoff = now - GRACE
        for row in rows:
            received = row.received_at if row.received_at.tzinfo else row.received_at.replace(
                tzinfo=UTC)
            if received >= cutoff:
                break
            floor = row.id
        seen.update(row.id for row in fresh)
        self._seen[kind] = {i for i in seen if i > floor}
        self._floors[kind] = max(self._floors[kind], floor)
        return fresh

    def _read_lines(self, conn, tails: list[Tail]) -> None:
        table = LogLine.__table__
        nodes = sorted({t.node_id for t in tails if t.node_id})
        pipelines = sorted({t.pipeline_id for t in tails if t.pipeline_id and not t.node_id})
        scope = []
        if nodes:
            scope.append(table.c.node_id.in_(nodes))
        if pipelines:
            scope.append(table.c.pipeline_id.in_(pipelines))
        rows = conn.execute(sa.select(table).where(table.c.id > self._floors["log"],
                                                   sa.or_(*scope))
                            .order_by(table.c.id).limit(FETCH_MAX)).all()
        now = datetime.now(UTC)
        for row in self._fresh("log", rows, now):
            data = None
            for tail in tails:
                if tail.wants(row):
                    data = data or line_json(row)  # rendered once for every tail
                    tail.offer(row.id, data)

    def _read_taps(self, conn, tails: list[Tail]) -> None:
        table = TapEvent.__table__
        rows = conn.execute(sa.select(table).where(
            table.c.id > self._floors["tap"],
            table.c.tap_id.in_(sorted({t.tap_id for t in tails})))
            .order_by(table.c.id).limit(FETCH_MAX)).all()
        for row in self._fresh("tap", rows, datetime.now(UTC)):
            data = None
            for tail in tails:
                if tail.tap_id == row.tap_id and row.id > tail.after:
                    data = data or json.dumps(row.events, separators=(",", ":"))
                    tail.offer(row.id, data)
        taps = Tap.__table__
        for tap in conn.execute(sa.select(taps.c.id, taps.c.stop_reason).where(
                taps.c.id.in_(sorted({t.tap_id for t in tails})),
                taps.c.status == TapStatus.STOPPED.name)):
            for tail in tails:
                if tail.tap_id == tap.id:
                    tail.end_with(json.dumps({"reason": tap.stop_reason}))


def get_hub() -> TailHub:
    """Return the current app's tail hub."""
    return current_app.extensions["vectorflow.tails"]


def wake_tails() -> None:
    """Tell this process's reader that rows were committed."""
    hub = current_app.extensions.get("vectorflow.tails")
    if hub is not None:
        hub.wake()


def init_app(app: Flask) -> TailHub:
    """Install the hub; its reader starts with the first tail."""
    for key, default in DEFAULTS.items():
        app.config.setdefault(key, default)
    hub = TailHub(app)
    app.extensions["vectorflow.tails"] = hub
    return hub


KEEPALIVE = b": keep-alive\n\n"


def tail_stream(hub: TailHub, tail: Tail, first: bytes, *, render: Callable[[list], bytes],
                keepalive: float, max_age: float, last: bytes = b"",
                on_close: Callable[[], None] | None = None):
    """Yield ``first``, then the tail's items as ``render`` writes them, a ``dropped`` event
    when the browser fell behind, and keep-alives; ``last`` when ``max_age`` is reached.
    Runs ``on_close`` when the stream ends (the browser left included)."""
    try:
        yield first
        deadline = time.monotonic() + max_age
        while not tail.closed:
            wait = min(keepalive, deadline - time.monotonic())
            if wait <= 0:
                if last:
                    yield last
                return
            items, dropped = tail.take(wait)
            out = b""
            if dropped:
                out += (f"event: dropped\ndata: {json.dumps({'count': dropped})}\n\n").encode()
            if items:
                out += render(items)
            yield out or KEEPALIVE
            if any(item_id < 0 for item_id, _ in items):  # the tail's last item went out
                return
    finally:
        hub.close(tail)
        if on_close is not None:
            on_close()
