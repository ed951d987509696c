"""The maintenance migration applies, keeps existing nodes out of maintenance, and reverts."""
from __future__ import annotations

import uuid

import psycopg
import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.conftest import _app_for, pg_admin_url
from vectorflow.extensions import db

NODE_COLUMNS = {"maintenance_mode", "maintenance_mode_at", "maintenance_reason",
                "maintenance_by_label", "maintenance_by_id", "maintenance_until",
                "drain_state", "drained_at"}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrate.db"
        return
    admin = pg_admin_url()
    name = f"vf_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(db.engine).get_columns(table)}


def insert_node_at_0001() -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO teams (id, name, created_at) VALUES ('t1', 'T', :now)"),
                     {"now": "2026-01-01 00:00:00"})
        conn.execute(sa.text(
            "INSERT INTO environments (id, team_id, name, secret_backend, secret_backend_config, created_at)"
            " VALUES ('e1', 't1', 'prod', 'BUILTIN', '{}', :now)"), {"now": "2026-01-01 00:00:00"})
        conn.execute(sa.text(
            "INSERT INTO vector_nodes (id, environment_id, name, host, status, deployment_mode, labels, created_at)"
            " VALUES ('n1', 'e1', 'old-node', 'old', 'HEALTHY', 'UNKNOWN', '{}', :now)"),
            {"now": "2026-01-01 00:00:00"})


def test_migration_adds_the_columns_and_downgrades_cleanly(empty_database, tmp_path):
    app = _app_for(empty_database, tmp_path / "instance")
    with app.app_context():
        upgrade(revision="0001")
        insert_node_at_0001()

        upgrade(revision="0002")
        assert NODE_COLUMNS <= columns("vector_nodes")
        assert "maintenance_periods" in sa.inspect(db.engine).get_table_names()
        indexes = {i["name"] for i in sa.inspect(db.engine).get_indexes("vector_nodes")}
        assert "ix_vector_nodes_maintenance_until" in indexes
        with db.engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT maintenance_mode, maintenance_mode_at FROM vector_nodes WHERE id = 'n1'")).one()
        assert not row.maintenance_mode and row.maintenance_mode_at is None

        downgrade(revision="0001")
        assert not NODE_COLUMNS & columns("vector_nodes")
        assert "maintenance_periods" not in sa.inspect(db.engine).get_table_names()
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM vector_nodes")).scalar_one() == "old-node"

        upgrade()
        assert NODE_COLUMNS <= columns("vector_nodes")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text(
                "SELECT maintenance_mode FROM vector_nodes WHERE id = 'n1'")).scalar_one() in (False, 0)
        db.engine.dispose()
