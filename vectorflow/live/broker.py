"""The broker: one hub and one feed per process, and the event-stream generator."""
from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, Response, current_app

from ..extensions import db
from ..models import Event
from .feeds import CHANNEL, Feed, LocalFeed, PostgresFeed, RedisFeed, newer_events
from .hub import Hub, LiveEvent, sse_message

log = logging.getLogger(__name__)

KEEPALIVE = b": keep-alive\n\n"
# Events between this app's processes only (services.poll_cache), never sent to a stream.
INTERNAL_EVENTS = frozenset({"agent.config_changed"})
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True)
class Scope:
    """Which events a dashboard or API stream may see, and the filters it asked for."""

    team_ids: frozenset[str] | None  # None: every team (superadmin)
    environment_id: str | None = None
    node_id: str | None = None

    def matches(self, ev: LiveEvent) -> bool:
        """Return whether ``ev`` belongs in this stream."""
        if self.team_ids is not None and ev.team_id not in self.team_ids:
            return False
        if self.environment_id is not None and ev.environment_id != self.environment_id:
            return False
        return (self.node_id is None or ev.node_id == self.node_id
                or self.node_id in ev.node_ids)


@dataclass
class Subscription:
    """How one kind of stream renders events: what it sends, and when it ends."""

    render: Callable[[LiveEvent], bytes | None]
    resync: Callable[[str, int], bytes]  # (reason, position) -> message telling it to refresh
    ends: Callable[[LiveEvent], bool] = lambda ev: False
    # Browsers get ``retry:`` and ``id:`` fields; agents only ``data:`` lines and comments.
    browser: bool = True


def browser_subscription(scope: Scope) -> Subscription:
    """Return the subscription of a dashboard or API client limited to ``scope``."""

    def resync(reason: str, position: int) -> bytes:
        data = json.dumps({"type": "resync", "reason": reason})
        return sse_message(data, event="resync", id=position).encode()

    return Subscription(render=lambda ev: ev.message if scope.matches(ev)
                        and ev.type not in INTERNAL_EVENTS else None, resync=resync)


def event_stream_response(stream: Iterator[bytes]) -> Response:
    """Wrap a stream in a ``text/event-stream`` response that proxies must not buffer."""
    return Response(stream, mimetype="text/event-stream", headers=STREAM_HEADERS)


class Broker:
    """Per-process fan-out of committed events to open streams."""

    def __init__(self, app: Flask):
        self.app = app
        self._lock = threading.Lock()
        self._redis = None
        # In-process listeners of every committed event the feed brings (poll_cache), and
        # what each does when the feed fails (events may then have been missed).
        self._listeners: list[Callable[[list[LiveEvent]], None]] = []
        self._on_failure: list[Callable[[], None]] = []
        self._configure()

    def add_listener(self, listener: Callable[[list[LiveEvent]], None],
                     on_failure: Callable[[], None]) -> None:
        """Call ``listener`` with each batch of events the feed brings, in id order, and
        ``on_failure`` whenever the feed fails (until it is live again, ``feed_is_live`` is
        False)."""
        self._listeners.append(listener)
        self._on_failure.append(on_failure)

    def feed_is_live(self) -> bool:
        """Whether this process's feed runs and has brought every committed event so far
        (up to its wake-up delay)."""
        feed = self._feed
        return feed is not None and feed.live and not self.hub.closed

    def _configure(self) -> None:
        config = self.app.config
        self.redis_url = config.get("REDIS_URL")
        self.keepalive = float(config["VECTORFLOW_SSE_KEEPALIVE"])
        self.max_age = float(config["VECTORFLOW_SSE_MAX_AGE"])
        self.replay_limit = int(config["VECTORFLOW_EVENTS_REPLAY_LIMIT"])
        self.poll_interval = config.get("VECTORFLOW_EVENTS_POLL")
        self.hub = Hub(int(config["VECTORFLOW_EVENTS_RING"]))
        self._feed: Feed | None = None

    # -- publishing -------------------------------------------------------------------------

    @property
    def uses_pg_notify(self) -> bool:
        """Whether PostgreSQL NOTIFY is the wake-up (rather than Redis)."""
        return not self.redis_url

    def notify_committed(self) -> None:
        """Tell every process's feed that events were committed (called after commit)."""
        if self.redis_url:
            try:
                if self._redis is None:
                    import redis

                    self._redis = redis.Redis.from_url(self.redis_url, socket_timeout=2)
                self._redis.publish(CHANNEL, b"1")
            except Exception:  # events are durable: the feeds' polling still finds them
                log.warning("could not publish the event hint to Redis", exc_info=True)
        elif self._feed is not None:
            self._feed.wake()  # SQLite; under PostgreSQL the NOTIFY sent with the commit wakes it

    # -- feed -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start this process's feed (once; needs an app context the first time)."""
        if self._feed is not None:
            return
        with self._lock:
            if self._feed is not None:
                return
            engine = db.engine
            postgres = engine.dialect.name == "postgresql"
            poll = float(self.poll_interval or (5.0 if postgres or self.redis_url else 0.5))
            hooks = {"listeners": self._listeners, "on_failure": self._on_failure}
            if self.redis_url:
                feed: Feed = RedisFeed(self.hub, engine, poll, redis_url=self.redis_url, **hooks)
            elif postgres:
                feed = PostgresFeed(self.hub, engine, poll, **hooks)
            else:
                feed = LocalFeed(self.hub, engine, poll, **hooks)
            self.hub.start_at(self.head())
            feed.live = True  # every event up to the head is behind us; the thread brings the rest
            feed.start()
            self._feed = feed

    def head(self) -> int:
        """Return the id of the newest committed event (0 when there is none)."""
        # Through the request's session: a second pooled connection per request could
        # starve the pool when many streams open at once.
        return db.session.scalar(sa.select(sa.func.max(Event.id))) or 0

    def shutdown(self) -> None:
        """Stop the feed and end every open stream."""
        if self._feed is not None:
            self._feed.stop()
        self.hub.close()

    def reset_for_tests(self) -> None:
        """End everything and start afresh from the app's (restored) config."""
        self.shutdown()
        self._configure()

    # -- streams ----------------------------------------------------------------------------

    def open(self, sub: Subscription, cursor: int | None) -> Iterator[bytes]:
        """Plan a stream from ``cursor`` (replay or resync) now; return its generator.

        Call from a view, then close the session: the database reads happen here, through
        the request's session, and none while the stream waits.
        """
        self.start()
        first, position = self._catch_up(sub, cursor)
        if sub.browser:
            first = (f"retry: {random.randint(2000, 6000)}\n\n".encode() + first
                     + f"id: {position}\n\n".encode())
        else:
            first = b": connected\n\n" + first
        return self._stream(sub, first, position)

    def _catch_up(self, sub: Subscription, cursor: int | None) -> tuple[bytes, int]:
        """Return what a stream resuming after ``cursor`` must send first, and its position."""
        if cursor is None:
            return b"", self.hub.last_id
        if cursor > self.hub.last_id and cursor > self.head():
            # An id this database never issued (restored or recreated): start over.
            return sub.resync("unknown", self.hub.last_id), self.hub.last_id
        missed = self.hub.since(cursor)
        if missed is None:  # older than this process's ring: read the table
            oldest = db.session.scalar(sa.select(sa.func.min(Event.id)))
            missed = newer_events(db.session, cursor, self.replay_limit + 1)
            if oldest is None or cursor < oldest - 1 or len(missed) > self.replay_limit:
                return sub.resync("expired", self.hub.last_id), self.hub.last_id
        position = missed[-1].id if missed else cursor
        return b"".join(filter(None, map(sub.render, missed))), position

    def _stream(self, sub: Subscription, first: bytes, position: int) -> Iterator[bytes]:
        hub = self.hub
        yield first
        last_write = time.monotonic()
        # Streams end now and then so a revoked login or token stops receiving;
        # clients reconnect with Last-Event-ID and lose nothing.
        deadline = last_write + self.max_age * random.uniform(0.9, 1.1) if self.max_age else None
        while not hub.closed:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            wait = self.keepalive - (now - last_write)
            if wait <= 0:
                yield KEEPALIVE  # also how a closed connection is noticed: the write fails
                last_write = time.monotonic()
                continue
            if deadline is not None:
                wait = min(wait, deadline - now)
            batch = hub.wait(position, wait)
            if batch is None:  # fell behind the ring
                position = hub.last_id
                yield sub.resync("behind", position)
                last_write = time.monotonic()
                continue
            if not batch:
                continue
            position = batch[-1].id
            out = []
            for ev in batch:
                chunk = sub.render(ev)
                if chunk:
                    out.append(chunk)
                if sub.ends(ev):
                    if out:
                        yield b"".join(out)
                    return
            if out:
                yield b"".join(out)
                last_write = time.monotonic()


def get_broker() -> Broker:
    """Return the current app's broker."""
    return current_app.extensions["vectorflow.broker"]


DEFAULTS = {
    "VECTORFLOW_SSE_KEEPALIVE": 15.0,       # seconds between keep-alive comments
    "VECTORFLOW_SSE_MAX_AGE": 1800.0,       # seconds (+-10 %) before a stream asks for a reconnect
    "VECTORFLOW_EVENTS_RING": 2048,         # recent events kept in memory per process
    "VECTORFLOW_EVENTS_REPLAY_LIMIT": 1000,  # more missed than this: resync instead of replay
    "VECTORFLOW_EVENTS_POLL": None,         # safety-net poll; default 0.5 s SQLite, 5 s otherwise
    "VECTORFLOW_EVENTS_RETENTION_HOURS": 24,
}


def init_app(app: Flask) -> Broker:
    """Install the broker in ``app.extensions``; it starts nothing until a stream opens."""
    for key, default in DEFAULTS.items():
        if key not in app.config:  # explicit config wins over the environment
            raw = os.environ.get(key)
            app.config[key] = default if not raw else type(default or 0.0)(raw)
    broker = Broker(app)
    app.extensions["vectorflow.broker"] = broker
    return broker
