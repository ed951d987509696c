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
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

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
