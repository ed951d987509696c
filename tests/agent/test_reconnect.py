"""Agents keep working when PostgreSQL drops the server's pooled connections (a restart, an
idle timeout): connections are not pinged on checkout, the request runs again on a new one."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import VectorNode

from ..conftest import pg_admin_url


def drop_every_connection_to(database: str) -> int:
    """Terminate every server backend connected to ``database``; return how many there were."""
    admin = sa.create_engine(pg_admin_url().replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with admin.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": database}).scalar()
    finally:
        admin.dispose()


@pytest.fixture
def postgresql_only(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server connection to lose")


@pytest.mark.usefixtures("postgresql_only")
def test_a_poll_and_a_heartbeat_succeed_after_the_database_dropped_every_connection(agent):
    assert agent.config().status_code == 200
    db.session.rollback()
    assert drop_every_connection_to(db.engine.url.database) >= 1

    assert agent.config().status_code == 200
    assert agent.heartbeat({"pipelines": [], "agentVersion": "9.9.9"}).status_code == 200

    db.session.rollback()  # the test's own connection was dropped too
    assert db.session.get(VectorNode, agent.node.id).agent_version == "9.9.9"
