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


def insert_periods(rows: list[tuple[int, str, str]]) -> None:
    with db.engine.begin() as conn:
        for period_id, node_id, entered_at in rows:
            conn.execute(sa.text(
                "INSERT INTO maintenance_periods (id, node_id, entered_at, entered_by_label)"
                " VALUES (:id, :node, :at, 'admin')"), {"id": period_id, "node": node_id, "at": entered_at})


def open_period_ids() -> dict[int, tuple]:
    with db.engine.connect() as conn:
        return {row.id: (row.node_id, row.left_at is None, row.exit_kind)
                for row in conn.execute(sa.text(
                    "SELECT id, node_id, left_at, exit_kind FROM maintenance_periods"))}


def test_the_open_period_migration_repairs_duplicates_and_then_refuses_them(empty_database,
                                                                          tmp_path):
    app = _app_for(empty_database, tmp_path / "instance")
    with app.app_context():
        upgrade(revision="0003")
        insert_node_at_0001()  # n1, out of maintenance
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO vector_nodes (id, environment_id, name, host, status, deployment_mode,"
                " labels, created_at, maintenance_mode) VALUES ('n2', 'e1', 'busy', 'busy',"
                " 'HEALTHY', 'UNKNOWN', '{}', '2026-01-01 00:00:00', :on)"), {"on": True})
        # What racing requests left behind: three open periods on n2, one on n1 (not in
        # maintenance any more), and a closed one that must stay as it is.
        insert_periods([(1, "n2", "2026-02-01 10:00:00"), (2, "n2", "2026-02-01 10:00:01"),
                        (3, "n2", "2026-02-01 10:00:02"), (4, "n1", "2026-02-01 09:00:00")])
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE maintenance_periods SET left_at = '2026-02-01 09:30:00',"
                                 " exit_kind = 'MANUAL' WHERE id = 4"))
        insert_periods([(5, "n1", "2026-02-02 09:00:00")])

        upgrade(revision="0004")
        periods = open_period_ids()
        assert {pid for pid, (_, is_open, _) in periods.items() if is_open} == {3}
        assert periods[1][2] == periods[2][2] == periods[5][2] == "AUTO"
        assert periods[4][2] == "MANUAL"
        with db.engine.connect() as conn:
            closed_at = conn.execute(sa.text(
                "SELECT left_at FROM maintenance_periods WHERE id IN (1, 2)")).scalars().all()
            newest_entered = conn.execute(sa.text(
                "SELECT entered_at FROM maintenance_periods WHERE id = 3")).scalar_one()
        assert closed_at == [newest_entered, newest_entered]

        with pytest.raises(sa.exc.IntegrityError):
            insert_periods([(6, "n2", "2026-02-03 10:00:00")])

        downgrade(revision="0003")
        insert_periods([(6, "n2", "2026-02-03 10:00:00")])  # the index is gone again
        db.engine.dispose()
