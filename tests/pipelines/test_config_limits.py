"""What a pipeline may cost: YAML aliases and deep nesting are refused when a config is
saved, and a deploy may not make each config poll carry more than the limits per pipeline
and per environment; pages, the API and the agent poll all say which limit, never 500."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import AuditLog, Event, Pipeline, PipelineVersion
from vectorflow.schemas.fields import (
    CONFIG_DEPTH_MAX,
    CONFIG_MAX,
    RENDERED_ENVIRONMENT_MAX,
    RENDERED_PIPELINE_MAX,
    SECRET_VALUE_MAX,
)
from vectorflow.services import ServiceError
from vectorflow.services import pipelines as svc
from vectorflow.services import secrets as secret_svc

from .. import factories
from ..factories import SIMPLE_CONFIG
from .test_vector_config import ALIAS_BOMB, RECURSIVE_ALIAS

ALIASES = "YAML anchors and aliases (&name, *name) are not allowed"
TOO_DEEP = f"config is nested deeper than {CONFIG_DEPTH_MAX} levels"


def referencing(*names: str) -> str:
    """SIMPLE_CONFIG with a sink option referencing each secret."""
    refs = "".join(f"\n    t{i}: SECRET[{name}]" for i, name in enumerate(names))
    return SIMPLE_CONFIG.replace("inputs: [in]", "inputs: [in]" + refs)


def big_secrets(env, count: int, prefix: str = "big") -> list[str]:
    names = [f"{prefix}-{i}" for i in range(count)]
    for name in names:
        factories.make_secret(env, name, "v" * SECRET_VALUE_MAX)
    return names


def counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                 for model in (PipelineVersion, Event, AuditLog))


@pytest.fixture
def api_token(world):
    return factories.make_api_token(world.users["EDITOR"])


def api(client, token, method, path, **kwargs):
    return client.open(path, method=method, headers={"Authorization": f"Bearer {token}"},
                       **kwargs)


# ---------------------------------------------------------------- saving

@pytest.mark.parametrize("config, problem", [
    (RECURSIVE_ALIAS, ALIASES), (ALIAS_BOMB, ALIASES), ("[" * 3000, TOO_DEEP),
])
def test_the_api_refuses_aliases_and_deep_nesting_with_a_400_naming_the_limit(
        client, world, api_token, config, problem):
    response = api(client, api_token, "POST", "/api/v1/pipelines",
                   json={"environmentId": world.env.id, "name": "logs", "configYaml": config})
    assert response.status_code == 400
    assert problem in response.get_json()["error"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Pipeline)) == 0


@pytest.mark.parametrize("config, problem", [(RECURSIVE_ALIAS, ALIASES), ("[" * 3000, TOO_DEEP)])
def test_the_pipeline_form_shows_the_limit_next_to_the_config(client, login_as, world, config,
                                                               problem):
    login_as("EDITOR")
    response = client.submit(f"/environments/{world.env.id}/pipelines",
                             {"name": "logs", "log_level": "", "config_yaml": config})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert problem.replace("&", "&amp;") in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Pipeline)) == 0


def test_the_pipeline_form_refuses_a_config_over_the_size_limit(client, login_as, world):
    login_as("EDITOR")
    response = client.submit(f"/environments/{world.env.id}/pipelines",
                             {"name": "logs", "config_yaml": SIMPLE_CONFIG + "#" * CONFIG_MAX})
    assert response.status_code == 400
    assert "The config must be at most 256 KiB." in response.get_data(as_text=True)


# ---------------------------------------------------------------- configs stored before the limits

def test_deploying_a_draft_stored_with_a_recursive_alias_is_a_400_not_a_500(
        client, world, api_token):
    pipeline = factories.make_pipeline(world.env, "old", RECURSIVE_ALIAS, deployed=False,
                                       versions=0)
    db.session.commit()
    before = counts()
    response = api(client, api_token, "POST", f"/api/v1/pipelines/{pipeline.id}/deploy")
    assert response.status_code == 400
    assert ALIASES in response.get_json()["error"]
    assert counts() == before


def test_a_deployed_alias_bomb_is_delivered_as_written_not_expanded(client, world):
    factories.make_secret(world.env, "x")
    factories.make_pipeline(world.env, "bomb", ALIAS_BOMB)
    _, token = factories.make_node(world.env, "edge-1")
    db.session.commit()
    response = client.get("/api/agent/config", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    (entry,) = response.get_json()["pipelines"]
    assert entry["configYaml"] == ALIAS_BOMB
    assert len(response.get_data()) < 4096


# ---------------------------------------------------------------- what a deploy delivers

def test_a_deploy_over_the_limit_per_pipeline_is_refused_and_changes_nothing(world):
    names = big_secrets(world.env, RENDERED_PIPELINE_MAX // SECRET_VALUE_MAX + 1)
    pipeline = factories.make_pipeline(world.env, "fat", referencing(*names), deployed=False,
                                       versions=0)
    db.session.commit()
    before = counts()
    with pytest.raises(ServiceError) as refused:
        svc.deploy_pipeline(pipeline)
    db.session.rollback()
    assert refused.value.message.startswith("pipeline 'fat' would send 577 KiB to each agent")
    assert refused.value.message.endswith("over the limit of 512 KiB per pipeline")
    assert refused.value.details["limit"] == "renderedPipelineBytes"
    assert counts() == before
    assert not db.session.get(Pipeline, pipeline.id).deployed


def test_the_deploy_page_says_which_limit(client, login_as, world):
    names = big_secrets(world.env, RENDERED_PIPELINE_MAX // SECRET_VALUE_MAX + 1)
    pipeline = factories.make_pipeline(world.env, "fat", referencing(*names), deployed=False,
                                       versions=0)
    db.session.commit()
    login_as("EDITOR")
    response = client.submit(f"/pipelines/{pipeline.id}/deploy", {})
    assert response.status_code == 400
    assert "over the limit of 512 KiB per pipeline" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PipelineVersion)) == 0


def test_a_deploy_over_the_limit_per_environment_is_refused_over_the_api(client, world, api_token):
    per_pipeline = RENDERED_PIPELINE_MAX // SECRET_VALUE_MAX - 1
    names = big_secrets(world.env, per_pipeline)
    fits = RENDERED_ENVIRONMENT_MAX // (per_pipeline * SECRET_VALUE_MAX)
    for n in range(fits):
        factories.make_pipeline(world.env, f"p{n}", referencing(*names))
    last = factories.make_pipeline(world.env, "one-too-many", referencing(*names),
                                   deployed=False, versions=0)
    db.session.commit()
    before = counts()
    response = api(client, api_token, "POST", f"/api/v1/pipelines/{last.id}/deploy")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"].startswith(f"environment 'production' would send 2.2 MiB to each "
                                    f"agent for its {fits + 1} deployed pipelines")
    assert body["error"].endswith("over the limit of 2.0 MiB per environment")
    assert body["details"]["limit"] == "renderedEnvironmentBytes"
    assert counts() == before


def test_rotating_a_secret_past_the_limit_per_pipeline_is_refused(world):
    names = big_secrets(world.env, RENDERED_PIPELINE_MAX // SECRET_VALUE_MAX - 1)
    small = factories.make_secret(world.env, "small", "v")
    factories.make_pipeline(world.env, "nearly-full", referencing(*names, "small"))
    db.session.commit()
    with pytest.raises(ServiceError) as refused:
        secret_svc.rotate_secret(small, "v" * SECRET_VALUE_MAX)
    db.session.rollback()
    assert "over the limit of 512 KiB per pipeline" in refused.value.message
    db.session.expire_all()
    assert secret_svc.decrypt(small.encrypted_value) == "v"


def test_a_deploy_within_the_limits_still_goes_through(world):
    names = big_secrets(world.env, RENDERED_PIPELINE_MAX // SECRET_VALUE_MAX - 1)
    pipeline = factories.make_pipeline(world.env, "full", referencing(*names), deployed=False,
                                       versions=0)
    db.session.commit()
    assert svc.deploy_pipeline(pipeline).version == 1
