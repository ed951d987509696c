"""Background sweeps in each server process: node health, scheduled maintenance end,
maintenance windows, ...

Every ``VECTORFLOW_SWEEP_INTERVAL`` seconds (0 disables it; tests call ``run_sweeps``) a
thread runs each registered sweep in the app context, one transaction per sweep. With
PostgreSQL a transaction-scoped advisory lock lets only one process run a given sweep at a
time; the others skip that round. Under gunicorn's gevent worker the thread is a greenlet
(gevent patches ``threading``), so it never blocks requests. An exception is logged and the
loop goes on.

Started by gunicorn.conf.py (``post_worker_init``) and, for ``flask run`` and other servers,
by the first request the app serves.
"""
from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from flask import Flask

from . import transactions
from .extensions import db
from .models import utcnow

log = logging.getLogger(__name__)

Sweep = Callable[[datetime], object]
_SWEEPS: list[Sweep] = []
# Jobs that run outside any transaction, each in its own loop (see ``register_job``).
_JOBS: dict[Callable[[], object], str | None] = {}
_EXTENSION = "vectorflow.sweeper"
# Advisory-lock keys are 64-bit; this prefix keeps ours apart from other users of the database.
_LOCK_NAMESPACE = 0x5646 << 32  # "VF"
_START_LOCK = threading.Lock()


def register_sweep(fn: Sweep) -> Sweep:
    """Run ``fn(now)`` on every sweep round (idempotent; usable as a decorator)."""
    if fn not in _SWEEPS:
        _SWEEPS.append(fn)
    return fn


def register_job(fn: Callable[[], object], *, interval_key: str | None = None) -> None:
    """Run ``fn()`` in its own loop beside the sweeps, every ``app.config[interval_key]``
    seconds (default: the sweep interval), with no transaction open: for work that waits on
    the network (sending notifications) and runs its own short transactions."""
    _JOBS[fn] = interval_key


def registered_sweeps() -> list[Sweep]:
    """Return the sweeps run each round, in registration order."""
    return list(_SWEEPS)


def _sweep_name(fn: Sweep) -> str:
    return f"{fn.__module__}.{getattr(fn, '__qualname__', repr(fn))}"


def _lock_key(fn: Sweep) -> int:
    return _LOCK_NAMESPACE | zlib.crc32(_sweep_name(fn).encode())


def _try_lock(fn: Sweep) -> bool:
    """Take this sweep's lock for the current transaction (PostgreSQL); True elsewhere."""
    if db.engine.dialect.name != "postgresql":
        return True  # SQLite serialises writers; every sweep's UPDATE is idempotent anyway
    return bool(db.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(_lock_key(fn)))))


def _sweep_once(fn: Sweep, now: datetime) -> bool:
    """Run one sweep unless another process holds its lock this round; return whether it ran."""
    if not _try_lock(fn):
        return False
    fn(now)
    return True


def run_sweeps(now: datetime | None = None) -> None:
    """Run every registered sweep once, each in its own committed transaction (in an app context)."""
    for fn in registered_sweeps():
        try:
            transactions.run(lambda: _sweep_once(fn, now or utcnow()), keep=bool)
        except Exception:
            log.exception("sweep %s failed", _sweep_name(fn))


class _Sweeper:
    def __init__(self, app: Flask, interval: float):
        self.app = app
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, args=(run_sweeps, interval),
                                       name="vectorflow-sweeper", daemon=True)
        self.jobs = [
            threading.Thread(target=self._loop, daemon=True, name=f"vectorflow-{fn.__name__}",
                             args=(fn, float(app.config.get(key) or interval) if key else interval))
            for fn, key in _JOBS.items()
        ]

    def start(self) -> None:
        self.thread.start()
        for job in self.jobs:
            job.start()

    def _loop(self, work: Callable[[], object], interval: float) -> None:
        while not self.stopped.wait(interval):
            try:
                with self.app.app_context():
                    try:
                        work()
                    finally:
                        db.session.remove()
            except Exception:  # never let the loop die, whatever happens
                log.exception("background round of %s failed", getattr(work, "__name__", work))

    def stop(self) -> None:
        self.stopped.set()


def start(app: Flask) -> threading.Thread | None:
    """Start this process's sweep loop for ``app`` once; None when disabled (interval 0)."""
    interval = float(app.config.get("VECTORFLOW_SWEEP_INTERVAL") or 0)
    if interval <= 0:
        return None
    with _START_LOCK:
        sweeper = app.extensions.get(_EXTENSION)
        if sweeper is None:
            sweeper = app.extensions[_EXTENSION] = _Sweeper(app, interval)
            sweeper.start()
            log.info("sweeps every %ss: %s", interval,
                     ", ".join(_sweep_name(fn) for fn in registered_sweeps()))
    return sweeper.thread


def stop(app: Flask) -> None:
    """Stop the app's sweep loop after its current round (for tests and embedding)."""
    sweeper = app.extensions.pop(_EXTENSION, None)
    if sweeper is not None:
        sweeper.stop()


def start_for_wsgi_app(wsgi) -> threading.Thread | None:
    """Start the sweeps for the Flask app behind a WSGI callable (gunicorn's ``worker.wsgi``)."""
    seen = 0
    while wsgi is not None and not isinstance(wsgi, Flask) and seen < 10:
        wsgi = getattr(wsgi, "app", None) or getattr(wsgi, "application", None)
        seen += 1
    if not isinstance(wsgi, Flask):
        log.warning("no Flask app found behind the WSGI callable; sweeps not started")
        return None
    return start(wsgi)


def init_app(app: Flask) -> None:
    """Register the built-in sweeps and start the loop with the first request the app serves."""
    from .services import alerts, notifications
    from .services.health import sweep_unreachable
    from .services.maintenance import end_expired_maintenance
    from .services.windows import sweep_windows

    register_sweep(sweep_unreachable)
    register_sweep(end_expired_maintenance)
    register_sweep(sweep_windows)
    alerts.init_app(app)  # after the sweeps above: it sees the statuses they set this round
    notifications.init_app(app)

    @app.before_request
    def _start_sweeps_once():
        if _EXTENSION not in app.extensions:
            start(app)  # returns at once when the interval is 0
