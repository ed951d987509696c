"""Secrets of an environment: referenced from configs as SECRET[name] or CERT[name].

Values are encrypted at rest and never shown again after saving; audit rows and
events carry names only.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
import yaml

from ..extensions import db
from ..models import Environment, Pipeline, PipelineVersion, Secret
from ..schemas.fields import NAME_MAX, SECRET_VALUE_MAX, ensure_text
from ..security import decrypt, encrypt
from . import Conflict, ServiceError
from .actors import Actor
from .audit import record
from .events import emit
from .pipelines import check_delivered_size, latest_versions
from .vector_config import load_yaml, referenced_certs, referenced_secrets

NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX or not NAME_RE.match(name):
        raise ServiceError(
            f"secret name must be 1-{NAME_MAX} characters: letters, digits, _ . -",
            {"name": name},
        )
    return name


def _check_value(value: str | None) -> str:
    if value is None or value == "":
        raise ServiceError("secret value must not be empty")
    if len(value) > SECRET_VALUE_MAX:
        raise ServiceError(f"secret value must be at most {SECRET_VALUE_MAX // 1024} KiB")
    ensure_text(value, "value", "secret value")
    return value


def find_secret(env: Environment, name_or_id: str) -> Secret | None:
    """Return a secret of ``env`` by id or exact name."""
    secret = db.session.get(Secret, name_or_id)
    if secret is not None and secret.environment_id == env.id:
        return secret
    return db.session.scalar(
        sa.select(Secret).where(Secret.environment_id == env.id, Secret.name == name_or_id)
    )


def create_secret(env: Environment, name: str, value: str, *, actor: Actor | None = None) -> Secret:
    """Store a new secret, encrypted."""
    name = _check_name(name)
    value = _check_value(value)
    if db.session.scalar(
        sa.select(Secret.id).where(Secret.environment_id == env.id, Secret.name == name)
    ):
        raise Conflict(f"environment {env.name!r} already has a secret named {name!r}; rotate it instead",
                       {"name": name})
    secret = Secret(environment=env, name=name, encrypted_value=encrypt(value))
    db.session.add(secret)
    db.session.flush()
    record("secret.created", entity_type="secret", entity_id=secret.id, team_id=env.team_id,
           environment_id=env.id, after={"name": name}, actor=actor)
    return secret


def rotate_secret(secret: Secret, value: str, *, actor: Actor | None = None) -> Secret:
    """Replace a secret's value; deployed pipelines using it restart on their agents' next poll."""
    value = _check_value(value)
    try:
        unchanged = decrypt(secret.encrypted_value) == value
    except ValueError:
        unchanged = False
    if unchanged:
        return secret
    env = secret.environment
    secret.encrypted_value = encrypt(value)
    db.session.flush()
    check_delivered_size(env)
    record("secret.rotated", entity_type="secret", entity_id=secret.id, team_id=env.team_id,
           environment_id=env.id, after={"name": secret.name}, actor=actor)
    emit("secret.rotated", team_id=env.team_id, environment_id=env.id,
         payload={"name": secret.name})
    return secret


def secret_usage(env: Environment) -> dict[str, list[Pipeline]]:
    """Map each SECRET[]/CERT[] name used by a deployed pipeline's newest version to those pipelines."""
    deployed = db.session.scalars(
        sa.select(Pipeline).where(Pipeline.environment_id == env.id, Pipeline.deployed.is_(True))
        .order_by(Pipeline.name)
    ).all()
    versions = latest_versions(p.id for p in deployed)
    usage: dict[str, list[Pipeline]] = {}
    for pipeline in deployed:
        if pipeline.id in versions:
            for name in sorted(_references(versions[pipeline.id])):
                usage.setdefault(name, []).append(pipeline)
    return usage


def pipelines_using(env: Environment, name: str) -> list[Pipeline]:
    """Return the deployed pipelines whose newest version references ``name``."""
    return secret_usage(env).get(name, [])


def _references(version: PipelineVersion) -> set[str]:
    try:
        config = load_yaml(version.config_yaml)
    except yaml.YAMLError:  # a stored version was valid when deployed; be lenient anyway
        return set()
    return referenced_secrets(config) | referenced_certs(config)


def delete_secret(secret: Secret, *, actor: Actor | None = None) -> None:
    """Delete a secret that no deployed pipeline uses."""
    env = secret.environment
    users = pipelines_using(env, secret.name)
    if users:
        names = ", ".join(repr(p.name) for p in users)
        raise Conflict(
            f"secret {secret.name!r} is used by deployed pipeline{'s' if len(users) > 1 else ''} "
            f"{names}; remove the reference and deploy, or undeploy, before deleting it",
            {"pipelines": [p.name for p in users]},
        )
    record("secret.deleted", entity_type="secret", entity_id=secret.id, team_id=env.team_id,
           environment_id=env.id, before={"name": secret.name}, actor=actor)
    db.session.delete(secret)
    db.session.flush()
