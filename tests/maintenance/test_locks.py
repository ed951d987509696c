"""State changes queue on their locks (PostgreSQL): the second one waits, then decides on
what the first one committed.

Each test holds the first transaction open until the database reports the second one waiting
for a lock (pg_stat_activity), so the interleaving is the one meant, not a timing accident.
Without the lock the second request would not wait, and the test fails on the wait.
"""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.factories import make_node, make_pipeline
from vectorflow.extensions import db
from vectorflow.models import AuditLog, MaintenancePeriod, VectorNode, utcnow
from vectorflow.services import Conflict
from vectorflow.services.maintenance import set_maintenance, set_maintenance_many
from vectorflow.services.nodes import delete_node

from .conftest import report


@pytest.fixture(autouse=True)
def postgresql_only(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time; row locks are a PostgreSQL matter")


def wait_until_a_backend_waits_for_a_lock(timeout: float = 20.0) -> None:
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.engine.connect() as conn:
            if conn.execute(query).scalar():
                return
        time.sleep(0.02)
    raise AssertionError("the second transaction never waited for a lock")


def race(app, first, second) -> list:
    """Run ``first`` and hold its transaction open until ``second`` (in another thread) waits
    for a lock, then commit both; return what each returned or raised."""
    outcomes: list = [None, None]
    first_done = threading.Event()

    def run(index, work, before_commit=None):
        with app.app_context():
            try:
                outcomes[index] = work()
                if before_commit:
                    before_commit()
                db.session.commit()
            except Exception as err:  # noqa: BLE001 - the outcome under test
                db.session.rollback()
                outcomes[index] = err
            finally:
                db.session.remove()

    release = threading.Event()
    holder = threading.Thread(target=run, args=(0, first, lambda: (first_done.set(),
                                                                   release.wait(30))))
    holder.start()
    assert first_done.wait(30), "the first transaction did not get its locks"
    waiter = threading.Thread(target=run, args=(1, second))
    waiter.start()
    try:
        wait_until_a_backend_waits_for_a_lock()
    finally:
        release.set()
        holder.join(30)
        waiter.join(30)
    return outcomes


def get(model, id_):
    return db.session.get(model, id_)


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@pytest.fixture
def covering_pair(world):
    """Two healthy nodes that are the only ones running the one deployed pipeline."""
    pipeline = make_pipeline(world.env)
    nodes = [make_node(world.env, name)[0] for name in ("edge-a", "edge-b")]
    for node in nodes:
        report(node, pipeline)
    db.session.commit()
    return [node.id for node in nodes]


def test_two_entries_racing_for_the_last_coverage_let_exactly_one_in(app, covering_pair):
    a, b = covering_pair
    outcomes = race(app, lambda: set_maintenance(get(VectorNode, a), True),
                    lambda: set_maintenance(get(VectorNode, b), True))
    assert outcomes[0] is True
    assert isinstance(outcomes[1], Conflict) and outcomes[1].status_code == 409
    db.session.expire_all()
    assert [get(VectorNode, i).maintenance_mode for i in (a, b)] == [True, False]


def test_bulk_entries_in_opposite_orders_queue_instead_of_deadlocking(app, covering_pair):
    a, b = covering_pair
    outcomes = race(
        app,
        lambda: set_maintenance_many([get(VectorNode, a), get(VectorNode, b)], True, force=True),
        lambda: set_maintenance_many([get(VectorNode, b), get(VectorNode, a)], True, force=True))
    assert [len(o.changed) for o in outcomes] == [2, 0]
    assert [len(o.unchanged) for o in outcomes] == [0, 2]
    assert count(AuditLog, AuditLog.action == "node.maintenance_entered") == 2
    assert count(MaintenancePeriod, MaintenancePeriod.left_at.is_(None)) == 2


def test_the_same_entry_twice_at_once_is_one_transition(app, covering_pair):
    a, _ = covering_pair
    enter = lambda: set_maintenance(get(VectorNode, a), True, force=True)  # noqa: E731
    assert race(app, enter, enter) == [True, False]
    assert count(AuditLog, AuditLog.action == "node.maintenance_entered") == 1
    assert count(MaintenancePeriod, MaintenancePeriod.node_id == a) == 1


def test_a_delete_waits_for_a_change_to_the_node_and_a_change_after_it_is_a_404(app,
                                                                              covering_pair):
    a, _ = covering_pair
    outcomes = race(app, lambda: delete_node(get(VectorNode, a)),
                    lambda: set_maintenance(get(VectorNode, a), True, force=True))
    assert outcomes[0] is None
    assert getattr(outcomes[1], "status_code", None) == 404
    assert count(VectorNode, VectorNode.id == a) == 0
    assert count(AuditLog, AuditLog.action == "node.maintenance_entered") == 0


@pytest.fixture
def window_trio(world):
    """Three healthy nodes running 'logs' with a budget of 2 (one may go), and an open
    maintenance window targeting the first; returns the node ids."""
    from vectorflow.services.windows import create_window

    pipeline = make_pipeline(world.env)
    pipeline.min_available = 2
    nodes = [make_node(world.env, name)[0] for name in ("edge-a", "edge-b", "edge-c")]
    for node in nodes:
        report(node, pipeline)
    now = utcnow()
    create_window(world.env, {"name": "now", "nodeIds": [nodes[0].id], "durationMinutes": 60,
                              "start": (now - timedelta(minutes=1)).isoformat()}, now=now)
    db.session.commit()
    return [node.id for node in nodes]


def test_a_window_opening_and_a_manual_entry_cannot_both_spend_the_budget(app, window_trio):
    from vectorflow.services.windows import sweep_windows

    a, b, _ = window_trio
    outcomes = race(app, lambda: sweep_windows(utcnow()),
                    lambda: set_maintenance(get(VectorNode, b), True))
    assert isinstance(outcomes[1], Conflict)  # decided after the window took edge-a
    db.session.expire_all()
    assert [get(VectorNode, i).maintenance_mode for i in (a, b)] == [True, False]


def test_a_manual_entry_first_makes_the_window_skip_its_node(app, window_trio):
    from vectorflow.models import MaintenanceWindowRun
    from vectorflow.services.windows import sweep_windows

    a, b, _ = window_trio
    outcomes = race(app, lambda: set_maintenance(get(VectorNode, b), True),
                    lambda: sweep_windows(utcnow()))
    assert outcomes[0] is True
    db.session.expire_all()
    assert [get(VectorNode, i).maintenance_mode for i in (a, b)] == [False, True]
    (run,) = db.session.scalars(sa.select(MaintenanceWindowRun)).all()
    assert run.node_ids == [] and run.skipped[0]["nodeId"] == a
    assert run.skipped[0]["reason"].startswith("disruption budget: logs")
