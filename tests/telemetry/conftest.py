"""Fixtures for agent telemetry: enrolled agents (as in tests/agent), a deployed pipeline
whose component keys the contract fixtures name, and the live server of tests/events."""
from __future__ import annotations

import pytest

from vectorflow.extensions import db

from .. import factories
from ..agent.conftest import Agent, agent, load_fixture, make_agent  # noqa: F401  (fixtures)
from ..api.conftest import api, api_tokens  # noqa: F401  (fixtures)
from ..events.conftest import LiveServer, broker, session_cookie  # noqa: F401  (fixtures)

# The contract fixtures sample and tap the component "demo".
DEMO_CONFIG = """\
sources:
  demo:
    type: demo_logs
    format: json
sinks:
  out:
    type: console
    inputs: [demo]
    encoding: {codec: json}
"""


@pytest.fixture
def pipeline(world):
    """A deployed pipeline of the world's environment with the components demo and out."""
    pipe = factories.make_pipeline(world.env, "Production Logs", DEMO_CONFIG)
    db.session.commit()
    return pipe


def as_in_fixture(name: str, pipeline_id: str, **replace):
    """Return a contract fixture with its pipelineId (``pipe-1``) pointed at a real pipeline."""
    body = load_fixture(name)
    items = body if isinstance(body, list) else [body]
    for item in items:
        if "pipelineId" in item:
            item["pipelineId"] = pipeline_id
        item.update(replace)
    return body


@pytest.fixture
def server(app, broker):  # noqa: F811
    """A real threaded server; the tail hub reads every 0.1 s and streams keep alive 0.3 s."""
    app.config.update(VECTORFLOW_TAIL_POLL=0.1)
    srv = LiveServer(app)
    yield srv
    broker.shutdown()
    app.extensions["vectorflow.tails"].shutdown()
    srv.stop()
