"""Hostile agent bodies get a 400 naming the field and change nothing (issue 16).

Lone surrogates and NUL characters cannot be stored (PostgreSQL text holds no NUL) or shown
(a page cannot encode a lone surrogate); numbers must fit their columns; a hostname must
say something. Each case is a real body a client could send, JSON-escaped as on the wire.
"""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from vectorflow.models import (
    AuditLog,
    Event,
    NodePipelineStatus,
    VectorNode,
)
from vectorflow.services.samples import latest_host

from .. import factories
from ..factories import db

SURROGATE = "\ud800"
NUL = "a\x00b"
HUGE = 10**400


def post(client, path: str, body, headers=None, raw: str | None = None):
    data = raw if raw is not None else json.dumps(body)  # "\ud800" goes out as an escape
    return client.post(path, data=data, content_type="application/json", headers=headers or {})


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    payload = response.get_json()
    assert payload["error"] == "Invalid input"
    assert field in payload["details"], payload


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize("change, field", [
    ({"token": SURROGATE}, "token"),
    ({"hostname": SURROGATE}, "hostname"),
    ({"os": SURROGATE}, "os"),
    ({"agentVersion": SURROGATE}, "agentVersion"),
    ({"vectorVersion": SURROGATE}, "vectorVersion"),
    ({"token": NUL}, "token"),
    ({"hostname": NUL}, "hostname"),
    ({"os": NUL}, "os"),
    ({"agentVersion": NUL}, "agentVersion"),
    ({"vectorVersion": NUL}, "vectorVersion"),
    ({"labels": {"region": SURROGATE}}, "labels.region"),
    ({"labels": {"region": NUL}}, "labels.region"),
    ({"hostname": "   "}, "hostname"),
    ({"hostname": "\t\n"}, "hostname"),
])
def test_a_hostile_enrollment_is_a_400_naming_the_field(client, enrollment_token, change, field):
    before = count(AuditLog), count(Event)
    body = {"token": enrollment_token, "hostname": "web-1", **change}
    assert_refused(post(client, "/api/agent/enroll", body), field)
    assert count(VectorNode) == 0 and (count(AuditLog), count(Event)) == before


def test_a_label_name_with_a_lone_surrogate_is_refused_and_named_printably(client,
                                                                        enrollment_token):
    body = {"token": enrollment_token, "hostname": "web-1", "labels": {SURROGATE: "x"}}
    response = post(client, "/api/agent/enroll", body)
    assert response.status_code == 400
    [path] = response.get_json()["details"]
    assert path.startswith("labels.")
    response.get_data().decode("utf-8")  # the answer itself is valid UTF-8
    assert count(VectorNode) == 0


def test_a_hostname_is_trimmed(client, enrollment_token):
    response = post(client, "/api/agent/enroll", {"token": enrollment_token,
                                                  "hostname": "  web-1.internal \n"})
    assert response.status_code == 200
    assert db.session.get(VectorNode, response.get_json()["nodeId"]).name == "web-1.internal"


def status(pipeline_id, **extra):
    return {"pipelineId": pipeline_id, "version": 1, "status": "RUNNING", **extra}


@pytest.fixture
def reporting(world, agent):
    """An agent whose node runs one pipeline, with what it last reported."""
    pipeline = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    assert agent.heartbeat({"pipelines": [status(pipeline.id, eventsIn=1)],
                            "hostMetrics": {"netRxBytes": 1, "netTxBytes": 2},
                            "agentVersion": "2.0.0"}
                           ).status_code == 200
    return agent, pipeline


def snapshot(node_id) -> tuple:
    db.session.expire_all()
    node = db.session.get(VectorNode, node_id)
    statuses = db.session.scalars(sa.select(NodePipelineStatus)).all()
    host = latest_host(node_id)  # the node page's host card
    return (node.last_heartbeat, node.agent_version, node.os, node.running_as, node.labels,
            node.last_update_error, [(s.events_in, s.utilization, s.config_checksum)
                                     for s in statuses], host, count(Event))


HEARTBEAT_CASES = [
    ({"agentVersion": NUL}, "agentVersion"),
    ({"vectorVersion": NUL}, "vectorVersion"),
    ({"runningAs": NUL}, "runningAs"),
    ({"updateError": NUL}, "updateError"),
    ({"agentVersion": SURROGATE}, "agentVersion"),
    ({"updateError": SURROGATE}, "updateError"),
    ({"labels": {"role": SURROGATE}}, "labels.role"),
    ({"labels": {"role": NUL}}, "labels.role"),
    ({"hostMetrics": {"netRxBytes": HUGE}}, "hostMetrics.netRxBytes"),
    ({"hostMetrics": {"netRxBytes": -HUGE}}, "hostMetrics.netRxBytes"),
    ({"hostMetrics": {"memoryUsedBytes": 2**63}}, "hostMetrics.memoryUsedBytes"),
]
STATUS_CASES = [
    ({"pipelineId": NUL}, "pipelines[0].pipelineId"),
    ({"pipelineId": SURROGATE}, "pipelines[0].pipelineId"),
    ({"configChecksum": NUL}, "pipelines[0].configChecksum"),
    ({"utilization": HUGE}, "pipelines[0].utilization"),
    ({"eventsIn": HUGE}, "pipelines[0].eventsIn"),
    ({"bytesOut": 2**63}, "pipelines[0].bytesOut"),
    ({"pid": 2**31}, "pipelines[0].pid"),
    ({"version": HUGE}, "pipelines[0].version"),
    ({"uptimeSeconds": 1e300}, "pipelines[0].uptimeSeconds"),
]


@pytest.mark.parametrize("change, field", HEARTBEAT_CASES)
def test_a_hostile_heartbeat_is_a_400_naming_the_field_and_changes_nothing(reporting, change,
                                                                           field):
    agent, pipeline = reporting
    before = snapshot(agent.node.id)
    response = post(agent.client, "/api/agent/heartbeat",
                    {"pipelines": [status(pipeline.id, eventsIn=2)], **change}, agent.headers)
    assert_refused(response, field)
    assert snapshot(agent.node.id) == before


@pytest.mark.parametrize("change, field", STATUS_CASES)
def test_a_hostile_pipeline_status_is_a_400_naming_the_field_and_changes_nothing(reporting,
                                                                                 change, field):
    agent, pipeline = reporting
    before = snapshot(agent.node.id)
    response = post(agent.client, "/api/agent/heartbeat",
                    {"pipelines": [status(pipeline.id, **{"eventsIn": 2, **change})]},
                    agent.headers)
    assert_refused(response, field)
    assert snapshot(agent.node.id) == before


# NaN and Infinity are not JSON: the parser refuses them (naming the body) before any field.
@pytest.mark.parametrize("raw, field", [
    ('{"pipelines": [], "hostMetrics": {"netRxBytes": 1e400}}', "hostMetrics.netRxBytes"),
    ('{"pipelines": [], "hostMetrics": {"loadAvg1": NaN}}', "body"),
    (('{"pipelines": [{"pipelineId": "p", "version": 1, "status": "RUNNING", '
      '"utilization": Infinity}]}'), "body"),
])
def test_numbers_that_are_not_finite_are_refused(reporting, raw, field):
    agent, _ = reporting
    before = snapshot(agent.node.id)
    assert_refused(post(agent.client, "/api/agent/heartbeat", None, agent.headers, raw=raw), field)
    assert snapshot(agent.node.id) == before


def test_recent_log_lines_are_kept_printable_rather_than_refused(reporting):
    # A log tail is only shown: a NUL or a lone surrogate in Vector's output must not cost
    # the node its heartbeat (and its liveness).
    agent, pipeline = reporting
    response = post(agent.client, "/api/agent/heartbeat", {"pipelines": [
        status(pipeline.id, recentLogs=[NUL, SURROGATE + "x", "fine"])]}, agent.headers)
    assert response.status_code == 200
    [row] = db.session.scalars(sa.select(NodePipelineStatus)).all()
    db.session.refresh(row)
    assert row.recent_logs[2] == "fine"
    for line in row.recent_logs:
        assert "\x00" not in line
        line.encode("utf-8")


def test_the_node_page_renders_after_the_hostile_heartbeats(reporting, client, login_as):
    agent, _ = reporting
    for change, _ in HEARTBEAT_CASES:
        post(agent.client, "/api/agent/heartbeat", {"pipelines": [], **change}, agent.headers)
    login_as("VIEWER")
    assert client.get(f"/nodes/{agent.node.id}").status_code == 200
    assert client.get("/").status_code == 200
