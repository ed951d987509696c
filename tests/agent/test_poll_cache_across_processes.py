"""Every server process drops its cached poll answer when another process commits a change.

A real two-worker server (gunicorn, gevent, the production config) answers the polls; this
test's process commits the changes, as an admin's request to another server of the same
database would. After each change the agents' polls are asked again, many at once on fresh
connections so both workers answer, until a whole round shows the change: a worker that
kept serving its cached answer would never get there (an entry lives 300 s). On PostgreSQL
the wake-up is NOTIFY (the events table's safety-net poll is set to a minute here, so only
the wake-up can deliver in time); on SQLite the feed polls the table every 0.5 s.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from vectorflow.extensions import db
from vectorflow.models import SystemSettings, VectorNode
from vectorflow.services import maintenance
from vectorflow.services import nodes as node_service

from .. import factories
from ..events.servers import Gunicorn

pytestmark = pytest.mark.slow

ROUND = 24           # polls per round, 8 at a time, each on a new connection
SETTLED_WITHIN = 20  # seconds: generous for a loaded CI machine; a stale worker never settles


@pytest.fixture
def server(database_url, tmp_path):
    poll = "60" if database_url.startswith("postgresql") else "0.5"
    with Gunicorn(database_url, tmp_path, workers=2, VECTORFLOW_EVENTS_POLL=poll) as server:
        yield server


def poll_round(server, token: str) -> list[httpx.Response]:
    def one(_):
        with httpx.Client(timeout=10) as http:  # a new connection: either worker may take it
            return http.get(server.url("/api/agent/config"),
                            headers={"Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(ROUND)))


def settles(server, token: str, shows_change) -> float:
    """Poll in rounds until every poll of a round shows the change; return the seconds taken."""
    start = time.monotonic()
    while True:
        answers = poll_round(server, token)
        if all(shows_change(answer) for answer in answers):
            return time.monotonic() - start
        assert time.monotonic() - start < SETTLED_WITHIN, (
            f"after {SETTLED_WITHIN} s some polls still answer the old state: "
            f"{[(a.status_code, a.text[:80]) for a in answers if not shows_change(a)][:3]}")


def pipelines(answer: httpx.Response) -> list[dict] | None:
    return answer.json()["pipelines"] if answer.status_code == 200 else None


def test_changes_committed_elsewhere_reach_every_workers_poll(server, world):
    pipeline = factories.make_pipeline(world.env, "logs")
    first, first_token = factories.make_node(world.env, "first")
    second, second_token = factories.make_node(world.env, "second")
    db.session.commit()
    for token in (first_token, second_token):  # both workers cache both answers
        for _ in range(3):
            assert all(len(pipelines(a) or []) == 1 for a in poll_round(server, token))

    maintenance.set_maintenance(first, True, reason="disk swap", force=True)
    db.session.commit()
    settles(server, first_token, lambda a: pipelines(a) == [])
    assert all(len(pipelines(a) or []) == 1 for a in poll_round(server, second_token))

    factories.add_version(pipeline, factories.SIMPLE_CONFIG.replace("json", "text"))
    db.session.commit()
    settles(server, second_token, lambda a: [p["version"] for p in pipelines(a) or []] == [2])

    maintenance.set_maintenance(db.session.get(VectorNode, first.id), False)
    db.session.commit()
    settles(server, first_token, lambda a: [p["version"] for p in pipelines(a) or []] == [2])

    settings = SystemSettings.get()
    settings.fleet_poll_interval_ms = 45_000
    db.session.merge(settings)
    db.session.commit()
    settles(server, first_token, lambda a: a.status_code == 200
            and a.json()["pollIntervalMs"] == 45_000)

    node_service.revoke_node_token(db.session.get(VectorNode, second.id))
    node_service.delete_node(db.session.get(VectorNode, first.id))
    db.session.commit()
    settles(server, second_token, lambda a: a.status_code == 401)
    settles(server, first_token, lambda a: a.status_code == 401)
