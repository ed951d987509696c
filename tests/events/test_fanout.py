"""Cross-process fan-out: an event committed anywhere reaches streams on every server process."""
from __future__ import annotations

import os

import httpx
import pytest

from vectorflow import create_app
from vectorflow.extensions import db
from vectorflow.services.events import emit

from .. import factories
from .servers import Gunicorn
from .sse import EventStreamClient

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except Exception:
        return False


def open_streams(servers, token, per_server=2):
    headers = {"Authorization": f"Bearer {token}"}
    streams = [EventStreamClient(s.url("/api/v1/events"), headers) for s in servers
               for _ in range(per_server)]
    for stream in streams:
        assert stream.status_code == 200
        stream.next_block()  # the stream is subscribed once its first bytes arrive
    return streams


def test_a_maintenance_toggle_on_one_process_reaches_streams_on_another(
        app, world, database_url, tmp_path):
    viewer = factories.make_api_token(world.users["VIEWER"])
    admin = factories.make_api_token(world.users["ADMIN"])
    node, node_token = factories.make_node(world.env, "edge-1")
    db.session.commit()
    with Gunicorn(database_url, tmp_path) as one, Gunicorn(database_url, tmp_path) as two:
        dashboards = open_streams([one, two], viewer)
        agents = [EventStreamClient(s.url("/api/agent/push"),
                                    {"Authorization": f"Bearer {node_token}"}) for s in (one, two)]
        try:
            for agent in agents:
                agent.next_block()
            toggled = httpx.post(one.url(f"/api/v1/nodes/{node.id}/maintenance"),
                                 json={"enabled": True, "reason": "kernel patch"},
                                 headers={"Authorization": f"Bearer {admin}"}, timeout=10)
            assert toggled.status_code == 200
            for stream in dashboards:
                typed, scoped = stream.messages(2)
                assert (typed.event, scoped.event) == ("node.maintenance_changed",
                                                       f"node-{node.id}")
                assert typed.json["payload"]["state"] == "entered"
            for agent in agents:
                assert agent.next_message().json == {"type": "config_changed",
                                                     "reason": "maintenance_on"}
        finally:
            for stream in dashboards + agents:
                stream.close()


def test_one_gevent_worker_holding_streams_still_answers_other_requests(
        app, world, database_url, tmp_path):
    token = factories.make_api_token(world.users["VIEWER"])
    with Gunicorn(database_url, tmp_path) as server:
        streams = open_streams([server], token, per_server=50)
        try:
            assert httpx.get(server.url("/login"), timeout=5).status_code == 200
            api = httpx.get(server.url("/api/v1/teams"), timeout=5,
                              headers={"Authorization": f"Bearer {token}"})
            assert api.status_code == 200
        finally:
            for stream in streams:
                stream.close()


@pytest.mark.skipif(not redis_available(), reason=f"no Redis at {REDIS_URL}")
def test_with_redis_configured_the_wake_up_travels_over_redis_pub_sub(
        app, world, database_url, tmp_path):
    token = factories.make_api_token(world.users["VIEWER"])
    publisher = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": REDIS_URL,
                            "SECRET_KEY": "test-secret-key-not-for-production"})
    with Gunicorn(database_url, tmp_path, REDIS_URL=REDIS_URL) as one, \
            Gunicorn(database_url, tmp_path, REDIS_URL=REDIS_URL) as two:
        streams = open_streams([one, two], token)
        try:
            with publisher.app_context():
                ev = emit("pipeline.deployed", team_id=world.team.id,
                          environment_id=world.env.id)
                db.session.commit()  # no NOTIFY with Redis configured: only Redis wakes them
                event_id = ev.id
                db.engine.dispose()
            for stream in streams:
                assert stream.next_message().id == str(event_id)
        finally:
            for stream in streams:
                stream.close()


def next_event(stream, event_type: str):
    """Return the next message of this type on the stream (skipping the scoped copies)."""
    for _ in range(20):
        message = stream.next_message()
        if message.event == event_type:
            return message
    raise AssertionError(f"no {event_type} among the next 20 messages")


@pytest.mark.skipif(not redis_available(), reason=f"no Redis at {REDIS_URL}")
def test_two_servers_sharing_postgresql_and_redis_carry_each_others_events_and_pushes(
        app, world, database_url, tmp_path):
    """The README's "Horizontal" set-up: agents spread over two servers (two hosts)."""
    viewer = factories.make_api_token(world.users["VIEWER"])
    admin = factories.make_api_token(world.users["ADMIN"])
    pipeline = factories.make_pipeline(world.env)
    nodes = [factories.make_node(world.env, f"edge-{n}") for n in (1, 2)]
    db.session.commit()
    with Gunicorn(database_url, tmp_path, REDIS_URL=REDIS_URL) as one, \
            Gunicorn(database_url, tmp_path, REDIS_URL=REDIS_URL) as two:
        dashboards = open_streams([one, two], viewer, per_server=1)
        # Each agent talks to its own server: edge-1 to the first, edge-2 to the second.
        agents = [EventStreamClient(server.url("/api/agent/push"),
                                    {"Authorization": f"Bearer {token}"})
                  for server, (_, token) in zip((one, two), nodes)]
        try:
            for agent in agents:
                agent.next_block()
            # A heartbeat group-committed by the second server reaches both dashboards.
            (node_two, token_two) = nodes[1]
            beat = httpx.post(two.url("/api/agent/heartbeat"), timeout=10,
                              headers={"Authorization": f"Bearer {token_two}"},
                              json={"pipelines": [{"pipelineId": pipeline.id, "version": 1,
                                                   "status": "CRASHED"}]})
            assert beat.status_code == 200
            for stream in dashboards:
                changed = next_event(stream, "node.pipeline_status_changed")
                assert changed.json["nodeId"] == node_two.id
                assert changed.json["payload"]["to"] == "CRASHED"
            # A bulk toggle answered by the first server pushes to the agents of both.
            toggled = httpx.post(one.url("/api/v1/nodes/maintenance"), timeout=10,
                                 json={"nodeIds": [node.id for node, _ in nodes],
                                       "enabled": True, "reason": "kernel patch"},
                                 headers={"Authorization": f"Bearer {admin}"})
            assert toggled.status_code == 200, toggled.text
            for agent in agents:
                assert agent.next_message().json == {"type": "config_changed",
                                                     "reason": "maintenance_on"}
        finally:
            for stream in dashboards + agents:
                stream.close()
