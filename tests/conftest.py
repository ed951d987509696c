"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Each test gets a clean database built by the real migrations: SQLite tests copy a
migrated template file; PostgreSQL tests share one migrated database per session
(named uniquely, so parallel runs do not collide) that is truncated after each test.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from vectorflow import create_app
from vectorflow.extensions import db as _db

from . import factories

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def pg_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)


def _app_for(uri: str, instance: Path, **extra):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": uri,
        "VECTORFLOW_SWEEP_INTERVAL": 0,
        "SERVER_NAME": "vectorflow.test",
    }
    config.update(extra)
    os.environ["VECTORFLOW_INSTANCE_PATH"] = str(instance)
    return create_app(config)


def migrate_to_head(uri: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = _app_for(uri, instance)
    with app.app_context():
        upgrade()
        _db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("sqlite-template")
    path = base / "template.db"
    migrate_to_head(f"sqlite:///{path}", base)
    return path


@pytest.fixture(scope="session")
def pg_database(tmp_path_factory):
    """A freshly migrated PostgreSQL database for this test session; dropped at the end."""
    admin = pg_admin_url()
    name = f"vf_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as err:
        pytest.exit(f"PostgreSQL is required for the test suite ({admin}): {err}", returncode=3)
    url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + "/" + name
    migrate_to_head(url, tmp_path_factory.mktemp("pg-instance"))
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate_all(engine) -> None:
    with engine.begin() as conn:
        tables = [t.name for t in _db.metadata.sorted_tables]
        conn.execute(sa.text(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        ))


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """The URL of a clean, migrated database (one per test), on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "vectorflow.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        yield url
        engine = sa.create_engine(url)
        truncate_all(engine)
        engine.dispose()


class Client(FlaskClient):
    """A test client that can submit forms with a valid CSRF token."""

    def csrf_token(self) -> str:
        page = self.get("/login", follow_redirects=True).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def submit(self, url: str, data: dict | None = None, **kwargs):
        """POST a form the way a browser would, CSRF token included."""
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)


@pytest.fixture
def app(database_url, tmp_path):
    app = _app_for(database_url, tmp_path / "instance")
    app.test_client_class = Client
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def world(db):
    """Two teams with an environment each and a user of every role in the first."""
    return factories.make_world()


@pytest.fixture
def login_as(client, world):
    """Log the test client in as a user of the given kind ('VIEWER', 'superadmin', 'outsider'...)."""

    def login(who: str):
        user = world.users[who]
        with client.session_transaction() as session:
            session["_user_id"] = user.id
            session["_fresh"] = True
        return user

    return login
