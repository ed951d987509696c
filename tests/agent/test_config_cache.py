"""The config poll renders an environment's pipelines once per process and config revision.

Every write to what agents are sent (deploys, undeploys, deletes, secret values, the secret
backend) raises ``environments.config_revision`` in its own transaction, so the next poll
renders afresh; writes the fleet makes all the time (heartbeats, node changes) leave it.
"""
from __future__ import annotations

import pytest

from tests import factories
from vectorflow.extensions import db
from vectorflow.models import Environment, SecretBackend
from vectorflow.services import pipelines as pipeline_service
from vectorflow.services import secrets as secret_service
from vectorflow.services.actors import Actor

from .conftest import count_queries, load_fixture
from .test_config import SECRET_YAML

ALICE = Actor("cli", None, "alice@example.com")


def revision(env: Environment) -> int:
    db.session.expire(env, ["config_revision"])
    return env.config_revision


def polled(agent) -> dict[str, dict]:
    response = agent.config()
    assert response.status_code == 200
    return {p["pipelineName"]: p for p in response.get_json()["pipelines"]}


def token_polled(agent) -> str:
    """The value of SECRET[api-token] the agent's next poll carries."""
    return polled(agent)["api"]["secrets"]["VF_SECRET_API_TOKEN"]


def rotate_api_token(env: Environment, value: str) -> None:
    secret_service.rotate_secret(secret_service.find_secret(env, "api-token"), value, actor=ALICE)
    db.session.commit()


@pytest.fixture
def deployed(world, make_agent):
    """An environment with a deployed pipeline using a secret, and an agent that polled it."""
    factories.make_secret(world.env, "api-token", "first")
    factories.make_secret(world.env, "db.password", "pw")
    pipeline = factories.make_pipeline(world.env, "api", SECRET_YAML)
    db.session.commit()
    agent = make_agent("node-0")
    assert token_polled(agent) == "first"
    return pipeline, agent


def test_a_second_poll_of_the_environment_skips_rendering(world, deployed, make_agent):
    other = make_agent("node-1")
    with count_queries() as cached:
        assert token_polled(other) == "first"
    with count_queries() as steady:  # node-1 is in the process's poll cache now
        assert token_polled(other) == "first"
    rotate_api_token(world.env, "second")
    with count_queries() as rendered:
        assert token_polled(other) == "second"
    # One statement (node, environment, revision, poll interval), then the render's one more.
    assert len(cached) == 1 and len(steady) == 0 and len(rendered) == 2


def test_a_new_version_reaches_the_next_poll(world, deployed):
    pipeline, agent = deployed
    before = revision(world.env)
    pipeline_service.update_draft(pipeline, config_yaml=SECRET_YAML + "# v2\n", actor=ALICE)
    pipeline_service.deploy_pipeline(pipeline, actor=ALICE)
    db.session.commit()
    assert revision(world.env) > before
    assert polled(agent)["api"]["version"] == 2


def test_a_rotated_secret_reaches_the_next_poll(world, deployed):
    _, agent = deployed
    rotate_api_token(world.env, "second")
    assert token_polled(agent) == "second"


def test_undeploying_and_deploying_again_reach_the_next_poll(world, deployed):
    pipeline, agent = deployed
    pipeline_service.undeploy_pipeline(pipeline, actor=ALICE)
    db.session.commit()
    assert polled(agent) == {}
    pipeline_service.deploy_pipeline(pipeline, actor=ALICE)
    db.session.commit()
    assert "api" in polled(agent)


def test_a_new_secret_backend_reaches_the_next_poll(world, deployed):
    _, agent = deployed
    world.env.secret_backend = SecretBackend.VAULT
    world.env.secret_backend_config = {"address": "https://vault.example:8200"}
    db.session.commit()
    body = agent.config().get_json()
    assert body["secretBackend"] == "VAULT"
    assert "secrets" not in body["pipelines"][0]  # the agent resolves SECRET[] itself now
    assert "SECRET[api-token]" in body["pipelines"][0]["configYaml"]


def test_a_rolled_back_change_is_never_served(world, deployed):
    pipeline, agent = deployed
    pipeline_service.undeploy_pipeline(pipeline, actor=ALICE)
    db.session.flush()
    db.session.rollback()
    assert "api" in polled(agent)
    rotate_api_token(world.env, "third")
    assert token_polled(agent) == "third"


def test_fleet_activity_leaves_the_revision_and_other_environments_alone(world, deployed):
    _, agent = deployed
    before, theirs = revision(world.env), revision(world.other_env)
    assert agent.heartbeat(load_fixture("heartbeat-request.json")).status_code == 200
    factories.make_node(world.env, "node-2")
    factories.make_pipeline(world.env, "draft-only", deployed=False)
    db.session.commit()
    factories.make_pipeline(world.other_env, "theirs")
    db.session.commit()
    assert revision(world.other_env) == theirs + 1
    assert revision(world.env) == before + 1  # the draft pipeline is a new row of this env
