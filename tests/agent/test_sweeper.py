"""The background sweep loop: registered sweeps, one process at a time, never dying."""
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from vectorflow import sweeper
from vectorflow.extensions import db
from vectorflow.models import NodeStatus, VectorNode, utcnow
from vectorflow.services.health import sweep_unreachable
from vectorflow.services.maintenance import end_expired_maintenance


def stale(make_agent, name="silent"):
    return make_agent(name, last_heartbeat=utcnow() - timedelta(minutes=10))


def status_of(node) -> NodeStatus:
    db.session.expire_all()
    return db.session.get(VectorNode, node.id).status


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_health_and_scheduled_maintenance_end_are_registered_sweeps(app):
    assert sweep_unreachable in sweeper.registered_sweeps()
    assert end_expired_maintenance in sweeper.registered_sweeps()


def test_register_sweep_is_idempotent(monkeypatch):
    monkeypatch.setattr(sweeper, "_SWEEPS", [])

    def sweep(now):
        return None

    sweeper.register_sweep(sweep)
    sweeper.register_sweep(sweep)
    assert sweeper.registered_sweeps() == [sweep]


def test_a_failing_sweep_is_logged_and_the_others_still_run(make_agent, monkeypatch, caplog):
    agent = stale(make_agent)

    def broken(now):
        db.session.execute(sa.text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(sweeper, "_SWEEPS", [broken, sweep_unreachable])
    sweeper.run_sweeps()
    assert status_of(agent.node) == NodeStatus.UNREACHABLE
    assert "sweep tests.agent.test_sweeper" in caplog.text


def test_the_loop_is_disabled_with_interval_zero(app):
    app.config["VECTORFLOW_SWEEP_INTERVAL"] = 0
    assert sweeper.start(app) is None


def test_the_first_request_starts_the_loop_which_sweeps_on_its_own(app, client, make_agent):
    agent = stale(make_agent)
    app.config["VECTORFLOW_SWEEP_INTERVAL"] = 0.05
    try:
        assert client.get("/healthz").get_json() == {"ok": True}
        assert "vectorflow.sweeper" in app.extensions
        assert wait_for(lambda: status_of(agent.node) == NodeStatus.UNREACHABLE)
        first = app.extensions["vectorflow.sweeper"].thread
        assert sweeper.start(app) is first  # one loop per app and process
    finally:
        sweeper.stop(app)


def test_gunicorn_hook_finds_the_flask_app_behind_middleware(app):
    class Middleware:
        def __init__(self, wrapped):
            self.app = wrapped

    app.config["VECTORFLOW_SWEEP_INTERVAL"] = 3600
    try:
        thread = sweeper.start_for_wsgi_app(Middleware(app))
        assert isinstance(thread, threading.Thread) and thread.is_alive()
    finally:
        sweeper.stop(app)
    assert sweeper.start_for_wsgi_app(object()) is None


def test_with_postgresql_only_one_process_runs_a_sweep_at_a_time(app, make_agent, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("advisory locks are a PostgreSQL feature; SQLite serialises writers")
    agent = stale(make_agent)
    key = sweeper._lock_key(sweep_unreachable)
    with db.engine.connect() as other_process, other_process.begin():
        assert other_process.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(key)))
        sweeper.run_sweeps()
        assert status_of(agent.node) == NodeStatus.HEALTHY
    sweeper.run_sweeps()
    assert status_of(agent.node) == NodeStatus.UNREACHABLE
