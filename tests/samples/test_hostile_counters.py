"""Whatever numbers heartbeats carry (within what the agent API accepts), the samples stay
writable and every chart value is finite: resets, huge totals, missing keys, time going
backwards."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vectorflow.extensions import db
from vectorflow.schemas.agent import AgentHeartbeat
from vectorflow.schemas.base import InvalidInput, parse_body
from vectorflow.schemas.fields import INT64_MAX
from vectorflow.services import samples

from .. import factories

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NUMBERS = st.one_of(st.none(), st.integers(-INT64_MAX, INT64_MAX),
                    st.floats(-1e30, 1e30, allow_nan=False), st.sampled_from([10**400, "1e400"]))
BEAT = st.fixed_dictionaries({}, optional={
    "eventsIn": NUMBERS, "eventsOut": NUMBERS, "errorsTotal": NUMBERS,
    "cpuSecondsTotal": NUMBERS, "cpuSecondsIdle": NUMBERS, "netRxBytes": NUMBERS,
    "memoryUsedBytes": NUMBERS, "memoryTotalBytes": NUMBERS})
HOST = ("cpuSecondsTotal", "cpuSecondsIdle", "netRxBytes", "memoryUsedBytes", "memoryTotalBytes")


@pytest.fixture
def subject(world):
    node, _ = factories.make_node(world.env, "fuzzed")
    pipeline = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    return node.id, pipeline.id


@settings(max_examples=15, deadline=timedelta(seconds=10), database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(beats=st.lists(st.tuples(BEAT, st.integers(-30, 200)), min_size=1, max_size=6))
def test_any_sequence_of_heartbeats_gives_finite_chart_values(app, subject, beats):
    node_id, pipeline_id = subject
    db.session.execute(samples._NODES.delete())
    db.session.execute(samples._PIPES.delete())
    at = T0
    for numbers, step in beats:
        report = {k: v for k, v in numbers.items() if k not in HOST}
        body = {"pipelines": [{"pipelineId": pipeline_id, "version": 1, "status": "RUNNING",
                               **report}],
                "hostMetrics": {k: v for k, v in numbers.items() if k in HOST}}
        try:
            beat = parse_body(AgentHeartbeat, body)
        except InvalidInput:
            continue  # the agent API answers 400: nothing reaches the samples
        at += timedelta(seconds=step)
        samples.record_batch([(node_id, beat, [pipeline_id])], at)
    end = at + timedelta(hours=1)
    series = [samples.node_series(node_id, "24h", now=end),
              samples.pipeline_series(pipeline_id, "24h", now=end)]
    card = samples.latest_host(node_id) or {}
    values = [v for s in series for key, column in s.items() if isinstance(column, list)
              for v in column if v is not None]
    values += [v for key, v in card.items() if isinstance(v, float)]
    assert all(math.isfinite(v) for v in values)
    db.session.rollback()
