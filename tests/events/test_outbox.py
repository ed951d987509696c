"""The events table is an outbox: written with the change, in commit order, pruned later."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import Event, VectorNode, utcnow
from vectorflow.services.events import emit, prune_events

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


# SQLite has a single writer, so its ids are committed in order already.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_event_transactions_on_postgresql_commit_in_id_order(app, world):
    emit("node.updated", team_id=world.team.id)
    db.session.flush()  # the first transaction now holds the event lock and id 1
    later: dict = {}

    def second_transaction():
        with app.app_context():
            ev = emit("pipeline.deployed", team_id=world.team.id)
            db.session.commit()
            later["id"] = ev.id

    thread = threading.Thread(target=second_transaction, daemon=True)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive(), "a second event transaction must wait for the first to commit"
    db.session.commit()
    thread.join(10)
    first_id = stored_events()[0].id
    assert later["id"] > first_id


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
