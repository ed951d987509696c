"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

import sqlalchemy as sa


def pending_diff(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_migrated_schema_matches_the_models(app, db):
    assert pending_diff(db) == []


def test_migrations_downgrade_to_nothing_and_upgrade_again(app, db):
    downgrade(revision="base")
    db.engine.dispose()
    tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade()
    db.engine.dispose()
    assert pending_diff(db) == []


def test_timestamps_come_back_timezone_aware(app, db):
    from tests.factories import make_team

    team = make_team("Clocks")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(type(team), team.id).created_at.tzinfo is not None
