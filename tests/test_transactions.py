"""The transaction boundary: one commit point, refusals change nothing, lost races are rerun.

The races here are real database errors (a unique violation from a row another connection
committed, an UPDATE of a row another connection deleted), not mocks.
"""
from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa

from tests.factories import make_team
from tests.lock_holder import LockHolder
from vectorflow import transactions
from vectorflow.models import AuditLog, Team
from vectorflow.services import Conflict, accounts


def team_count(db, name: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Team).where(Team.name == name))


def commit_elsewhere(db, statement, **params) -> None:
    """Run a statement in another connection's committed transaction (another request)."""
    with db.engine.begin() as conn:
        conn.execute(statement, params)


def test_an_insert_that_loses_a_name_race_is_rerun_and_answers_the_serial_409(db):
    attempts = []

    def create_team():
        attempts.append(1)
        if len(attempts) == 1:
            # The other request commits "ops" after this one checked the name was free.
            commit_elsewhere(db, sa.insert(Team).values(id="other", name="ops",
                                                        created_at=sa.func.now()))
            db.session.add(Team(name="ops"))
            db.session.flush()
        return accounts.create_team("ops")

    with pytest.raises(Conflict, match="already exists"):
        transactions.run(create_team)
    assert len(attempts) == 2
    assert team_count(db, "ops") == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == 0


def test_a_unique_violation_on_every_attempt_ends_in_a_409_not_a_500(db):
    commit_elsewhere(db, sa.insert(Team).values(id="other", name="ops", created_at=sa.func.now()))
    attempts = []

    def insert_blindly():
        attempts.append(1)
        db.session.add(Team(name="ops"))
        db.session.flush()

    with pytest.raises(Conflict) as refused:
        transactions.run(insert_blindly)
    assert refused.value.status_code == 409
    assert len(attempts) == transactions.ATTEMPTS


def test_a_row_deleted_under_the_orm_on_every_attempt_ends_in_a_503_with_retry_after(db):
    team = make_team("doomed")
    db.session.commit()
    commit_elsewhere(db, sa.delete(Team).where(Team.id == team.id))
    attempts = []

    def rename():
        attempts.append(1)
        team.name = "renamed"
        db.session.flush()  # UPDATE ... WHERE id = <gone>: StaleDataError

    with pytest.raises(transactions.Busy) as refused:
        transactions.run(rename)
    assert len(attempts) == transactions.ATTEMPTS
    assert refused.value.status_code == 503
    assert refused.value.headers == {"Retry-After": "1"}


def test_work_that_succeeds_is_committed_once_and_errors_are_not_retried(db):
    attempts = []

    def create_then_fail():
        attempts.append(1)
        accounts.create_team("kept-out")
        raise ValueError("a bug, not a race")

    with pytest.raises(ValueError):
        transactions.run(create_then_fail)
    assert attempts == [1]
    assert team_count(db, "kept-out") == 0

    assert transactions.run(lambda: accounts.create_team("kept")).name == "kept"
    db.session.expire_all()
    assert team_count(db, "kept") == 1


def test_busy_is_answered_as_json_503_with_retry_after(app):
    with app.test_request_context("/api/v1/teams", headers={"Accept": "application/json"}):
        response = app.make_response(app.handle_user_exception(transactions.Busy()))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "try again" in response.get_json()["error"]


def test_a_form_action_the_service_refuses_leaves_nothing_it_flushed(db):
    def create_then_refuse():
        accounts.create_team("half-done")
        raise Conflict("refused after writing")

    result, err = transactions.attempt(create_then_refuse)
    assert result is None and err.message == "refused after writing"
    assert team_count(db, "half-done") == 0

    team, err = transactions.attempt(accounts.create_team, "whole")
    assert err is None and team.name == "whole"


# --- SQLite's cross-process write lock ----------------------------------------------------


def take_in_thread(path, wait=30.0):
    """Start a thread that takes the lock ``path``; return (taken, let_go) events: ``taken``
    is set while it holds the lock, ``let_go`` makes it release."""
    taken, let_go = threading.Event(), threading.Event()

    def hold():
        with transactions.file_write_lock(path, wait):
            taken.set()
            let_go.wait(30)

    threading.Thread(target=hold, daemon=True).start()
    return taken, let_go


def test_a_writer_waits_for_another_process_holding_the_lock_then_proceeds(tmp_path):
    path = str(tmp_path / "vectorflow.db-writer.lock")
    with LockHolder(path) as other:
        taken, let_go = take_in_thread(path)
        assert not taken.wait(0.3)  # still waiting while the other process holds it
        other.release()
        assert taken.wait(10)
        let_go.set()


def test_a_writer_that_waits_too_long_gets_busy_and_holds_nothing(tmp_path):
    path = str(tmp_path / "vectorflow.db-writer.lock")
    with LockHolder(path) as other:
        with pytest.raises(transactions.Busy) as refused:
            with transactions.file_write_lock(path, wait=0.05):
                pytest.fail("entered the block while another process held the lock")
        assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "1"}
        other.release()
    with LockHolder(path):  # the refused writer left no lock behind: the other takes it
        pass


def test_two_threads_of_one_process_take_the_lock_in_turn(tmp_path):
    path = str(tmp_path / "vectorflow.db-writer.lock")
    first_taken, first_go = take_in_thread(path)
    assert first_taken.wait(10)
    second_taken, second_go = take_in_thread(path)
    assert not second_taken.wait(0.3)
    first_go.set()
    assert second_taken.wait(10)
    second_go.set()


def test_a_process_waiting_for_the_lock_gets_it_before_the_releasing_one_takes_it_again(
        tmp_path):
    path, log = str(tmp_path / "vectorflow.db-writer.lock"), tmp_path / "order"
    first_taken, first_go = take_in_thread(path)
    assert first_taken.wait(10)
    other = subprocess.Popen([sys.executable, "-c", QUEUE_THEN_WRITE, path, str(log)],
                             text=True, stdout=subprocess.PIPE)
    try:
        assert other.stdout.readline() == "queued\n"  # it waits for the write lock
        first_go.set()  # this process lets go and at once wants the lock again

        def write_again():
            with transactions.file_write_lock(path):
                with log.open("a") as out:
                    out.write("this process\n")

        again = threading.Thread(target=write_again)
        again.start()
        assert other.wait(10) == 0
        again.join(10)
        assert log.read_text().splitlines() == ["the waiting process", "this process"]
    finally:
        if other.poll() is None:
            other.kill()


# Says "queued" once it holds the queue lock (then waits for the write lock), and writes its
# name to the log file while it holds the write lock.
QUEUE_THEN_WRITE = """
import sys
from vectorflow import transactions
take = transactions._take
def take_and_say(path, deadline):
    fd = take(path, deadline)
    if path.endswith("-queue"):
        print("queued", flush=True)
    return fd
transactions._take = take_and_say
with transactions.file_write_lock(sys.argv[1], wait=30):
    with open(sys.argv[2], "a") as out:
        print("the waiting process", file=out)
"""


def test_the_write_lock_sits_beside_a_sqlite_database_and_postgresql_takes_none(db):
    path = transactions.write_lock_path(db.engine)
    if db.engine.dialect.name == "postgresql":
        assert path is None
    else:
        assert path == db.engine.url.database + "-writer.lock"
    assert transactions.write_lock_path(sa.create_engine("sqlite://")) is None
    assert transactions.write_lock_path(sa.create_engine("sqlite:///:memory:")) is None
