"""GET /api/agent/push: config-change hints for one agent, from the same outbox events."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from vectorflow.agent.push import push_message
from vectorflow.agent.views import push_url
from vectorflow.extensions import db
from vectorflow.live import LiveEvent
from vectorflow.services.maintenance import set_maintenance

from .. import factories
from .conftest import publish


def contract_fixture(name: str):
    """Load a fixture of the agent contract (shared/ sits beside the repository)."""
    for parent in Path(__file__).resolve().parents:
        path = parent / "shared/contracts/agent/v1/fixtures" / name
        if path.exists():
            return json.loads(path.read_text())
    raise FileNotFoundError(f"contract fixture {name} not found beside the repository")


@pytest.fixture
def agent(world):
    node, token = factories.make_node(world.env, "edge-1")
    db.session.commit()
    return node, token


def maintenance(world, node, state):
    return publish("node.maintenance_changed", team_id=world.team.id,
                   environment_id=node.environment_id, node_id=node.id, payload={"state": state})


def test_an_agent_is_told_to_poll_when_its_node_enters_and_leaves_maintenance(server, agent):
    node, token = agent
    stream = server.stream("/api/agent/push", token=token)
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    set_maintenance(node, True, reason="disk swap")
    db.session.commit()
    set_maintenance(node, False)
    db.session.commit()
    assert [m.json for m in stream.messages(2)] == [
        {"type": "config_changed", "reason": "maintenance_on"},
        {"type": "config_changed", "reason": "maintenance_off"},
    ]


def test_push_messages_are_bare_data_lines_the_agent_can_parse(server, world, agent):
    node, token = agent
    stream = server.stream("/api/agent/push", token=token)
    assert stream.next_block().comments == ["connected"]
    maintenance(world, node, "auto_exited")
    stream.next_message()
    line = 'data: {"type":"config_changed","reason":"maintenance_off"}'
    at = stream.raw_lines.index(line)
    assert stream.raw_lines[at + 1] == ""
    # Only data lines and comments: no id, event or retry fields an agent might trip on.
    assert all(ln == "" or ln.startswith((":", "data: ")) for ln in stream.raw_lines)


def test_an_agent_hears_deploys_in_its_environment_and_nothing_about_other_nodes(
        server, world, agent):
    _, token = agent
    other, _ = factories.make_node(world.env, "edge-2")
    db.session.commit()
    stream = server.stream("/api/agent/push", token=token)
    set_maintenance(other, True)
    db.session.commit()
    publish("pipeline.deployed", team_id=world.other_team.id,
            environment_id=world.other_env.id, payload={"pipelineId": "theirs", "version": 1})
    publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id,
            payload={"pipelineId": "pipe-1", "version": 7})
    assert stream.next_message().json == {"type": "config_changed", "pipelineId": "pipe-1",
                                          "reason": "deploy"}


def test_a_pending_self_update_is_pushed_as_an_action(server, world, agent):
    node, token = agent
    stream = server.stream("/api/agent/push", token=token)
    action = {"type": "self_update", "targetVersion": "2.0.1",
              "downloadUrl": "https://updates.example.test/vf-agent", "checksum": "sha256:abc123"}
    publish("node.updated", team_id=world.team.id, environment_id=world.env.id, node_id=node.id,
            payload={"pendingAction": action})
    expected = next(m for m in contract_fixture("push-messages.json")
                    if m["type"] == "action")
    assert stream.next_message().json == expected


def test_deleting_a_node_ends_its_push_stream(server, world, agent):
    node, token = agent
    stream = server.stream("/api/agent/push", token=token)
    publish("node.deleted", team_id=world.team.id, environment_id=world.env.id, node_id=node.id)
    with pytest.raises(EOFError):
        stream.next_message()


@pytest.mark.parametrize("header", [None, "Bearer vf_node_unknown", "Basic abc"])
def test_a_push_stream_needs_a_valid_node_token(server, header):
    stream = server.stream("/api/agent/push", headers={"Authorization": header} if header else {})
    assert stream.status_code == 401
    stream.response.read()
    assert stream.response.json() == {"error": "Unauthorized"}


def live_event(type, node_id=None, **payload):
    return LiveEvent(id=1, type=type, team_id="t", environment_id="e", node_id=node_id,
                     payload=payload, created_at=None)


def test_push_messages_match_the_contract_fixtures():
    deploy = live_event("pipeline.deployed", pipelineId="pipe-1", version=7)
    assert push_message(deploy) == contract_fixture("push-messages.json")[0]


@pytest.mark.parametrize("state", ["drained", "resumed"])
def test_maintenance_progress_reported_by_the_agent_is_not_pushed_back(state):
    assert push_message(live_event("node.maintenance_changed", "n", state=state)) is None


def test_revoking_a_node_token_ends_its_push_stream(server, agent):
    from vectorflow.services.nodes import revoke_node_token

    node, token = agent
    stream = server.stream("/api/agent/push", token=token)
    revoke_node_token(node)
    db.session.commit()
    with pytest.raises(EOFError):
        stream.next_message()


def test_the_push_url_is_absolute_and_prefers_the_public_url(app):
    with app.test_request_context("/api/agent/config", base_url="http://10.0.0.5:5000"):
        assert push_url() == "http://10.0.0.5:5000/api/agent/push"
        app.config["VECTORFLOW_PUBLIC_URL"] = "https://vf.example.com"
        assert push_url() == "https://vf.example.com/api/agent/push"
