"""Live tails: one reader per process hands new log lines and tap batches to open streams.

A browser tail is a ``Tail``: a bounded buffer the hub's reader thread fills and the
stream's generator drains. The reader never waits on a browser: when a tail's buffer is
full, lines are counted as dropped and the stream says so (backpressure that slows
neither the agents, whose posts only write rows, nor other viewers).

The reader wakes when a post commits in this process (at most every
``VECTORFLOW_TAIL_MIN_INTERVAL`` seconds, so a busy fleet's posts are read in batches) and
polls every ``VECTORFLOW_TAIL_POLL`` seconds for posts served by other processes; it reads
only the rows of nodes, pipelines and taps someone is watching (by index), so its cost
follows the open tails, not the fleet. On PostgreSQL rows may commit out of id order
(concurrent posts): the reader keeps looking at ids it passed for ``GRACE`` seconds (an
index-only read of ids) and fetches only those it has not handed out yet.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, current_app

from ..extensions import db
from ..models import LogLine, Tap, TapEvent, TapStatus

log = logging.getLogger(__name__)

GRACE = 2.0  # seconds a committed id may lag behind a higher one (PostgreSQL)
FETCH_MAX = 5000
DEFAULTS = {
    "VECTORFLOW_TAIL_POLL": 0.5,       # seconds between reads for other processes' posts
    "VECTORFLOW_TAIL_MIN_INTERVAL": 0.1,  # and at least this long between two reads
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
        self._reading = threading.Lock()  # one read at a time (the thread, or a direct call)
        self._wake = threading.Event()
        self._tails: set[Tail] = set()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._engine = None
        self._floors = {"log": 0, "tap": 0}
        self._seen: dict[str, set[int]] = {"log": set(), "tap": set()}
        # (monotonic time, highest id read then) per kind: the floor follows GRACE behind.
        self._marks: dict[str, deque[tuple[float, int]]] = {"log": deque(), "tap": deque()}
        self._grace = 0.0
        self.rounds = 0  # reads done

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
                # SQLite has one writer: its ids commit in order.
                self._grace = GRACE if self._engine.dialect.name == "postgresql" else 0.0
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
                self._marks = {"log": deque(), "tap": deque()}
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
            self._marks = {"log": deque(), "tap": deque()}
        for tail in tails:
            tail.close()

    def reset_for_tests(self) -> None:
        self.shutdown()

    # -- the reader -------------------------------------------------------------------------

    def _run(self) -> None:
        stopped = self._stopped
        least = float(self.app.config.get("VECTORFLOW_TAIL_MIN_INTERVAL",
                                          DEFAULTS["VECTORFLOW_TAIL_MIN_INTERVAL"]))
        while not stopped.is_set():
            started = time.monotonic()
            try:
                self.read_once()
            except Exception:  # the reader must survive a database restart
                log.exception("live tail reader failed; retrying")
                stopped.wait(1.0)
            self._wake.wait(self.poll if self._tails else 30.0)
            # Posts that commit meanwhile are read together in the next round.
            stopped.wait(max(0.0, least - (time.monotonic() - started)))
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
        with self._reading, self._engine.connect() as conn:
            if log_tails:
                self._read_lines(conn, log_tails)
            if tap_tails:
                self._read_taps(conn, tap_tails)

    def _new_ids(self, kind: str, conn, table, scope) -> list[int]:
        """Return the ids above the floor not handed out yet (an index-only read), and move
        the floor to what was read GRACE seconds ago."""
        ids = conn.execute(sa.select(table.c.id).where(table.c.id > self._floors[kind], scope)
                           .order_by(table.c.id).limit(FETCH_MAX)).scalars().all()
        seen, marks, now = self._seen[kind], self._marks[kind], time.monotonic()
        fresh = [i for i in ids if i not in seen]
        if ids:
            marks.append((now, ids[-1]))
        floor = self._floors[kind]
        while marks and marks[0][0] <= now - self._grace:
            floor = max(floor, marks.popleft()[1])
        seen.update(fresh)
        self._floors[kind] = floor
        self._seen[kind] = {i for i in seen if i > floor}
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
        fresh = self._new_ids("log", conn, table, sa.or_(*scope))
        for start in range(0, len(fresh), 500):
            rows = conn.execute(sa.select(table).where(table.c.id.in_(fresh[start:start + 500]))
                                .order_by(table.c.id)).all()
            for row in rows:
                data = None
                for tail in tails:
                    if tail.wants(row):
                        data = data or line_json(row)  # rendered once for every tail
                        tail.offer(row.id, data)

    def _read_taps(self, conn, tails: list[Tail]) -> None:
        table = TapEvent.__table__
        tap_ids = sorted({t.tap_id for t in tails})
        fresh = self._new_ids("tap", conn, table, table.c.tap_id.in_(tap_ids))
        if fresh:
            for row in conn.execute(sa.select(table).where(table.c.id.in_(fresh))
                                    .order_by(table.c.id)):
                data = None
                for tail in tails:
                    if tail.tap_id == row.tap_id and row.id > tail.after:
                        data = data or json.dumps(row.events, separators=(",", ":"))
                        tail.offer(row.id, data)
        taps = Tap.__table__
        for tap in conn.execute(sa.select(taps.c.id, taps.c.stop_reason).where(
                taps.c.id.in_(tap_ids), taps.c.status == TapStatus.STOPPED.name)):
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
