"""The payloads of the real agent (shared/contracts/agent/v1/fixtures) through the real endpoints."""
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import (
    DeploymentMode,
    LogLevel,
    NodePipelineStatus,
    NodeStatus,
    ProcessStatus,
    VectorNode,
)

from .. import factories
from .conftest import FIXTURES, load_fixture

JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
              dict: "object", type(None): "null"}


def json_type(value) -> str:
    return JSON_TYPES[type(value)]


def test_every_agent_fixture_this_issue_covers_is_on_disk():
    assert (FIXTURES / "config-response.json").is_file()
    assert (FIXTURES / "heartbeat-request.json").is_file()


def test_the_config_response_has_the_shape_of_the_contract_fixture(agent, world):
    expected = load_fixture("config-response.json")
    factories.make_secret(world.env, "api-token", "redacted")
    factories.make_secret(world.env, "ca-bundle", "-----BEGIN CERTIFICATE-----")
    factories.make_pipeline(
        world.env, "Production Logs", versions=7, log_level=LogLevel.INFO,
        config_yaml="sources:\n  demo:\n    type: demo_logs\n    token: SECRET[api-token]\n"
                    "    tls: {ca_file: 'CERT[ca-bundle]'}\nsinks: {}\n")
    agent.node.pending_action = expected["pendingAction"]
    db.session.commit()

    body = agent.config().get_json()
    # Every key we send is one the agent knows, with the type the agent decodes it into.
    optional_upstream = {"sampleRequests"}  # present only while a sample request is pending
    assert set(body) == set(expected) - optional_upstream
    for key in body:
        assert json_type(body[key]) == json_type(expected[key]), key
    [entry] = body["pipelines"]
    [expected_entry] = expected["pipelines"]
    assert set(entry) == set(expected_entry)
    for key in entry:
        assert json_type(entry[key]) == json_type(expected_entry[key]), key
    assert set(entry["certFiles"][0]) == set(expected_entry["certFiles"][0])
    assert entry["version"] == 7 and entry["logLevel"] == "INFO"
    assert entry["secrets"] == {"VF_SECRET_API_TOKEN": "redacted"}
    assert body["pendingAction"] == expected["pendingAction"]
    assert len(entry["checksum"]) == 64
    assert body["pushUrl"].endswith("/api/agent/push")


def test_the_contract_heartbeat_is_accepted_and_its_effects_are_visible(agent, world,
                                                                        host_card):
    pipeline = factories.make_pipeline(world.env, "Production Logs", versions=7)
    db.session.commit()
    body = load_fixture("heartbeat-request.json")
    body["pipelines"][0]["pipelineId"] = pipeline.id

    response = agent.heartbeat(body)
    assert response.status_code == 200 and response.get_json() == {"ok": True}

    db.session.expire_all()
    node = db.session.get(VectorNode, agent.node.id)
    assert node.status == NodeStatus.HEALTHY
    assert (node.agent_version, node.vector_version) == (body["agentVersion"], body["vectorVersion"])
    assert node.deployment_mode == DeploymentMode.DOCKER and node.running_as == "vectorflow"
    assert node.labels == body["labels"]
    row = db.session.scalar(sa.select(NodePipelineStatus))
    reported = body["pipelines"][0]
    assert (row.pipeline_id, row.version, row.status) == (pipeline.id, 7, ProcessStatus.RUNNING)
    assert (row.events_in, row.events_out, row.errors_total, row.bytes_in, row.bytes_out,
            row.events_discarded, row.pid, row.uptime_seconds) == (
        reported["eventsIn"], reported["eventsOut"], reported["errorsTotal"], reported["bytesIn"],
        reported["bytesOut"], reported["eventsDiscarded"], reported["pid"],
        reported["uptimeSeconds"])
    assert row.utilization == reported["utilization"]
    assert row.recent_logs == reported["recentLogs"]
    assert row.config_checksum == reported["configChecksum"]
    # The host metrics are on the node page's host card (16 GiB, 8 GiB used; 100 GiB disk).
    card = host_card(agent.node.id)
    assert "as of" in card and "load 0.7 / 0.5 / 0.4" in card
    assert "8.0 GiB of 16.0 GiB" in card and "50.0 GiB of 100.0 GiB" in card
    assert "4.0 KiB received, 8.0 KiB sent in total" in card


def test_the_contract_heartbeat_with_a_pipeline_of_another_environment_drops_that_status(agent,
                                                                                        world):
    body = load_fixture("heartbeat-request.json")  # "pipe-1" exists nowhere
    assert agent.heartbeat(body).status_code == 200
    assert db.session.scalars(sa.select(NodePipelineStatus)).all() == []
