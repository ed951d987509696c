"""What an agent sees: a node in maintenance gets no pipelines and everything else unchanged."""
from __future__ import annotations

from tests.factories import make_environment, make_pipeline
from tests.maintenance.conftest import count_queries
from vectorflow.extensions import db
from vectorflow.models import DrainState, SecretBackend, SystemSettings
from vectorflow.services.actors import Actor
from vectorflow.services.maintenance import history, set_maintenance

ALICE = Actor("user", "u-alice", "alice@example.com")
SELF_UPDATE = {"type": "self_update", "targetVersion": "2.1.0",
               "downloadUrl": "https://releases.example/vf-agent-linux-amd64",
               "checksum": "sha256:" + "ab" * 32}


def toggle(node, enabled: bool) -> None:
    set_maintenance(node, enabled, force=True, actor=ALICE)
    db.session.commit()


def running(config: dict) -> list[str]:
    return sorted(p["pipelineName"] for p in config["pipelines"])


def test_an_agent_in_maintenance_gets_no_pipelines_and_gets_them_back_after(make_agent, world, api):
    make_pipeline(world.env, "logs")
    make_pipeline(world.env, "metrics")
    agent = make_agent("edge-1")
    bystander = make_agent("edge-2")
    assert running(agent.config().get_json()) == ["logs", "metrics"]

    response = api.post(f"/api/v1/nodes/{agent.node.id}/maintenance", "ADMIN",
                        json={"enabled": True, "force": True})
    assert response.status_code == 200
    assert agent.config().get_json()["pipelines"] == []
    assert running(bystander.config().get_json()) == ["logs", "metrics"]  # no effect on others

    api.post(f"/api/v1/nodes/{agent.node.id}/maintenance", "ADMIN", json={"enabled": False})
    assert running(agent.config().get_json()) == ["logs", "metrics"]


def test_pending_action_is_delivered_during_maintenance(make_agent, world):
    make_pipeline(world.env, "logs")
    agent = make_agent("edge-1", pending_action=SELF_UPDATE)
    toggle(agent.node, True)
    config = agent.config().get_json()
    assert config["pipelines"] == [] and config["pendingAction"] == SELF_UPDATE


def test_poll_interval_and_builtin_backend_are_unchanged_by_maintenance(make_agent, world):
    settings = SystemSettings.get()
    settings.fleet_poll_interval_ms = 7000
    db.session.add(settings)
    make_pipeline(world.env, "logs")
    agent = make_agent("edge-1")
    before = agent.config().get_json()
    toggle(agent.node, True)
    during = agent.config().get_json()
    assert during == {**before, "pipelines": []}
    assert during["pollIntervalMs"] == 7000 and during["secretBackend"] == "BUILTIN"
    assert "secretBackendConfig" not in during


def test_a_vault_environment_keeps_its_backend_config_in_maintenance(make_agent, world):
    vault = make_environment(world.team, "vaulted", secret_backend=SecretBackend.VAULT,
                             secret_backend_config={"address": "https://vault.internal:8200",
                                                    "mount": "secret", "authMethod": "approle"})
    make_pipeline(vault, "logs")
    agent = make_agent("edge-v", env=vault, pending_action=SELF_UPDATE)
    before = agent.config().get_json()
    toggle(agent.node, True)
    during = agent.config().get_json()
    assert during == {**before, "pipelines": []}
    assert during["secretBackend"] == "VAULT"
    assert during["secretBackendConfig"] == {"address": "https://vault.internal:8200",
                                             "mount": "secret", "authMethod": "approle"}
    assert during["pendingAction"] == SELF_UPDATE


def test_a_poll_in_maintenance_writes_nothing(make_agent, world):
    make_pipeline(world.env, "logs")
    agent = make_agent("edge-1")
    toggle(agent.node, True)
    with count_queries() as queries:
        assert agent.config().status_code == 200
    assert queries.writes == []


def test_drain_and_resume_follow_real_heartbeats(make_agent, world):
    logs = make_pipeline(world.env, "logs")
    agent = make_agent("edge-1")
    agent.heartbeat({"pipelines": [{"pipelineId": logs.id, "version": 1, "status": "RUNNING"}]})
    toggle(agent.node, True)

    # The agent has not polled yet: its heartbeat still reports the pipeline running.
    agent.heartbeat({"pipelines": [{"pipelineId": logs.id, "version": 1, "status": "RUNNING"}]})
    db.session.refresh(agent.node)
    assert agent.node.drain_state == DrainState.DRAINING

    assert agent.config().get_json()["pipelines"] == []
    assert agent.heartbeat({"pipelines": []}).status_code == 200
    db.session.refresh(agent.node)
    assert agent.node.drain_state == DrainState.DRAINED
    assert history(agent.node)[0].drain_seconds is not None

    toggle(agent.node, False)
    assert agent.node.drain_state == DrainState.RESUMING
    agent.heartbeat({"pipelines": [{"pipelineId": logs.id, "version": 1, "status": "STARTING"}]})
    db.session.refresh(agent.node)
    assert agent.node.drain_state == DrainState.RESUMING
    agent.heartbeat({"pipelines": [{"pipelineId": logs.id, "version": 1, "status": "RUNNING"}]})
    db.session.refresh(agent.node)
    assert agent.node.drain_state is None
    assert history(agent.node)[0].resumed_at is not None
