"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Each backend has one database per test session, built by the real migrations (the
PostgreSQL one uniquely named, so parallel runs do not collide), and one app bound to it;
every table is emptied after each test.
"""
from __future__ import annotations

import contextvars
import os
import re
import uuid
from pathlib import Path

import psycopg
import pytest
from flask import has_app_context
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
    _APPS.pop(uri, None)


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory) -> str:
    """A migrated SQLite database file for this test session."""
    base = tmp_path_factory.mktemp("sqlite")
    url = f"sqlite:///{base / 'vectorflow.db'}"
    migrate_to_head(url, base)
    return url


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


def empty_all_tables(engine) -> None:
    """Delete every row (schema and alembic_version stay), so the next test starts clean.

    DELETE is several times faster than TRUNCATE for the handful of rows a test writes.
    Ids are not reset, so tests must not depend on particular id values.
    """
    with engine.begin() as conn:
        for table in reversed(_db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def database_url(request):
    """The URL of the migrated database of this backend (emptied after every test)."""
    fixture = "sqlite_database" if request.param == "sqlite" else "pg_database"
    return request.getfixturevalue(fixture)


_APPS: dict[str, object] = {}


def session_app(url: str, instance: Path):
    """One app per database for the whole session: building the URL map costs ~100 ms."""
    if url not in _APPS:
        app = _app_for(url, instance)
        app.test_client_class = Client
        _APPS[url] = app
    return _APPS[url]


class Client(FlaskClient):
    """A test client whose requests run as in production: each in a context of its own (its own
    ``g`` and database session), seeing what the test committed. It can submit forms with a
    valid CSRF token."""

    def open(self, *args, **kwargs):
        in_test_context = has_app_context()
        if in_test_context:
            _db.session.commit()  # what the test set up is there for the request
        # An empty context: Flask pushes a fresh app context (g, session) for the request.
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if in_test_context:
            _db.session.expire_all()  # the test reads what the request changed
        return response

    def forget_cookies(self) -> None:
        """Drop the session and remember-me cookies, as a fresh browser would have none."""
        config = self.application.config
        for name in (config["SESSION_COOKIE_NAME"], config.get("REMEMBER_COOKIE_NAME", "remember_token")):
            self.delete_cookie(name, domain=config["SERVER_NAME"])

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
def app(database_url, tmp_path_factory):
    """The app on a clean database; config changes and cached state are undone afterwards."""
    app = session_app(database_url, tmp_path_factory.getbasetemp() / "instance")
    saved_config = dict(app.config)
    with app.app_context():
        yield app
        _db.session.remove()
        empty_all_tables(_db.engine)
    app.config.clear()
    app.config.update(saved_config)
    # Services that cache per-process state (the event hub, config caches) expose reset().
    for extension in list(app.extensions.values()):
        reset = getattr(extension, "reset_for_tests", None)
        if callable(reset):
            reset()


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


def sign_in(client, email: str, password: str = factories.PASSWORD, **form):
    """Submit the login form as a browser would; return the response."""
    return client.submit("/login", {"email": email, "password": password, **form})


@pytest.fixture
def login_as(client, world):
    """Sign the test client in through the login form as a user of the given kind ('VIEWER',
    'superadmin', 'outsider'...) or as the given user."""

    def login(who):
        user = world.users[who] if isinstance(who, str) else who
        client.forget_cookies()  # as a fresh browser: signed in as nobody yet
        response = sign_in(client, user.email)
        assert response.status_code == 302, f"signing in as {user.email} failed"
        return user

    return login
