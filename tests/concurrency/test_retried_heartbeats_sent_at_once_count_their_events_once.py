"""Chart samples under parallel heartbeats: an agent's retries, arriving all at once on two
workers, count its events once (no lost update, no duplicate bucket row, no 5xx).

Each node first reports a baseline total, then the same higher total eight times at once (as
retries of one heartbeat would); the samples must hold exactly the difference.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import NodeSample, PipelineSample

from .. import factories
from .races import fire, statuses

pytestmark = pytest.mark.slow

BASELINE, TOTAL, RETRIES = 1_000, 61_000, 8


def body(pipeline_id: str, total: int) -> dict:
    return {"pipelines": [{"pipelineId": pipeline_id, "version": 1, "status": "RUNNING",
                           "eventsIn": total, "eventsOut": total, "errorsTotal": 0}],
            "hostMetrics": {"cpuSecondsTotal": total, "cpuSecondsIdle": total / 2,
                            "netRxBytes": total}}


def test_retried_heartbeats_at_once_add_their_events_once(world, enroll_agents, agent_http):
    logs = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    pipeline_id = logs.id  # read here: the threads below have no app context
    agents = enroll_agents(world.env, 6, prefix="retry")

    def send(agent, total):
        return lambda: agent_http.post("/api/agent/heartbeat", headers=agent.auth,
                                       json=body(pipeline_id, total))

    assert statuses(fire([send(a, BASELINE) for a in agents])) == {200: len(agents)}
    responses = fire([send(a, TOTAL) for a in agents for _ in range(RETRIES)])
    assert statuses(responses) == {200: len(agents) * RETRIES}

    db.session.expire_all()
    for agent in agents:
        nodes = db.session.execute(
            sa.select(sa.func.sum(NodeSample.events_in), sa.func.sum(NodeSample.net_rx))
            .where(NodeSample.node_id == agent.node_id)).one()
        assert nodes == (TOTAL - BASELINE, TOTAL - BASELINE), agent.node_id
        pipes = db.session.scalar(sa.select(sa.func.sum(PipelineSample.events_in))
                                  .where(PipelineSample.node_id == agent.node_id))
        assert pipes == TOTAL - BASELINE, agent.node_id
