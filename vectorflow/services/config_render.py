"""Render what agents receive: each deployed pipeline's config, secrets, certificates and checksum.

With the BUILTIN secret backend a config's SECRET[name] becomes ``${VF_SECRET_NAME}`` (the
value travels in ``secrets``) and CERT[name] becomes the path where the agent writes the
certificate (the file travels in ``certFiles``). With other backends the YAML goes out as
written and the agent resolves references itself.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import logging
from dataclasses import dataclass
from itertools import chain

import sqlalchemy as sa
import yaml
from flask import current_app
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Environment, Pipeline, PipelineVersion, Secret, SecretBackend
from ..schemas.agent import AgentPipeline
from ..security import decrypt
from .vector_config import (
    AGENT_CERT_DIR,
    CERT_REF,
    SECRET_REF,
    cert_filename,
    env_var_name,
    load_yaml,
    referenced_certs,
    referenced_secrets,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedYaml:
    """A version's YAML as delivered, and the secret and certificate names it needs."""

    text: str
    secret_names: tuple[str, ...] = ()
    cert_names: tuple[str, ...] = ()


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Write plain YAML: no anchors or aliases for repeated values."""

    def ignore_aliases(self, data) -> bool:
        return True


def _replace_refs(value: str) -> str:
    value = SECRET_REF.sub(lambda m: "${" + env_var_name(m.group(1)) + "}", value)
    return CERT_REF.sub(lambda m: f"{AGENT_CERT_DIR}/{cert_filename(m.group(1))}", value)


def _rewrite(node):
    if isinstance(node, str):
        return _replace_refs(node)
    if isinstance(node, dict):
        return {_rewrite(key): _rewrite(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    return node


@functools.lru_cache(maxsize=2048)
def render_yaml(config_yaml: str, builtin: bool) -> RenderedYaml:
    """Return the YAML an agent receives for a version (cached: versions never change)."""
    if not builtin:
        return RenderedYaml(config_yaml)
    try:
        parsed = load_yaml(config_yaml)
    except yaml.YAMLError:
        log.warning("deployed pipeline config is not valid YAML; delivering it as written")
        return RenderedYaml(config_yaml)
    secrets = tuple(sorted(referenced_secrets(parsed)))
    certs = tuple(sorted(referenced_certs(parsed)))
    if not secrets and not certs:
        # Nothing to resolve: keep the author's layout and comments.
        return RenderedYaml(config_yaml)
    text = yaml.dump(_rewrite(parsed), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=1 << 30)
    return RenderedYaml(text, secrets, certs)


def checksum(config_yaml: str, secrets: dict[str, str] | None = None,
             cert_files: list[dict] | None = None) -> str:
    """Return the SHA-256 hex of a delivered config with its resolved secrets and certificates.

    Without secrets or certificates this is exactly the SHA-256 of the YAML.
    """
    digest = hashlib.sha256(config_yaml.encode("utf-8"))
    for name, value in sorted((secrets or {}).items()):
        digest.update(b"\0secret\0" + name.encode() + b"\0" + value.encode("utf-8"))
    for cert in sorted(cert_files or (), key=lambda c: c["filename"]):
        digest.update(b"\0cert\0" + cert["filename"].encode() + b"\0" + cert["data"].encode())
    return digest.hexdigest()


# The config poll is the hottest path of the server: its statements are built once (building
# a SELECT costs more than SQLite takes to run it) and run on the session's connection.
_VERSION_COLUMNS = (
    sa.literal_column("'version'").label("kind"),
    Pipeline.id.label("key"),
    Pipeline.name.label("name"),
    PipelineVersion.version.label("version"),
    PipelineVersion.config_yaml.label("text"),
    sa.cast(PipelineVersion.log_level, sa.String(10)).label("log_level"),
)
_LATEST_VERSIONS = (
    sa.select(*_VERSION_COLUMNS)
    .join(PipelineVersion, PipelineVersion.pipeline_id == Pipeline.id)
    .where(
        Pipeline.environment_id == sa.bindparam("environment_id"),
        Pipeline.deployed.is_(True),
        PipelineVersion.version == (
            sa.select(sa.func.max(PipelineVersion.version))
            .where(PipelineVersion.pipeline_id == Pipeline.id)
            .correlate(Pipeline)
            .scalar_subquery()
        ),
    )
)
# With the BUILTIN backend the secrets come in the same round trip: every secret of the
# environment (tens, not thousands) as (name, ciphertext); only the referenced ones are
# decrypted.
_LATEST_VERSIONS_AND_SECRETS = sa.union_all(
    _LATEST_VERSIONS,
    sa.select(sa.literal_column("'secret'"), Secret.id, Secret.name, sa.null(),
              Secret.encrypted_value, sa.null())
    .where(Secret.environment_id == sa.bindparam("environment_id")),
)
_LATEST_VERSIONS = _LATEST_VERSIONS.order_by(Pipeline.name, Pipeline.id)


_PLAINTEXTS = "vectorflow.config_render.plaintexts"
_MAX_PLAINTEXTS = 4096


def _decrypt(ciphertext: str) -> str:
    """Decrypt a secret, remembering the result per app for later polls.

    Each encryption has its own random IV, so a ciphertext stands for one value only: a
    rotated secret is a new key here. Decrypting (HMAC check and AES) was a tenth of a poll.
    """
    cache = current_app.extensions.setdefault(_PLAINTEXTS, {})
    value = cache.get(ciphertext)
    if value is None:
        if len(cache) >= _MAX_PLAINTEXTS:
            cache.clear()
        value = cache[ciphertext] = decrypt(ciphertext)
    return value


def _environment_rows(environment_id: str, builtin: bool) -> tuple[list, dict[str, str]]:
    """Return the latest versions of the deployed pipelines, ordered by name, and the
    environment's secret ciphertexts by name (empty unless ``builtin``): one query."""
    statement = _LATEST_VERSIONS_AND_SECRETS if builtin else _LATEST_VERSIONS
    rows = db.session.connection().execute(statement, {"environment_id": environment_id}).all()
    versions = sorted((r for r in rows if r.kind == "version"), key=lambda r: (r.name, r.key))
    ciphertexts = {r.name: r.text for r in rows if r.kind == "secret"}
    return versions, ciphertexts


def render_environment_pipelines(environment: Environment) -> list[AgentPipeline]:
    """Return the config entries of the environment's deployed pipelines, as agents receive them.

    One query whatever the number of pipelines or nodes (the latest version of every
    deployed pipeline, with the environment's secrets); a pipeline gets only the secrets
    its YAML references.
    """
    builtin = environment.secret_backend == SecretBackend.BUILTIN
    rows, ciphertexts = _environment_rows(environment.id, builtin)
    return _entries(rows, builtin, ciphertexts)


@dataclass(frozen=True)
class _Draft:
    """A pipeline's draft in the shape of a row of ``_environment_rows``."""

    key: str
    name: str
    text: str
    log_level: str | None
    version: int = 0


def render_with_draft(environment: Environment, pipeline: Pipeline) -> list[AgentPipeline]:
    """Return the entries the environment's agents would receive once ``pipeline``'s draft
    is deployed (to check what a deploy would send before making it)."""
    builtin = environment.secret_backend == SecretBackend.BUILTIN
    rows, ciphertexts = _environment_rows(environment.id, builtin)
    level = pipeline.draft_log_level.value if pipeline.draft_log_level else None
    draft = _Draft(pipeline.id, pipeline.name, pipeline.draft_yaml or "", level)
    rows = sorted([r for r in rows if r.key != pipeline.id] + [draft],
                  key=lambda r: (r.name, r.key))
    return _entries(rows, builtin, ciphertexts)


def _entries(rows, builtin: bool, ciphertexts: dict[str, str]) -> list[AgentPipeline]:
    rendered = [render_yaml(row.text, builtin) for row in rows]
    wanted = {name for r in rendered for name in r.secret_names + r.cert_names}
    values = {name: _decrypt(ciphertexts[name]) for name in wanted if name in ciphertexts}

    entries = []
    for row, out in zip(rows, rendered):
        secrets = {env_var_name(n): values[n] for n in out.secret_names if n in values}
        cert_files = [
            {"name": n, "filename": cert_filename(n),
             "data": base64.b64encode(values[n].encode("utf-8")).decode("ascii")}
            for n in out.cert_names if n in values
        ]
        missing = [n for n in out.secret_names + out.cert_names if n not in values]
        if missing:
            log.warning("pipeline %s references missing secrets %s", row.key, ", ".join(missing))
        optional = {"log_level": row.log_level, "secrets": secrets, "cert_files": cert_files}
        entries.append(AgentPipeline(
            pipeline_id=row.key, pipeline_name=row.name, version=row.version,
            config_yaml=out.text, checksum=checksum(out.text, secrets, cert_files),
            **{key: value for key, value in optional.items() if value},
        ))
    return entries


def delivered_size(entry: AgentPipeline) -> int:
    """Return the bytes a config entry takes in a config poll's JSON."""
    return len(entry.model_dump_json(by_alias=True, exclude_unset=True).encode())


# --- the per-process cache of rendered pipelines ---------------------------------------------

_RENDERED = "vectorflow.config_render.rendered"
_MAX_RENDERED = 1024
# What a rendered config is made of; a change to any of them raises the revision.
_ENVIRONMENT_INPUTS = ("secret_backend", "secret_backend_config")


def cached_environment_pipelines(environment: Environment) -> list[AgentPipeline]:
    """Return ``render_environment_pipelines(environment)``, rendered once per process and
    ``config_revision``: the config poll's path, where rendering was a quarter of the cost.

    Only for read-only transactions such as the poll's. A transaction that changed the
    environment's pipelines or secrets sees a revision that may yet roll back, so it must
    call ``render_environment_pipelines``. (Data read after the revision can only be newer
    than it, so a cached entry is never older than its revision.)
    """
    cache = current_app.extensions.setdefault(_RENDERED, {})
    hit = cache.get(environment.id)
    if hit is not None and hit[0] == environment.config_revision:
        return list(hit[1])
    entries = render_environment_pipelines(environment)
    if len(cache) >= _MAX_RENDERED:
        cache.clear()
    cache[environment.id] = (environment.config_revision, entries)
    return list(entries)


def _changed_environment_ids(session: Session) -> set[str]:
    """Return the environments whose rendered config the pending flush may change."""
    ids = set()
    for obj in chain(session.new, session.deleted,
                     (o for o in session.dirty if session.is_modified(o))):
        if isinstance(obj, (Pipeline, Secret)):
            ids.add(obj.environment_id)
        elif isinstance(obj, PipelineVersion):
            pipeline = obj.pipeline or session.get(Pipeline, obj.pipeline_id)
            ids.add(pipeline.environment_id if pipeline is not None else None)
        elif isinstance(obj, Environment) and obj not in session.new and any(
                sa.inspect(obj).attrs[name].history.has_changes() for name in _ENVIRONMENT_INPUTS):
            ids.add(obj.id)
    ids.discard(None)
    return ids


def _raise_config_revisions(session: Session, flush_context, instances) -> None:
    """Raise ``config_revision`` of every environment the flush changes a config input of,
    in the same transaction (SQL ``+ 1``, so concurrent writers never lose a raise)."""
    for env_id in _changed_environment_ids(session):
        env = session.get(Environment, env_id)
        if env is not None and env not in session.deleted and env not in session.new:
            env.config_revision = Environment.config_revision + 1


def init_app(app) -> None:
    """Keep ``environments.config_revision`` in step with every ORM write of a config input."""
    if not sa_event.contains(Session, "before_flush", _raise_config_revisions):
        sa_event.listen(Session, "before_flush", _raise_config_revisions)
