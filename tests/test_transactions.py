"""The transaction boundary: one commit point, refusals change nothing, lost races are rerun.

The races here are real database errors (a unique violation from a row another connection
committed, an UPDATE of a row another connection deleted), not mocks.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.factories import make_team
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
