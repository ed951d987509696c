"""GET /api/agent/config: what each agent should run, with secrets resolved the agent's way."""
import base64
import hashlib

import pytest
import yaml

from vectorflow.extensions import db
from vectorflow.models import LogLevel, SecretBackend, SystemSettings, VectorNode
from vectorflow.security import encrypt

from .. import factories
from .conftest import count_queries

SECRET_YAML = """sources:
  api:
    type: http_client
    endpoint: https://api.example.com/logs
    auth:
      strategy: bearer
      token: SECRET[api-token]
    headers:
      X-Keys: [plain, "SECRET[db.password]", "prefix-SECRET[api-token]-suffix"]
sinks:
  out:
    type: console
    inputs: [api]
"""

CERT_YAML = """sources:
  syslog:
    type: syslog
    mode: tcp
    tls:
      enabled: true
      ca_file: CERT[ca-bundle]
      crt_file: CERT[server.crt]
sinks:
  out:
    type: console
    inputs: [syslog]
"""

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def pipelines_of(agent):
    response = agent.config()
    assert response.status_code == 200
    return response.get_json()["pipelines"]


def test_a_node_with_nothing_deployed_gets_an_empty_list_and_the_defaults(agent):
    response = agent.config()
    assert response.status_code == 200
    assert response.get_json() == {"pipelines": [], "pollIntervalMs": 15000,
                                   "secretBackend": "BUILTIN",
                                   "pushUrl": "http://vectorflow.test/api/agent/push"}
    assert response.headers["Cache-Control"] == "no-store"


def test_a_deployed_pipeline_is_sent_at_its_latest_version_with_the_yaml_checksum(agent, world):
    pipeline = factories.make_pipeline(world.env, "Production Logs", versions=3,
                                       log_level=LogLevel.DEBUG)
    db.session.commit()
    [entry] = pipelines_of(agent)
    assert entry == {
        "pipelineId": pipeline.id,
        "pipelineName": "Production Logs",
        "version": 3,
        "configYaml": factories.SIMPLE_CONFIG,
        "checksum": hashlib.sha256(factories.SIMPLE_CONFIG.encode()).hexdigest(),
        "logLevel": "DEBUG",
    }


def test_many_pipelines_are_all_sent_and_undeployed_or_foreign_ones_are_not(agent, world):
    names = [f"p{i:02d}" for i in range(12)]
    for name in names:
        factories.make_pipeline(world.env, name)
    factories.make_pipeline(world.env, "draft-only", deployed=False)
    factories.make_pipeline(world.other_env, "other-team")
    db.session.commit()
    entries = pipelines_of(agent)
    assert [e["pipelineName"] for e in entries] == names
    assert all("logLevel" not in e and "secrets" not in e and "certFiles" not in e for e in entries)


def test_the_poll_interval_comes_from_system_settings(agent):
    db.session.add(SystemSettings(id=1, fleet_poll_interval_ms=5000, unreachable_threshold=3))
    db.session.commit()
    assert agent.config().get_json()["pollIntervalMs"] == 5000


def test_a_draft_edit_never_changes_what_agents_receive(agent, world):
    pipeline = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    before = pipelines_of(agent)
    pipeline.draft_yaml = "sources: {}\n"
    db.session.commit()
    assert pipelines_of(agent) == before


def test_a_new_version_changes_the_yaml_version_and_checksum(agent, world):
    pipeline = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    [before] = pipelines_of(agent)
    factories.add_version(pipeline, factories.SIMPLE_CONFIG.replace("json", "text"))
    db.session.commit()
    [after] = pipelines_of(agent)
    assert after["version"] == 2
    assert "codec: text" in after["configYaml"]
    assert after["checksum"] != before["checksum"]


def test_builtin_secrets_become_env_var_references_even_inside_lists(agent, world):
    factories.make_secret(world.env, "api-token", "tok-123")
    factories.make_secret(world.env, "db.password", "hunter2")
    factories.make_secret(world.env, "unused", "nobody-needs-this")
    factories.make_pipeline(world.env, "api", SECRET_YAML)
    db.session.commit()
    [entry] = pipelines_of(agent)
    config = yaml.safe_load(entry["configYaml"])
    assert config["sources"]["api"]["auth"]["token"] == "${VF_SECRET_API_TOKEN}"
    assert config["sources"]["api"]["headers"]["X-Keys"] == [
        "plain", "${VF_SECRET_DB_PASSWORD}", "prefix-${VF_SECRET_API_TOKEN}-suffix"]
    assert config["sinks"]["out"]["inputs"] == ["api"]
    # Only the secrets this pipeline references travel, and never inside the YAML.
    assert entry["secrets"] == {"VF_SECRET_API_TOKEN": "tok-123", "VF_SECRET_DB_PASSWORD": "hunter2"}
    assert "tok-123" not in entry["configYaml"] and "SECRET[" not in entry["configYaml"]


def test_certificates_become_agent_paths_with_the_files_attached(agent, world):
    factories.make_secret(world.env, "ca-bundle", PEM)
    factories.make_secret(world.env, "server.crt", PEM + "#2")
    factories.make_pipeline(world.env, "syslog", CERT_YAML)
    db.session.commit()
    [entry] = pipelines_of(agent)
    tls = yaml.safe_load(entry["configYaml"])["sources"]["syslog"]["tls"]
    assert tls["ca_file"] == "/var/lib/vf-agent/certs/ca-bundle.pem"
    assert tls["crt_file"] == "/var/lib/vf-agent/certs/server.crt"
    assert entry["certFiles"] == [
        {"name": "ca-bundle", "filename": "ca-bundle.pem",
         "data": base64.b64encode(PEM.encode()).decode()},
        {"name": "server.crt", "filename": "server.crt",
         "data": base64.b64encode((PEM + "#2").encode()).decode()},
    ]
    assert "secrets" not in entry


def rotate(env, name, value):
    secret = next(s for s in env.secrets if s.name == name)
    secret.encrypted_value = encrypt(value)
    db.session.commit()


def test_rotating_a_referenced_secret_changes_the_checksum_and_an_unrelated_one_does_not(agent,
                                                                                         world):
    factories.make_secret(world.env, "api-token", "tok-1")
    factories.make_secret(world.env, "db.password", "pw-1")
    factories.make_secret(world.env, "unrelated", "x-1")
    factories.make_pipeline(world.env, "api", SECRET_YAML)
    factories.make_pipeline(world.env, "plain")
    db.session.commit()
    first = {e["pipelineName"]: e["checksum"] for e in pipelines_of(agent)}

    rotate(world.env, "unrelated", "x-2")
    assert {e["pipelineName"]: e["checksum"] for e in pipelines_of(agent)} == first

    rotate(world.env, "api-token", "tok-2")
    second = {e["pipelineName"]: e["checksum"] for e in pipelines_of(agent)}
    assert second["api"] != first["api"]
    assert second["plain"] == first["plain"]


def test_rotating_a_certificate_changes_the_checksum(agent, world):
    factories.make_secret(world.env, "ca-bundle", PEM)
    factories.make_secret(world.env, "server.crt", PEM)
    factories.make_pipeline(world.env, "syslog", CERT_YAML)
    db.session.commit()
    [before] = pipelines_of(agent)
    rotate(world.env, "ca-bundle", PEM + "\n")
    [after] = pipelines_of(agent)
    assert after["checksum"] != before["checksum"]


@pytest.mark.parametrize("backend", [SecretBackend.VAULT, SecretBackend.AWS_SM, SecretBackend.EXEC])
def test_external_secret_backends_get_their_config_and_the_yaml_as_written(make_agent, world,
                                                                          backend):
    settings = {"address": "https://vault.internal:8200", "mount": "secret", "authMethod": "approle"}
    env = factories.make_environment(world.team, "vaulted", secret_backend=backend,
                                     secret_backend_config=settings,
                                     secret_backend_credentials=encrypt("s.root-token"))
    factories.make_secret(env, "api-token", "must-not-travel")
    factories.make_pipeline(env, "api", SECRET_YAML)
    db.session.commit()
    body = make_agent("vault-node", env=env).config().get_json()
    assert body["secretBackend"] == backend.value
    assert body["secretBackendConfig"] == settings
    [entry] = body["pipelines"]
    assert entry["configYaml"] == SECRET_YAML
    assert entry["checksum"] == hashlib.sha256(SECRET_YAML.encode()).hexdigest()
    assert "secrets" not in entry and "certFiles" not in entry
    assert "must-not-travel" not in str(body) and "root-token" not in str(body)


def test_an_external_backend_without_settings_still_sends_an_empty_config(make_agent, world):
    env = factories.make_environment(world.team, "exec", secret_backend=SecretBackend.EXEC)
    db.session.commit()
    assert make_agent("n", env=env).config().get_json()["secretBackendConfig"] == {}


def test_a_pending_action_is_sent_and_omitted_when_cleared(agent):
    action = {"type": "self_update", "targetVersion": "2.0.1",
              "downloadUrl": "https://updates.example.test/vf-agent", "checksum": "sha256:abc"}
    agent.node.pending_action = action
    db.session.commit()
    assert agent.config().get_json()["pendingAction"] == action
    agent.node.pending_action = None
    db.session.commit()
    assert "pendingAction" not in agent.config().get_json()


def test_a_steady_poll_asks_the_database_nothing_for_one_node_or_a_fleet(make_agent, world):
    factories.make_secret(world.env, "api-token", "tok")
    factories.make_secret(world.env, "db.password", "pw")
    factories.make_pipeline(world.env, "api", SECRET_YAML)
    first = make_agent("node-0")
    assert first.config().status_code == 200
    with count_queries() as steady_small:
        assert len(first.config().get_json()["pipelines"]) == 1
    for i in range(1, 30):
        factories.make_node(world.env, f"node-{i}")
        factories.make_pipeline(world.env, f"pipe-{i}", SECRET_YAML if i % 2 else CERT_YAML)
    factories.make_secret(world.env, "ca-bundle", PEM)
    factories.make_secret(world.env, "server.crt", PEM)
    db.session.commit()
    with count_queries() as changed:  # the environment's pipelines changed: read and render
        assert len(first.config().get_json()["pipelines"]) == 30
    with count_queries() as steady_large:
        assert len(first.config().get_json()["pipelines"]) == 30
    assert steady_small.statements == steady_large.statements == []
    assert changed.writes == [] and 1 < len(changed) <= 5


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer vf_node_" + "0" * 64,
    "Token abc", "Bearer a b",
])
def test_a_missing_malformed_or_unknown_token_is_401(client, agent, header):
    headers = {"Authorization": header} if header is not None else {}
    for response in (client.get("/api/agent/config", headers=headers),
                     client.post("/api/agent/heartbeat", json={"pipelines": []}, headers=headers)):
        assert response.status_code == 401
        assert response.get_json() == {"error": "Unauthorized"}


def test_a_deleted_node_or_a_rotated_token_is_401_on_the_next_call(make_agent):
    deleted, rotated = make_agent("deleted"), make_agent("rotated")
    assert deleted.config().status_code == rotated.config().status_code == 200
    db.session.delete(db.session.get(VectorNode, deleted.node.id))
    db.session.get(VectorNode, rotated.node.id).node_token_digest = "0" * 64
    db.session.commit()
    assert deleted.config().status_code == 401
    assert rotated.config().status_code == 401
    assert rotated.heartbeat({"pipelines": []}).status_code == 401


def test_another_nodes_token_answers_for_that_node_only(make_agent, world):
    factories.make_pipeline(world.env, "mine")
    other_env_agent = make_agent("other", env=world.other_env)
    assert other_env_agent.config().get_json()["pipelines"] == []


def test_a_node_in_maintenance_gets_no_pipelines_but_the_rest_of_its_config(agent, world):
    factories.make_pipeline(world.env, "logs")
    agent.node.pending_action = {"type": "self_update", "targetVersion": "2.0.1",
                                 "downloadUrl": "https://u.example/vf-agent", "checksum": "sha256:a"}
    db.session.commit()
    normal = agent.config().get_json()
    agent.node.maintenance_mode = True
    db.session.commit()
    assert agent.config().get_json() == {**normal, "pipelines": []}
