"""Feeds keep a process's hub in step with the events table (one feed thread per process).

The table is the source of truth for ids and content; a feed only needs a wake-up hint:
a direct call after commit (SQLite, one process), PostgreSQL LISTEN/NOTIFY, or Redis
pub/sub. Each also polls on a timer as a safety net, so a lost hint delays an event
by at most the poll interval.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import Event
from .hub import Hub, LiveEvent

log = logging.getLogger(__name__)

CHANNEL = "vectorflow_events"
FETCH_BATCH = 500


def newer_events(conn: sa.Connection | Session, cursor: int, limit: int) -> list[LiveEvent]:
    """Read up to ``limit`` committed events after ``cursor``, oldest first."""
    table = Event.__table__
    rows = conn.execute(
        sa.select(table).where(table.c.id > cursor).order_by(table.c.id).limit(limit)
    ).all()
    return [LiveEvent.from_row(row) for row in rows]


class Feed:
    """Fetch new events into the hub whenever woken, and at least every ``poll_interval``."""

    name = "poll"

    def __init__(self, hub: Hub, engine: sa.Engine, poll_interval: float, *,
                 listeners: list[Callable[[list[LiveEvent]], None]] = (),
                 on_failure: list[Callable[[], None]] = ()):
        self.hub = hub
        self.engine = engine
        self.poll_interval = poll_interval
        self.listeners, self.on_failure = listeners, on_failure
        # True from the first fetch that succeeded until a failure, then again after the
        # next successful fetch (which brings what was committed meanwhile).
        self.live = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the feed thread (a greenlet under gevent)."""
        self._thread = threading.Thread(target=self._run, name=f"vectorflow-feed-{self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the feed thread to end after its current wait."""
        self.live = False
        self._stopped.set()
        self.wake()

    def wake(self) -> None:
        """Hint that events were committed in this process."""

    def fetch(self) -> None:
        """Push every committed event newer than the hub's last id."""
        while True:
            with self.engine.connect() as conn:
                events = newer_events(conn, self.hub.last_id, FETCH_BATCH)
            for listener in self.listeners:
                listener(events)
            self.hub.push(events)
            if len(events) < FETCH_BATCH:
                self.live = True
                return

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopped.is_set():
            try:
                self.fetch()
                self.wait_for_hint()
                backoff = 0.5
            except Exception:  # the feed must survive a database or Redis restart
                log.exception("live event feed failed; retrying in %.1fs", backoff)
                self.live = False
                for failed in self.on_failure:
                    failed()
                self.reset()
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        self.reset()

    def wait_for_hint(self) -> None:
        """Block until a hint arrives or the poll interval passes."""
        self._stopped.wait(self.poll_interval)

    def reset(self) -> None:
        """Drop connections after an error so the next round reconnects."""


class LocalFeed(Feed):
    """SQLite: woken directly after a commit in this process; polling covers other processes."""

    name = "local"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hint = threading.Event()

    def wake(self) -> None:
        self._hint.set()

    def wait_for_hint(self) -> None:
        self._hint.wait(self.poll_interval)
        self._hint.clear()


class PostgresFeed(Feed):
    """PostgreSQL: LISTEN on its own connection; queries go through the pool, never that one.

    psycopg 3.2+ holds the connection lock for the whole ``notifies()`` generator, so a
    query on the LISTEN connection inside it would deadlock (psycopg#1310).
    """

    name = "postgres"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._listener = None

    def wait_for_hint(self) -> None:
        import psycopg

        if self._listener is None:
            dsn = self.engine.url.set(drivername="postgresql").render_as_string(
                hide_password=False)
            self._listener = psycopg.connect(dsn, autocommit=True)
            self._listener.execute(f"LISTEN {CHANNEL}")
            return  # fetch once more: events may have committed before LISTEN took effect
        for _ in self._listener.notifies(timeout=self.poll_interval, stop_after=1):
            pass

    def reset(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):  # already broken: closing is best effort
                self._listener.close()
            self._listener = None


class RedisFeed(Feed):
    """Redis pub/sub as the hint (when REDIS_URL is set); the table still gives ids and replay."""

    name = "redis"

    def __init__(self, *args, redis_url: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.redis_url = redis_url
        self._pubsub = None

    def wait_for_hint(self) -> None:
        import redis

        if self._pubsub is None:
            client = redis.Redis.from_url(self.redis_url, socket_keepalive=True)
            self._pubsub = client.pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(CHANNEL)
            return  # fetch once more: events may have committed before SUBSCRIBE took effect
        if self._pubsub.get_message(timeout=self.poll_interval) is not None:
            while self._pubsub.get_message(timeout=0) is not None:
                pass  # one fetch covers every hint received so far

    def reset(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(Exception):  # already broken: closing is best effort
                self._pubsub.close()
            self._pubsub = None
