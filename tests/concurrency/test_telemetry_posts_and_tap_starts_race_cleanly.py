"""Agent telemetry under parallel requests on a real two-worker server (PostgreSQL).

Many agents posting log batches at once lose no line and never get a 5xx; two nodes
answering one sample request at once both count (no lost update); a burst of tap starts on
one node gets exactly the per-node limit of 200s and 409s for the rest.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import LogLine, SampleRequest, Tap, TapStatus
from vectorflow.services import telemetry
from vectorflow.services.actors import Actor

from .. import factories
from .races import fire, http_client, statuses

pytestmark = pytest.mark.slow

CONFIG = ("sources:\n  demo:\n    type: demo_logs\n    format: json\nsinks:\n  out:\n"
          "    type: console\n    inputs: [demo]\n    encoding: {codec: json}\n")


def signed_in(base_url: str, email: str):
    """An httpx client signed in through the login form, and a CSRF token for its forms."""
    http = http_client(base_url)
    token = re.search(r'name="csrf-token" content="([^"]+)"', http.get("/login").text).group(1)
    assert http.post("/login", data={"email": email, "password": factories.PASSWORD,
                                     "csrf_token": token}).status_code == 302
    page = http.get("/")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    return http, token


def test_parallel_log_posts_from_many_agents_keep_every_line(world, enroll_agents):
    pipeline = factories.make_pipeline(world.env, "logs", CONFIG)
    db.session.commit()
    agents = enroll_agents(world.env, 4, prefix="chatty")
    pipeline_id = pipeline.id  # read here: the threads below have no app context
    calls = [
        (lambda a=agent, n=n: a.http.post("/api/agent/logs", headers=a.auth, json=[{
            "pipelineId": pipeline_id,
            "lines": [f"2026-05-03T15:00:00Z INFO {a.node_id} post {n} line {i}"
                      for i in range(25)]}]))
        for agent in agents for n in range(8)]
    assert statuses(fire(calls)) == {200: len(calls)}
    db.session.rollback()
    for agent in agents:
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LogLine).where(
            LogLine.node_id == agent.node_id)) == 8 * 25


def test_two_nodes_answering_one_sample_at_once_both_count(world, enroll_agents):
    pipeline = factories.make_pipeline(world.env, "logs", CONFIG)
    db.session.commit()
    agents = enroll_agents(world.env, 6, prefix="sampler")
    request = telemetry.request_sample(pipeline, "demo", 5, Actor.cli())
    db.session.commit()
    body = {"results": [{"requestId": request.id, "componentKey": "demo",
                         "events": [{"message": "hello"}],
                         "schema": [{"path": "message", "type": "string", "sample": "hello"}]}]}
    calls = [lambda a=agent: a.http.post("/api/agent/samples", headers=a.auth, json=body)
             for agent in agents]
    assert statuses(fire(calls)) == {200: len(agents)}
    db.session.expire_all()
    results = db.session.get(SampleRequest, request.id).results
    assert sorted(r["nodeId"] for r in results) == sorted(a.node_id for a in agents)


def test_a_burst_of_tap_starts_on_one_node_gets_exactly_the_limit(world, enroll_agents,
                                                                  base_url):
    pipeline = factories.make_pipeline(world.env, "logs", CONFIG)
    db.session.commit()
    [agent] = enroll_agents(world.env, 1, prefix="tapped")
    http, csrf = signed_in(base_url, world.users["EDITOR"].email)
    url = f"/pipelines/{pipeline.id}/taps"
    try:
        calls = [lambda: http.post(url, data={
            "csrf_token": csrf, "node_id": agent.node_id, "component_id": "demo"})] * 12
        answers = statuses(fire(calls))
    finally:
        http.close()
    limit = telemetry.DEFAULTS["VECTORFLOW_TAPS_PER_NODE"]
    assert answers == {200: limit, 409: 12 - limit}
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Tap).where(
        Tap.status == TapStatus.ACTIVE)) == limit
