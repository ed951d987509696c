"""Fixtures for the concurrency suite: one real two-worker server on PostgreSQL for the package.

The server (gunicorn with the production config, gevent workers, the sweeps running) lives
for the whole package and serves the session's migrated PostgreSQL database; each test seeds
through the test app (``world``, factories) and the root conftest empties the tables after.
The server's access log is on, so a 5xx answered to anyone (simulated agents included) shows
in the log, which every test checks at its end.
"""
from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import Role

from .. import factories
from ..conftest import empty_all_tables
from ..events.servers import Gunicorn
from .races import Agent, Api, enroll, fire, http_client, log_problems


@pytest.fixture
def database_url(pg_database):
    """PostgreSQL only: SQLite's single writer serialises every race away."""
    return pg_database


@pytest.fixture(scope="package")
def server(pg_database, tmp_path_factory):
    """``gunicorn -c gunicorn.conf.py`` with two gevent workers, access log on."""
    with Gunicorn(pg_database, tmp_path_factory.mktemp("concurrency-server"), workers=2,
                  VECTORFLOW_ACCESS_LOG="-") as server:
        with http_client(server.url("")) as http:  # let both workers take connections
            fire([lambda: http.get("/login")] * 16)
        yield server


@pytest.fixture(autouse=True)
def server_log_stays_clean(server):
    """Fail the test if the server answered a 5xx or logged a traceback while it ran."""
    start = server.log.stat().st_size
    yield
    with open(server.log, "rb") as log:
        log.seek(start)
        problems = log_problems(log.read().decode(errors="replace"))
    assert not problems, "the server log shows:\n  " + "\n  ".join(problems)


@pytest.fixture(autouse=True)
def tables_emptied_despite_the_sweeps(app):
    """Empty the tables before the root ``app`` fixture does, retrying a deadlock: the live
    server's sweeps may be writing the same rows meanwhile."""
    yield
    db.session.remove()
    for attempt in range(5):
        try:
            empty_all_tables(db.engine)
            return
        except sa.exc.OperationalError:
            if attempt == 4:
                raise


@pytest.fixture
def base_url(server) -> str:
    return server.url("")


@pytest.fixture
def agent_http(base_url):
    with http_client(base_url) as http:
        yield http


def _api(base_url, user, clients: list) -> Api:
    http = http_client(base_url, Authorization=f"Bearer {factories.make_api_token(user)}")
    clients.append(http)
    return Api(http)


@pytest.fixture
def apis(world, base_url):
    """REST callers: the first team's ADMIN (``admin``) and the superadmin (``root``)."""
    clients: list[httpx.Client] = []
    yield {"admin": _api(base_url, world.users[Role.ADMIN.name], clients),
           "root": _api(base_url, world.users["superadmin"], clients)}
    for http in clients:
        http.close()


@pytest.fixture
def admin(apis) -> Api:
    return apis["admin"]


@pytest.fixture
def enroll_agents(admin, agent_http):
    """Enroll ``count`` nodes in an environment through the agent API; return their agents."""

    def enroll_in(env, count: int, prefix: str = "node") -> list[Agent]:
        token = admin.enrollment_token(env.id)
        return [enroll(agent_http, token, f"{prefix}-{n}") for n in range(1, count + 1)]

    return enroll_in
