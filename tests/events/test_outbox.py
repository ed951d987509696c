"""The events table is an outbox: written with the change, in commit order, pruned later."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import Event, VectorNode, utcnow
from vectorflow.services.events import ADVISORY_LOCK_KEY, emit, prune_events

from .. import factories


def rename(node: VectorNode, name: str) -> None:
    node.name = name
    emit("node.updated", team_id=node.team_id, environment_id=node.environment_id,
         node_id=node.id, payload={"name": name})


def stored_events() -> list[Event]:
    return db.session.scalars(sa.select(Event).order_by(Event.id)).all()


def test_an_event_is_stored_in_the_same_commit_as_its_change(world):
    node, _ = factories.make_node(world.env)
    db.session.commit()
    rename(node, "edge-1")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(VectorNode, node.id).name == "edge-1"
    [event] = stored_events()
    assert (event.type, event.node_id, event.payload) == ("node.updated", node.id,
                                                          {"name": "edge-1"})
    assert event.team_id == world.team.id and event.created_at.tzinfo is not None


def test_a_rolled_back_change_leaves_no_event(world):
    node, _ = factories.make_node(world.env, "node-1")
    db.session.commit()
    rename(node, "edge-1")
    db.session.flush()
    db.session.rollback()
    assert db.session.get(VectorNode, node.id).name == "node-1"
    assert stored_events() == []


def test_an_event_in_a_rolled_back_savepoint_is_dropped_and_the_rest_commits(world):
    node, _ = factories.make_node(world.env)
    db.session.commit()
    emit("node.status_changed", team_id=world.team.id, node_id=node.id)
    with pytest.raises(RuntimeError), db.session.begin_nested():
        emit("node.deleted", team_id=world.team.id, node_id=node.id)
        raise RuntimeError("abandon the savepoint")
    emit("node.updated", team_id=world.team.id, node_id=node.id)
    db.session.commit()
    assert [e.type for e in stored_events()] == ["node.status_changed", "node.updated"]


def test_events_in_savepoints_follow_the_savepoints(world):
    emit("node.enrolled", team_id=world.team.id)
    with db.session.begin_nested():
        emit("node.updated", team_id=world.team.id)
        with pytest.raises(RuntimeError), db.session.begin_nested():
            emit("node.deleted", team_id=world.team.id)
            raise RuntimeError("abandon the inner savepoint")
    with pytest.raises(RuntimeError), db.session.begin_nested():
        emit("pipeline.deployed", team_id=world.team.id)
        with db.session.begin_nested():
            emit("pipeline.undeployed", team_id=world.team.id)
        raise RuntimeError("abandon the outer savepoint, released inner one included")
    emit("node.status_changed", team_id=world.team.id)
    db.session.commit()
    assert [e.type for e in stored_events()] == ["node.enrolled", "node.updated",
                                                 "node.status_changed"]


def test_events_a_commit_could_not_write_are_reported(world, caplog):
    db.session.commit()
    outer = db.session.begin()
    db.session.begin_nested()
    emit("node.updated", team_id=world.team.id)
    # Committing the outer transaction itself with a savepoint still open looks, to the
    # commit hook, like a savepoint's release; Session.commit() is the way to commit.
    outer.commit()
    assert "1 queued events were not written" in caplog.text
    assert stored_events() == []


def test_an_emitted_event_gets_its_id_when_the_transaction_commits(world):
    ev = emit("pipeline.deployed", team_id=world.team.id)
    db.session.flush()
    assert stored_events() == []  # queued, not written: the commit writes it last
    db.session.commit()
    assert [e.id for e in stored_events()] == [ev.id]


def advisory_lock_waiters(conn) -> int:
    """Count the sessions of this database waiting for the event lock."""
    return conn.scalar(sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND objid = :key AND database = (SELECT oid FROM pg_database"
        " WHERE datname = current_database())"), {"key": ADVISORY_LOCK_KEY})


# SQLite has a single writer, so its ids are committed in order already.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_transaction_that_emitted_does_not_hold_the_event_lock_until_it_commits(app, world):
    node, _ = factories.make_node(world.env)
    db.session.commit()
    rename(node, "edge-1")
    db.session.flush()  # an event queued, the change written, the transaction still open
    with db.engine.connect() as other, other.begin():
        assert other.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    db.session.commit()
    assert [e.type for e in stored_events()] == ["node.updated"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_event_ids_on_postgresql_become_visible_in_id_order(app, world):
    later: dict = {}

    def committing_transaction():
        with app.app_context():
            ev = emit("pipeline.deployed", team_id=world.team.id)
            db.session.commit()
            later["id"] = ev.id

    with db.engine.connect() as first, db.engine.connect() as observer:
        first.begin()
        # ``first`` is another transaction at its commit: it holds the lock, no id taken yet.
        first.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
        thread = threading.Thread(target=committing_transaction, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while advisory_lock_waiters(observer) == 0:
            assert thread.is_alive() and time.monotonic() < deadline, \
                "a committing event transaction must wait for the event lock"
            time.sleep(0.02)
        # The waiting transaction must not have taken an id yet: the one ``first`` takes
        # now, and makes visible first, is the lower.
        first_id = first.scalar(sa.insert(Event).values(type="node.updated",
                                                        team_id=world.team.id,
                                                        payload={}, created_at=utcnow())
                                .returning(Event.id))
        first.commit()
    thread.join(30)
    assert later["id"] > first_id
    assert [e.id for e in stored_events()] == [first_id, later["id"]]


def test_pruning_deletes_old_events_but_keeps_the_newest(world):
    for _ in range(3):
        emit("pipeline.deployed", team_id=world.team.id)
    db.session.commit()
    newest = stored_events()[-1].id
    fresh = emit("pipeline.deployed", team_id=world.team.id)
    db.session.commit()
    assert prune_events(older_than=timedelta(hours=1)) == 0
    two_days_ago = utcnow() - timedelta(days=2)
    db.session.execute(sa.update(Event).where(Event.id != fresh.id)
                       .values(created_at=two_days_ago))
    assert prune_events() == 3
    db.session.commit()
    assert [e.id for e in stored_events()] == [fresh.id]
    assert fresh.id > newest
    # Even when every event is old, the newest stays, so ids never start again from 1.
    db.session.execute(sa.update(Event).values(created_at=two_days_ago))
    assert prune_events() == 0


def test_the_sweep_prunes_events_past_the_retention_period(world):
    from vectorflow.sweeper import run_sweeps

    stale = emit("pipeline.deployed", team_id=world.team.id)
    db.session.flush()
    stale.created_at = utcnow() - timedelta(hours=25)
    fresh = emit("pipeline.deployed", team_id=world.team.id)
    db.session.commit()
    run_sweeps()
    assert [e.id for e in stored_events()] == [fresh.id]
