"""Pipeline and secret workflows: drafts, deploys, undeploys and secret references."""
import pytest
import sqlalchemy as sa

from vectorflow.models import AuditLog, Event, LogLevel, PipelineVersion, Secret, SecretBackend
from vectorflow.security import decrypt
from vectorflow.services import Conflict, ServiceError
from vectorflow.services import pipelines as svc
from vectorflow.services import secrets as secret_svc

from .. import factories
from ..factories import SIMPLE_CONFIG

WITH_SECRET = SIMPLE_CONFIG + """\
  http:
    type: http
    inputs: [in]
    uri: https://logs.example.com
    auth:
      strategy: bearer
      token: SECRET[api-token]
    tls:
      ca_file: CERT[ca]
    encoding: {codec: json}
"""


def events_of(db, type_):
    return db.session.scalars(sa.select(Event).where(Event.type == type_).order_by(Event.id)).all()


def audit_actions(db):
    return [row.action for row in db.session.scalars(sa.select(AuditLog).order_by(AuditLog.id))]


def test_creating_a_pipeline_keeps_it_undeployed_with_no_versions(db, world):
    pipeline = svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG, description="App logs",
                                   log_level="debug")
    db.session.commit()
    assert pipeline.deployed is False
    assert pipeline.draft_log_level == LogLevel.DEBUG
    assert svc.latest_version(pipeline) is None
    assert audit_actions(db) == ["pipeline.created"]


def test_an_invalid_config_is_refused_with_every_error_listed(db, world):
    with pytest.raises(ServiceError) as err:
        svc.create_pipeline(world.env, "logs", "sources:\n  in:\n    type: x\nsinks:\n  out:\n"
                                               "    type: console\n    inputs: [parse]\n")
    assert 'sinks.out: input "parse" does not exist' in err.value.message
    assert err.value.details["config"] == ['sinks.out: input "parse" does not exist']


@pytest.mark.parametrize("name", ["", " ", "a/b", "x" * 101, "-leading-dash"])
def test_bad_pipeline_names_are_refused(db, world, name):
    with pytest.raises(ServiceError, match="pipeline name"):
        svc.create_pipeline(world.env, name, SIMPLE_CONFIG)


def test_a_second_pipeline_with_the_same_name_is_a_conflict(db, world):
    svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG)
    with pytest.raises(Conflict):
        svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG)


def test_an_unknown_log_level_is_refused(db, world):
    with pytest.raises(ServiceError, match="log level"):
        svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG, log_level="LOUD")


def test_deploying_creates_version_one_then_n_plus_one_and_marks_it_deployed(db, world):
    pipeline = svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG, log_level="INFO")
    first = svc.deploy_pipeline(pipeline)
    db.session.commit()
    assert (first.version, first.config_yaml, first.log_level) == (1, SIMPLE_CONFIG, LogLevel.INFO)
    assert pipeline.deployed and pipeline.deployed_at is not None

    svc.update_draft(pipeline, config_yaml=SIMPLE_CONFIG + "# tuned\n")
    second = svc.deploy_pipeline(pipeline)
    db.session.commit()
    assert second.version == 2
    assert second.config_yaml.endswith("# tuned\n")
    assert [e.payload["version"] for e in events_of(db, "pipeline.deployed")] == [1, 2]
    assert audit_actions(db).count("pipeline.deployed") == 2


def test_the_deploy_author_is_recorded(db, world):
    from vectorflow.services.actors import Actor

    pipeline = svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG)
    editor = world.users["EDITOR"]
    version = svc.deploy_pipeline(pipeline, actor=Actor("user", editor.id, editor.email))
    assert (version.author_id, version.author_label) == (editor.id, editor.email)


def test_editing_the_draft_does_not_change_the_deployed_version(db, world):
    pipeline = svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG)
    svc.deploy_pipeline(pipeline)
    db.session.commit()
    svc.update_draft(pipeline, config_yaml=SIMPLE_CONFIG + "# experiment\n", log_level="TRACE")
    db.session.commit()
    latest = svc.latest_version(pipeline)
    assert latest.version == 1 and latest.config_yaml == SIMPLE_CONFIG and latest.log_level is None
    assert svc.draft_differs(pipeline, latest)
    assert len(events_of(db, "pipeline.deployed")) == 1
    assert "pipeline.draft_updated" in audit_actions(db)


def test_saving_an_unchanged_draft_writes_no_audit_row(db, world):
    pipeline = svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG)
    svc.update_draft(pipeline, config_yaml=SIMPLE_CONFIG, description="")
    assert audit_actions(db) == ["pipeline.created"]


def test_redeploying_an_unchanged_deployed_pipeline_changes_nothing(db, world):
    pipeline = svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG)
    svc.deploy_pipeline(pipeline)
    again = svc.deploy_pipeline(pipeline)
    db.session.commit()
    assert again.version == 1
    assert len(events_of(db, "pipeline.deployed")) == 1


def test_deploy_is_refused_when_a_referenced_secret_or_certificate_is_missing(db, world):
    pipeline = svc.create_pipeline(world.env, "shipper", WITH_SECRET)
    db.session.commit()
    with pytest.raises(ServiceError) as err:
        svc.deploy_pipeline(pipeline)
    db.session.rollback()
    assert "secret 'api-token'" in err.value.message and "certificate 'ca'" in err.value.message
    assert "production" in err.value.message
    assert err.value.details == {"missingSecrets": ["api-token"], "missingCerts": ["ca"]}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PipelineVersion)) == 0
    assert not pipeline.deployed

    secret_svc.create_secret(world.env, "api-token", "tok")
    secret_svc.create_secret(world.env, "ca", "-----BEGIN CERTIFICATE-----")
    assert svc.deploy_pipeline(pipeline).version == 1


def test_other_secret_backends_resolve_references_on_the_agent(db, world):
    vault = factories.make_environment(world.team, "vaulted", secret_backend=SecretBackend.VAULT,
                                       secret_backend_config={"address": "https://vault:8200"})
    pipeline = svc.create_pipeline(vault, "shipper", WITH_SECRET)
    assert svc.deploy_pipeline(pipeline).version == 1


def test_a_version_number_is_never_used_twice(db, world):
    pipeline = svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG)
    db.session.add(PipelineVersion(pipeline_id=pipeline.id, version=1, config_yaml="x",
                                   author_label="other"))
    db.session.flush()
    # A concurrent deploy that computed the same number hits the unique constraint.
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.add(PipelineVersion(pipeline_id=pipeline.id, version=1, config_yaml="y",
                                       author_label="racer"))
    assert svc.deploy_pipeline(pipeline).version == 2


def test_undeploying_emits_an_event_and_keeps_the_history(db, world):
    pipeline = svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG)
    svc.deploy_pipeline(pipeline)
    svc.undeploy_pipeline(pipeline)
    svc.undeploy_pipeline(pipeline)  # already undeployed: nothing more happens
    db.session.commit()
    assert not pipeline.deployed and pipeline.deployed_at is None
    assert len(events_of(db, "pipeline.undeployed")) == 1
    assert svc.latest_version(pipeline).version == 1
    assert svc.deploy_pipeline(pipeline).version == 2


def test_a_deployed_pipeline_cannot_be_deleted(db, world):
    pipeline = svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG)
    svc.deploy_pipeline(pipeline)
    with pytest.raises(Conflict, match="undeploy it"):
        svc.delete_pipeline(pipeline)
    svc.undeploy_pipeline(pipeline)
    svc.delete_pipeline(pipeline)
    db.session.commit()
    assert svc.find_pipeline(world.env, "logs") is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PipelineVersion)) == 0


def test_secrets_are_stored_encrypted_and_audited_by_name_only(db, world):
    secret = secret_svc.create_secret(world.env, "db-password", "hunter2-very-secret")
    db.session.commit()
    assert "hunter2" not in secret.encrypted_value
    assert decrypt(secret.encrypted_value) == "hunter2-very-secret"
    rows = db.session.scalars(sa.select(AuditLog)).all()
    assert [r.after for r in rows] == [{"name": "db-password"}]
    assert "hunter2" not in repr([(r.before, r.after, r.details) for r in rows])


@pytest.mark.parametrize("name", ["", "has space", "semi;colon", "x" * 101, "SECRET[x]"])
def test_bad_secret_names_are_refused(db, world, name):
    with pytest.raises(ServiceError, match="secret name"):
        secret_svc.create_secret(world.env, name, "v")


def test_an_empty_secret_value_is_refused(db, world):
    with pytest.raises(ServiceError, match="must not be empty"):
        secret_svc.create_secret(world.env, "token", "")


def test_a_duplicate_secret_name_is_a_conflict(db, world):
    secret_svc.create_secret(world.env, "token", "a")
    with pytest.raises(Conflict, match="rotate it instead"):
        secret_svc.create_secret(world.env, "token", "b")


def test_rotating_a_secret_changes_the_value_and_emits_an_event(db, world):
    secret = secret_svc.create_secret(world.env, "token", "old")
    secret_svc.rotate_secret(secret, "new")
    secret_svc.rotate_secret(secret, "new")  # the same value again changes nothing
    db.session.commit()
    assert decrypt(secret.encrypted_value) == "new"
    (event,) = events_of(db, "secret.rotated")
    assert event.environment_id == world.env.id and event.payload == {"name": "token"}


def test_deleting_a_secret_used_by_a_deployed_pipeline_is_refused_naming_it(db, world):
    secret_svc.create_secret(world.env, "api-token", "tok")
    cert = secret_svc.create_secret(world.env, "ca", "pem")
    pipeline = svc.create_pipeline(world.env, "shipper", WITH_SECRET)
    svc.deploy_pipeline(pipeline)
    db.session.commit()
    with pytest.raises(Conflict) as err:
        secret_svc.delete_secret(cert)
    assert "'shipper'" in err.value.message
    assert err.value.details == {"pipelines": ["shipper"]}

    svc.undeploy_pipeline(pipeline)
    secret_svc.delete_secret(cert)
    db.session.commit()
    assert secret_svc.find_secret(world.env, "ca") is None


def test_a_secret_only_used_by_a_draft_can_be_deleted(db, world):
    secret = secret_svc.create_secret(world.env, "api-token", "tok")
    secret_svc.create_secret(world.env, "ca", "pem")
    svc.create_pipeline(world.env, "shipper", WITH_SECRET)
    secret_svc.delete_secret(secret)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Secret)) == 1


def test_two_simultaneous_deploys_on_postgresql_wait_for_each_other(app, db, world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers itself; row locks are a PostgreSQL matter")
    import threading

    from vectorflow.models import Pipeline

    pipeline_id = svc.create_pipeline(world.env, "logs", SIMPLE_CONFIG).id
    db.session.commit()
    barrier, results, errors = threading.Barrier(2, timeout=20), [], []

    def deploy():
        with app.app_context():
            try:
                mine = db.session.get(Pipeline, pipeline_id)
                mine.environment  # noqa: B018 - load before the race, not inside it
                barrier.wait()
                results.append(svc.deploy_pipeline(mine).version)
                db.session.commit()
            except Exception as err:  # noqa: BLE001 - reported below
                db.session.rollback()
                errors.append(err)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deploy, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # The second deploy waits for the first one's row lock, then finds nothing new to deploy.
    assert errors == []
    assert results == [1, 1]
    versions = db.session.scalars(
        sa.select(PipelineVersion.version).where(PipelineVersion.pipeline_id == pipeline_id)
    ).all()
    assert versions == [1]
    assert len(events_of(db, "pipeline.deployed")) == 1
