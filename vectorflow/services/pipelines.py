"""Pipelines: drafts, deploys (immutable numbered versions) and undeploys.

Agents only ever receive deployed versions, so editing a draft never reaches them.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Environment,
    LogLevel,
    Pipeline,
    PipelineVersion,
    Secret,
    SecretBackend,
    utcnow,
)
from ..schemas.fields import (
    CONFIG_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    RENDERED_ENVIRONMENT_MAX,
    RENDERED_PIPELINE_MAX,
    ensure_text,
)
from . import Conflict, NotFound, ServiceError
from .actors import Actor, current_actor
from .audit import record
from .config_render import (
    delivered_size,
    render_environment_pipelines,
    render_with_draft,
)
from .events import emit
from .locks import lock_environments
from .vector_config import (
    load_yaml,
    referenced_certs,
    referenced_secrets,
    validate_vector_config,
)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$")


def parse_log_level(value: LogLevel | str | None) -> LogLevel | None:
    """Return the log level named ``value`` (case-insensitive); None or "" means the default."""
    if value is None or value == "":
        return None
    if isinstance(value, LogLevel):
        return value
    try:
        return LogLevel(str(value).strip().upper())
    except ValueError:
        raise ServiceError(
            f"log level must be one of {', '.join(level.value for level in LogLevel)}",
            {"logLevel": str(value)},
        ) from None


def check_config(config_yaml: str) -> str:
    """Return the config unchanged, or raise a ServiceError listing every problem in it."""
    if len(config_yaml or "") > CONFIG_MAX:
        raise ServiceError(f"config is larger than {CONFIG_MAX // 1024} KiB")
    ensure_text(config_yaml, "config", "config")
    errors = validate_vector_config(config_yaml)
    if errors:
        raise ServiceError(f"invalid Vector config: {errors[0]}", {"config": errors})
    return config_yaml


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{-(-n // 1024)} KiB"


def check_delivered_size(env: Environment, draft_of: Pipeline | None = None) -> None:
    """Refuse a change after which each config poll of ``env``'s agents would carry more than
    RENDERED_PIPELINE_MAX for one pipeline or RENDERED_ENVIRONMENT_MAX in all (the YAML as
    delivered, with the secrets and certificates it references); ``draft_of`` counts that
    pipeline's draft as deployed."""
    entries = render_with_draft(env, draft_of) if draft_of else render_environment_pipelines(env)
    sizes = [(entry.pipeline_name, delivered_size(entry)) for entry in entries]
    limits = [(f"pipeline {name!r}", " (its YAML as delivered with its secrets and certificates)",
               size, RENDERED_PIPELINE_MAX, "per pipeline", "renderedPipelineBytes")
              for name, size in sizes]
    limits.append((f"environment {env.name!r}", f" for its {len(sizes)} deployed pipelines",
                   sum(size for _, size in sizes), RENDERED_ENVIRONMENT_MAX, "per environment",
                   "renderedEnvironmentBytes"))
    for who, what, size, limit, per, key in limits:
        if size > limit:
            raise ServiceError(
                f"{who} would send {_size(size)} to each agent{what}, over the limit of "
                f"{_size(limit)} {per}",
                {"limit": key, "bytes": size, "maxBytes": limit},
            )


def _check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX or not NAME_RE.match(name):
        raise ServiceError(
            f"pipeline name must be 1-{NAME_MAX} characters: letters, digits, spaces, _ . -",
            {"name": name},
        )
    return name


def _check_description(description: str | None) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ServiceError(f"description must be at most {DESCRIPTION_MAX} characters")
    ensure_text(description, "description", "description")
    return description


def _ensure_unique_name(env_id: str, name: str, pipeline_id: str | None = None) -> None:
    query = sa.select(Pipeline.id).where(Pipeline.environment_id == env_id, Pipeline.name == name)
    existing = db.session.scalar(query)
    if existing is not None and existing != pipeline_id:
        raise Conflict(f"this environment already has a pipeline named {name!r}", {"name": name})


def _digest(text: str) -> str:
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def _summary(pipeline: Pipeline) -> dict:
    """The audited view of a pipeline: the YAML is summarised by its digest."""
    return {
        "name": pipeline.name,
        "description": pipeline.description,
        "logLevel": pipeline.draft_log_level.value if pipeline.draft_log_level else None,
        "configSha256": _digest(pipeline.draft_yaml),
    }


def find_pipeline(env: Environment, name_or_id: str) -> Pipeline | None:
    """Return a pipeline of ``env`` by id or exact name."""
    pipeline = db.session.get(Pipeline, name_or_id)
    if pipeline is not None and pipeline.environment_id == env.id:
        return pipeline
    return db.session.scalar(
        sa.select(Pipeline).where(Pipeline.environment_id == env.id, Pipeline.name == name_or_id)
    )


def create_pipeline(
    env: Environment,
    name: str,
    config_yaml: str,
    description: str = "",
    log_level: LogLevel | str | None = None,
    *,
    actor: Actor | None = None,
) -> Pipeline:
    """Create an undeployed pipeline whose draft is ``config_yaml``."""
    name = _check_name(name)
    description = _check_description(description)
    level = parse_log_level(log_level)
    check_config(config_yaml)
    _ensure_unique_name(env.id, name)
    pipeline = Pipeline(environment=env, name=name, description=description,
                        draft_yaml=config_yaml, draft_log_level=level, deployed=False)
    db.session.add(pipeline)
    db.session.flush()
    record("pipeline.created", entity_type="pipeline", entity_id=pipeline.id, team_id=env.team_id,
           environment_id=env.id, after=_summary(pipeline), actor=actor)
    return pipeline


def update_draft(
    pipeline: Pipeline,
    config_yaml: str | None = None,
    description: str | None = None,
    log_level: LogLevel | str | None = None,
    name: str | None = None,
    *,
    actor: Actor | None = None,
) -> Pipeline:
    """Change the draft (and name/description); what agents receive changes only on deploy.

    Arguments left as None keep their value; pass ``log_level=""`` to reset it to the default.
    """
    pipeline = lock_pipeline(pipeline)
    before = _summary(pipeline)
    if name is not None:
        name = _check_name(name)
        _ensure_unique_name(pipeline.environment_id, name, pipeline.id)
        pipeline.name = name
    if description is not None:
        pipeline.description = _check_description(description)
    if log_level is not None:
        pipeline.draft_log_level = parse_log_level(log_level)
    if config_yaml is not None:
        pipeline.draft_yaml = check_config(config_yaml)
    after = _summary(pipeline)
    if after == before:
        return pipeline
    db.session.flush()
    record("pipeline.draft_updated", entity_type="pipeline", entity_id=pipeline.id,
           team_id=pipeline.environment.team_id, environment_id=pipeline.environment_id,
           before=before, after=after, actor=actor)
    return pipeline


def latest_version(pipeline: Pipeline) -> PipelineVersion | None:
    """Return the newest version of a pipeline (the one agents run when it is deployed)."""
    return db.session.scalar(
        sa.select(PipelineVersion).where(PipelineVersion.pipeline_id == pipeline.id)
        .order_by(PipelineVersion.version.desc()).limit(1)
    )


def latest_versions(pipeline_ids: Iterable[str]) -> dict[str, PipelineVersion]:
    """Return the newest version of each pipeline in one query, keyed by pipeline id."""
    ids = list(pipeline_ids)
    if not ids:
        return {}
    newest = (
        sa.select(PipelineVersion.pipeline_id, sa.func.max(PipelineVersion.version).label("v"))
        .where(PipelineVersion.pipeline_id.in_(ids))
        .group_by(PipelineVersion.pipeline_id)
        .subquery()
    )
    rows = db.session.scalars(
        sa.select(PipelineVersion).join(
            newest,
            sa.and_(PipelineVersion.pipeline_id == newest.c.pipeline_id,
                    PipelineVersion.version == newest.c.v),
        )
    )
    return {row.pipeline_id: row for row in rows}


def draft_differs(pipeline: Pipeline, latest: PipelineVersion | None = None) -> bool:
    """Return whether the draft (YAML or log level) differs from the newest version."""
    latest = latest if latest is not None else latest_version(pipeline)
    if latest is None:
        return True
    return latest.config_yaml != pipeline.draft_yaml or latest.log_level != pipeline.draft_log_level


def missing_references(env: Environment, config_yaml: str) -> tuple[list[str], list[str]]:
    """Return the secret and certificate names a config references that ``env`` lacks.

    Only the BUILTIN backend resolves references from the environment's own secrets;
    other backends resolve them on the agent, so nothing is missing here.
    """
    if env.secret_backend != SecretBackend.BUILTIN:
        return [], []
    config = load_yaml(config_yaml)
    wanted_secrets, wanted_certs = referenced_secrets(config), referenced_certs(config)
    if not wanted_secrets and not wanted_certs:
        return [], []
    existing = set(db.session.scalars(
        sa.select(Secret.name).where(Secret.environment_id == env.id,
                                     Secret.name.in_(wanted_secrets | wanted_certs))
    ))
    return sorted(wanted_secrets - existing), sorted(wanted_certs - existing)


def lock_pipeline(pipeline: Pipeline) -> Pipeline:
    """Lock the pipeline's environment, then its row (services.locks: the lock order), so
    concurrent deploys run one after the other; NotFound if it was deleted meanwhile."""
    lock_environments([pipeline.environment_id])
    locked = db.session.scalars(
        sa.select(Pipeline).where(Pipeline.id == pipeline.id)
        .with_for_update(key_share=True).execution_options(populate_existing=True)
    ).one_or_none()
    if locked is None:
        raise NotFound(f"pipeline {pipeline.id} not found")
    return locked


def deploy_pipeline(pipeline: Pipeline, *, actor: Actor | None = None) -> PipelineVersion:
    """Snapshot the draft into version n+1 and deliver it to the environment's agents.

    Deploying a pipeline that is already deployed with an unchanged draft changes
    nothing and returns the current version.
    """
    pipeline = lock_pipeline(pipeline)
    env = pipeline.environment
    check_config(pipeline.draft_yaml)
    secrets, certs = missing_references(env, pipeline.draft_yaml)
    if secrets or certs:
        parts = [f"secret {n!r}" for n in secrets] + [f"certificate {n!r}" for n in certs]
        raise ServiceError(
            f"pipeline {pipeline.name!r} references {', '.join(parts)}, which "
            f"{'does' if len(parts) == 1 else 'do'} not exist in environment {env.name!r}; "
            "create it on the environment's Secrets page first",
            {"missingSecrets": secrets, "missingCerts": certs},
        )
    latest = latest_version(pipeline)
    if pipeline.deployed and latest is not None and not draft_differs(pipeline, latest):
        return latest
    check_delivered_size(env, draft_of=pipeline)

    actor = actor or current_actor()
    number = (latest.version if latest else 0) + 1
    version = PipelineVersion(pipeline_id=pipeline.id, version=number,
                              config_yaml=pipeline.draft_yaml, log_level=pipeline.draft_log_level,
                              author_id=actor.user_id, author_label=actor.label)
    try:
        with db.session.begin_nested():
            db.session.add(version)
            db.session.flush()
    except IntegrityError:
        raise Conflict(
            f"pipeline {pipeline.name!r} was deployed by someone else at the same time; "
            "reload and try again"
        ) from None
    was_deployed = pipeline.deployed
    pipeline.deployed = True
    pipeline.deployed_at = utcnow()
    db.session.flush()
    record("pipeline.deployed", entity_type="pipeline", entity_id=pipeline.id,
           team_id=env.team_id, environment_id=env.id,
           before={"deployed": was_deployed, "version": latest.version if latest else None},
           after={"deployed": True, "version": number, "configSha256": _digest(version.config_yaml)},
           actor=actor)
    emit("pipeline.deployed", team_id=env.team_id, environment_id=env.id,
         payload={"pipelineId": pipeline.id, "pipelineName": pipeline.name, "version": number})
    return version


def undeploy_pipeline(pipeline: Pipeline, *, actor: Actor | None = None) -> Pipeline:
    """Stop delivering a pipeline to agents (they stop it on their next poll)."""
    pipeline = lock_pipeline(pipeline)
    if not pipeline.deployed:
        return pipeline
    env = pipeline.environment
    latest = latest_version(pipeline)
    pipeline.deployed = False
    pipeline.deployed_at = None
    db.session.flush()
    record("pipeline.undeployed", entity_type="pipeline", entity_id=pipeline.id,
           team_id=env.team_id, environment_id=env.id,
           before={"deployed": True, "version": latest.version if latest else None},
           after={"deployed": False}, actor=actor)
    emit("pipeline.undeployed", team_id=env.team_id, environment_id=env.id,
         payload={"pipelineId": pipeline.id, "pipelineName": pipeline.name})
    return pipeline


def delete_pipeline(pipeline: Pipeline, *, actor: Actor | None = None) -> None:
    """Delete an undeployed pipeline and its versions."""
    pipeline = lock_pipeline(pipeline)
    if pipeline.deployed:
        raise Conflict(f"pipeline {pipeline.name!r} is deployed; undeploy it before deleting it")
    env = pipeline.environment
    before = _summary(pipeline)
    before["versions"] = db.session.scalar(
        sa.select(sa.func.count()).select_from(PipelineVersion)
        .where(PipelineVersion.pipeline_id == pipeline.id)
    )
    record("pipeline.deleted", entity_type="pipeline", entity_id=pipeline.id,
           team_id=env.team_id, environment_id=env.id, before=before, actor=actor)
    db.session.delete(pipeline)
    db.session.flush()
