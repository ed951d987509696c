"""One transaction boundary for requests, CLI commands and sweeps, with bounded retries.

Services only flush; ``run`` commits in one place (every view runs inside it through
``VectorFlow.dispatch_request``). A view that answers an error (4xx/5xx, returned or raised)
changes nothing: its transaction is rolled back.

The retry rule: when the database reports that a transaction lost a race (a deadlock, a
serialization failure, a lock it gave up waiting for, a unique violation, SQLite's
"database is locked", or a row the ORM expected that another transaction deleted), the whole
transaction is rolled back and run again, up to ``ATTEMPTS`` times with a short random
backoff. Services are safe to re-run: they take their locks first and re-read under them
(services.locks), so the re-run gives the answer the serial path gives (the duplicate name
is found: 409; the node is gone: 404, or 401 for its agent). When every attempt loses, the
caller gets a 409 for a unique violation and a 503 with ``Retry-After`` otherwise; never a 500.

Connections are not pinged on checkout (a round trip on every request): a connection that
died in the pool (the database restarted, an idle timeout) fails the first statement that uses
it, SQLAlchemy invalidates it, and the work is run once more on a fresh connection. A
disconnect while committing is not retried (the commit may have landed): it propagates.
A session the work never used (no transaction begun) is neither committed nor rolled back.

On a SQLite file database the hot writers (the heartbeat collector) first take
``sqlite_write_lock``, so that two server processes' writers wait for each other without
freezing their gevent workers (see it).
"""
from __future__ import annotations

import fcntl
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from .extensions import db
from .services import Conflict, ServiceError

log = logging.getLogger(__name__)

ATTEMPTS = 5
T = TypeVar("T")

# SQLSTATEs of a transaction that lost a race: serialization_failure, deadlock_detected,
# lock_not_available; unique_violation is the race of two inserts of one name.
_BUSY_STATES = {"40001", "40P01", "55P03"}
_UNIQUE_STATE = "23505"
_SQLITE_BUSY = ("database is locked", "database table is locked")
_SQLITE_UNIQUE = "UNIQUE constraint failed"


class Busy(ServiceError):
    """The database kept refusing the transaction (contention): try again shortly."""

    status_code = 503

    def __init__(self):
        super().__init__("the server is busy with concurrent changes to the same objects; "
                         "try again in a moment")
        self.headers = {"Retry-After": "1"}


def lost_race(err: BaseException) -> str | None:
    """Return ``"unique"`` or ``"busy"`` if ``err`` means the transaction lost a race, else None."""
    if isinstance(err, (StaleDataError, ObjectDeletedError)):
        return "busy"
    if not isinstance(err, DBAPIError):
        return None
    state = getattr(err.orig, "sqlstate", None)
    if state == _UNIQUE_STATE:
        return "unique"
    if state in _BUSY_STATES:
        return "busy"
    text = str(err.orig)
    if text.startswith(_SQLITE_UNIQUE):
        return "unique"
    if any(text.startswith(busy) for busy in _SQLITE_BUSY):
        return "busy"
    return None


def disconnected(err: BaseException) -> bool:
    """Return whether ``err`` is the database connection dropping (SQLAlchemy invalidated it)."""
    return isinstance(err, DBAPIError) and bool(err.connection_invalidated)


def _gave_up(kind: str) -> ServiceError:
    if kind == "unique":
        return Conflict("this conflicts with a change made at the same time (the name or key "
                        "is taken); reload and try again")
    return Busy()


def run(work: Callable[[], T], *, keep: Callable[[T], bool] = lambda result: True) -> T:
    """Run ``work`` in a transaction and commit it (rolled back when ``keep(result)`` is false).

    Any exception rolls back; a lost race runs ``work`` again, and so does a connection found
    dead before the commit (see the module's rules).
    """
    attempt, reconnected = 1, False
    while True:
        committing = False
        try:
            result = work()
            if not db.session.registry.has() or not db.session().in_transaction():
                return result  # nothing was read or written through the session
            committing = True
            if keep(result):
                db.session.commit()
            else:
                db.session.rollback()
            return result
        except Exception as err:
            db.session.rollback()
            if not committing and not reconnected and disconnected(err):
                reconnected = True
                log.warning("database connection lost, running the transaction again on a "
                            "new one: %s", type(err.orig).__name__)
                continue
            kind = lost_race(err)
            if kind is None:
                raise
            if attempt == ATTEMPTS:
                log.warning("transaction lost a race %d times, giving up: %s", attempt, err)
                raise _gave_up(kind) from err
            log.info("transaction lost a race (attempt %d), running it again: %s", attempt,
                     type(getattr(err, "orig", err)).__name__)
            time.sleep(random.uniform(0, 0.005 * 2 ** attempt))
            attempt += 1


def attempt(fn: Callable[..., T], *args, **kwargs) -> tuple[T | None, ServiceError | None]:
    """Run a service call for a form action: ``(result, None)``, or ``(None, error)`` after
    undoing whatever it wrote when it refused (the page is then rendered from clean state).

    The one helper form views use instead of catching, rolling back and flashing by hand.
    """
    try:
        return fn(*args, **kwargs), None
    except ServiceError as err:
        db.session.rollback()
        return None, err


# --- SQLite: writers that wait for each other cooperatively ---------------------------------

WRITE_LOCK_WAIT = 5.0  # seconds, as SQLite's own busy_timeout (db_setup)
_PAUSE_FIRST, _PAUSE_MAX = 0.0005, 0.002  # between attempts: a batch writes in milliseconds


def write_lock_path(engine: Engine) -> str | None:
    """Return the lock file of this engine's database (beside it), or None when there is none
    to take: PostgreSQL (row locks), an in-memory or URI-named SQLite database."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.query.get("uri") or url.query.get("mode"):
        return None
    if not url.database or url.database == ":memory:":
        return None
    return url.database + "-writer.lock"


def _take(path: str, deadline: float) -> int:
    """Open ``path`` and flock it exclusively, polling with ``time.sleep`` until ``deadline``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    pause = _PAUSE_FIRST
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy() from None
                time.sleep(pause)
                pause = min(pause * 2, _PAUSE_MAX)
    except BaseException:
        os.close(fd)
        raise


def _give(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextmanager
def file_write_lock(path: str, wait: float = WRITE_LOCK_WAIT) -> Iterator[None]:
    """Hold the write lock ``path`` for the block (see ``sqlite_write_lock``); raise Busy when
    it was not free within ``wait`` seconds.

    A waiter first takes the queue lock (``path`` + ``-queue``) and keeps it until it holds
    the write lock, so a process that has just released the write lock cannot take it again
    ahead of one already waiting: under contention, processes take turns. Each holder opens
    its own descriptors, so two greenlets or threads of one process exclude each other too;
    the kernel drops the locks of a process that dies.
    """
    deadline = time.monotonic() + wait
    queue = _take(path + "-queue", deadline)
    try:
        writer = _take(path, deadline)
    finally:
        _give(queue)
    try:
        yield
    finally:
        _give(writer)


@contextmanager
def sqlite_write_lock(wait: float | None = None) -> Iterator[None]:
    """Hold the database's cross-process write lock for the block, on a SQLite file database
    (elsewhere: nothing). Take it before the write transaction begins, end that transaction
    inside the block; raises Busy (503, Retry-After) after ``wait`` seconds (default
    ``WRITE_LOCK_WAIT``).

    Why: SQLite has one writer at a time, and a transaction that finds the write lock taken
    waits in SQLite's C busy handler (``busy_timeout``, sleeping up to 100 ms per step). Under
    gunicorn's gevent workers that sleep blocks the whole worker: every poll, stream and
    request it holds stops until the other process commits. Writers that take this lock first
    wait for each other with ``time.sleep`` instead (patched by gevent: the worker serves its
    other requests meanwhile; a real sleep under threads), and enter SQLite's write lock when
    the other process's writer has already left it.
    """
    path = write_lock_path(db.engine)
    if path is None:
        yield
        return
    with file_write_lock(path, WRITE_LOCK_WAIT if wait is None else wait):
        yield
