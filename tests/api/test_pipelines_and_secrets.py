"""Pipelines and secrets over the API."""
from __future__ import annotations

import sqlalchemy as sa

from tests import factories
from vectorflow.extensions import db
from vectorflow.models import AuditLog, Pipeline, PipelineVersion, Secret
from vectorflow.security import decrypt

CONFIG = factories.SIMPLE_CONFIG
WITH_SECRET = CONFIG.replace("format: json", "format: json\n    token: SECRET[api-token]")


def create(api, world, who="EDITOR", **extra):
    body = {"environmentId": world.env.id, "name": "logs", "configYaml": CONFIG, **extra}
    return api.post("/api/v1/pipelines", who, json=body)


def test_an_editor_creates_edits_and_deploys_a_pipeline(api, world):
    created = create(api, world, description="demo logs")
    assert created.status_code == 201
    pipeline = created.get_json()
    assert (pipeline["deployed"], pipeline["latestVersion"], pipeline["draftDiffers"]) == (False, None, True)

    first = api.post(f"/api/v1/pipelines/{pipeline['id']}/deploy", "EDITOR")
    assert first.status_code == 200 and first.get_json()["version"] == 1

    edited = api.put(f"/api/v1/pipelines/{pipeline['id']}", "EDITOR",
                     json={"configYaml": CONFIG + "# tuned\n", "logLevel": "DEBUG"})
    assert edited.status_code == 200
    assert edited.get_json()["draftDiffers"] is True and edited.get_json()["logLevel"] == "DEBUG"
    second = api.post(f"/api/v1/pipelines/{pipeline['id']}/deploy", "service:EDITOR")
    assert second.get_json()["version"] == 2
    again = api.post(f"/api/v1/pipelines/{pipeline['id']}/deploy", "EDITOR")
    assert again.get_json()["version"] == 2  # nothing changed, nothing deployed

    versions = api.get(f"/api/v1/pipelines/{pipeline['id']}/versions", "VIEWER").get_json()["items"]
    assert [(v["version"], v["author"]) for v in versions] == [(2, "ci-editor"), (1, "editor-laptop")]
    assert versions[0]["logLevel"] == "DEBUG" and versions[0]["configYaml"].endswith("# tuned\n")


def test_a_null_log_level_goes_back_to_the_default(api, world):
    pipeline = create(api, world, logLevel="WARN").get_json()
    reset = api.put(f"/api/v1/pipelines/{pipeline['id']}", "EDITOR", json={"logLevel": None})
    assert reset.get_json()["logLevel"] is None


def test_undeploying_stops_delivery_and_deleting_needs_undeploy_first(api, world):
    pipeline = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    refused = api.delete(f"/api/v1/pipelines/{pipeline.id}", "EDITOR")
    assert refused.status_code == 409 and "undeploy it" in refused.get_json()["error"]
    undeployed = api.post(f"/api/v1/pipelines/{pipeline.id}/undeploy", "EDITOR")
    assert undeployed.status_code == 200 and undeployed.get_json()["deployed"] is False
    pipeline_id = pipeline.id
    assert api.delete(f"/api/v1/pipelines/{pipeline_id}", "EDITOR").status_code == 204
    assert db.session.get(Pipeline, pipeline_id) is None


def test_pipeline_writes_need_editor_and_other_teams_pipelines_are_not_found(api, world):
    assert create(api, world, who="VIEWER").status_code == 403
    assert create(api, world, who="service:VIEWER").status_code == 403
    other = factories.make_pipeline(world.other_env, "payments")
    mine = factories.make_pipeline(world.env, "mine")
    db.session.commit()
    for method, suffix in [("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/deploy"),
                           ("POST", "/undeploy"), ("GET", "/versions")]:
        body = {"name": "x"} if method == "PUT" else None
        response = api.call(method, f"/api/v1/pipelines/{other.id}{suffix}", "ADMIN", json=body)
        assert response.status_code == 404, (method, suffix)
    assert api.post(f"/api/v1/pipelines/{mine.id}/deploy", "VIEWER").status_code == 403
    assert api.put(f"/api/v1/pipelines/{mine.id}", "VIEWER", json={"name": "x"}).status_code == 403
    cross = {"environmentId": world.other_env.id, "name": "x", "configYaml": CONFIG}
    assert api.post("/api/v1/pipelines", "ADMIN", json=cross).status_code == 404


def test_pipelines_are_listed_per_environment_and_by_name(api, world):
    factories.make_pipeline(world.env, "logs")
    factories.make_pipeline(world.env, "metrics", deployed=False, versions=0)
    factories.make_pipeline(world.other_env, "payments")
    db.session.commit()
    listed = api.get("/api/v1/pipelines", "VIEWER").get_json()["items"]
    assert [(p["name"], p["deployed"], p["latestVersion"]) for p in listed] == [
        ("logs", True, 1), ("metrics", False, None)]
    by_name = api.get(f"/api/v1/pipelines?environmentId={world.env.id}&name=metrics", "VIEWER")
    assert [p["name"] for p in by_name.get_json()["items"]] == ["metrics"]
    assert api.get(f"/api/v1/pipelines?environmentId={world.other_env.id}",
                   "VIEWER").status_code == 404


def test_invalid_pipelines_are_refused_with_the_reason(api, world):
    bad_yaml = create(api, world, configYaml="sources: [")
    assert bad_yaml.status_code == 400 and "invalid Vector config" in bad_yaml.get_json()["error"]
    bad_level = create(api, world, logLevel="LOUD")
    assert bad_level.get_json()["details"] == {
        "logLevel": "must be one of TRACE, DEBUG, INFO, WARN, ERROR"}
    missing = api.post("/api/v1/pipelines", "EDITOR", json={"name": "logs"})
    assert missing.get_json()["details"] == {"environmentId": "required", "configYaml": "required"}
    create(api, world)
    duplicate = create(api, world)
    assert duplicate.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Pipeline)) == 1


def test_deploying_a_pipeline_that_needs_a_missing_secret_is_refused(api, world):
    pipeline = create(api, world, configYaml=WITH_SECRET).get_json()
    refused = api.post(f"/api/v1/pipelines/{pipeline['id']}/deploy", "EDITOR")
    assert refused.status_code == 400
    assert refused.get_json()["details"]["missingSecrets"] == ["api-token"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PipelineVersion)) == 0


def test_secrets_go_in_encrypted_and_come_out_as_names(api, world):
    created = api.post("/api/v1/secrets", "EDITOR", json={
        "environmentId": world.env.id, "name": "api-token", "value": "hunter2"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["name"] == "api-token" and "value" not in body
    assert decrypt(db.session.get(Secret, body["id"]).encrypted_value) == "hunter2"

    pipeline = create(api, world, configYaml=WITH_SECRET).get_json()
    api.post(f"/api/v1/pipelines/{pipeline['id']}/deploy", "EDITOR")
    [listed] = api.get(f"/api/v1/secrets?environmentId={world.env.id}", "VIEWER").get_json()["items"]
    assert listed["usedBy"] == ["logs"]
    response_texts = api.get(f"/api/v1/secrets?environmentId={world.env.id}", "ADMIN").get_data(as_text=True)
    assert "hunter2" not in response_texts

    rotated = api.put(f"/api/v1/secrets/{body['id']}", "EDITOR", json={"value": "correct-horse"})
    assert rotated.status_code == 200
    assert decrypt(db.session.get(Secret, body["id"]).encrypted_value) == "correct-horse"
    in_use = api.delete(f"/api/v1/secrets/{body['id']}", "EDITOR")
    assert in_use.status_code == 409 and in_use.get_json()["details"] == {"pipelines": ["logs"]}
    audit = db.session.scalars(sa.select(AuditLog).where(AuditLog.action.like("secret.%"))).all()
    assert "hunter2" not in str([(a.before, a.after, a.details) for a in audit])


def test_secret_rules_roles_and_other_teams(api, world):
    secret = factories.make_secret(world.env, "unused")
    other = factories.make_secret(world.other_env, "theirs")
    db.session.commit()
    body = {"environmentId": world.env.id, "name": "new", "value": "v"}
    assert api.post("/api/v1/secrets", "VIEWER", json=body).status_code == 403
    assert api.put(f"/api/v1/secrets/{secret.id}", "VIEWER", json={"value": "x"}).status_code == 403
    assert api.delete(f"/api/v1/secrets/{other.id}", "ADMIN").status_code == 404
    assert api.put(f"/api/v1/secrets/{other.id}", "ADMIN", json={"value": "x"}).status_code == 404
    assert api.get(f"/api/v1/secrets?environmentId={world.other_env.id}", "ADMIN").status_code == 404
    assert api.get("/api/v1/secrets", "ADMIN").get_json()["details"] == {"environmentId": "required"}
    assert api.post("/api/v1/secrets", "EDITOR", json={**body, "value": ""}).status_code == 400
    assert api.post("/api/v1/secrets", "EDITOR",
                    json={**body, "name": "unused"}).status_code == 409
    secret_id = secret.id
    assert api.delete(f"/api/v1/secrets/{secret_id}", "service:EDITOR").status_code == 204
    assert db.session.get(Secret, secret_id) is None
