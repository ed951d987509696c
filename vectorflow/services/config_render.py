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

import sqlalchemy as sa
import yaml

from ..extensions import db
from ..models import Environment, Pipeline, PipelineVersion, Secret, SecretBackend
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
        return RenderedYaml(config_yaml)  # nothing to resolve: keep the author's layout and comments
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


def _latest_deployed_versions(environment_id: str):
    latest = (
        sa.select(PipelineVersion.pipeline_id, sa.func.max(PipelineVersion.version).label("version"))
        .join(Pipeline, Pipeline.id == PipelineVersion.pipeline_id)
        .where(Pipeline.environment_id == environment_id, Pipeline.deployed.is_(True))
        .group_by(PipelineVersion.pipeline_id)
        .subquery()
    )
    query = (
        sa.select(Pipeline.id, Pipeline.name, PipelineVersion.version, PipelineVersion.config_yaml,
                  PipelineVersion.log_level)
        .join(PipelineVersion, PipelineVersion.pipeline_id == Pipeline.id)
        .join(latest, sa.and_(latest.c.pipeline_id == PipelineVersion.pipeline_id,
                              latest.c.version == PipelineVersion.version))
        .order_by(Pipeline.name, Pipeline.id)
    )
    return db.session.execute(query).all()


def _secret_values(environment_id: str, names: set[str]) -> dict[str, str]:
    if not names:
        return {}
    rows = db.session.execute(
        sa.select(Secret.name, Secret.encrypted_value)
        .where(Secret.environment_id == environment_id, Secret.name.in_(sorted(names)))
    ).all()
    return {name: decrypt(value) for name, value in rows}


def render_environment_pipelines(environment: Environment) -> list[dict]:
    """Return the config entries of the environment's deployed pipelines, as agents receive them.

    Two queries whatever the number of pipelines or nodes: the latest version of every
    deployed pipeline, then the secrets those versions reference.
    """
    builtin = environment.secret_backend == SecretBackend.BUILTIN
    rows = _latest_deployed_versions(environment.id)
    rendered = [render_yaml(row.config_yaml, builtin) for row in rows]
    wanted = {name for r in rendered for name in r.secret_names + r.cert_names}
    values = _secret_values(environment.id, wanted)

    entries = []
    for row, out in zip(rows, rendered):
        entry = {
            "pipelineId": row.id,
            "pipelineName": row.name,
            "version": row.version,
            "configYaml": out.text,
        }
        secrets = {env_var_name(n): values[n] for n in out.secret_names if n in values}
        cert_files = [
            {"name": n, "filename": cert_filename(n),
             "data": base64.b64encode(values[n].encode("utf-8")).decode("ascii")}
            for n in out.cert_names if n in values
        ]
        missing = [n for n in out.secret_names + out.cert_names if n not in values]
        if missing:
            log.warning("pipeline %s references missing secrets %s", row.id, ", ".join(missing))
        entry["checksum"] = checksum(out.text, secrets, cert_files)
        if row.log_level is not None:
            entry["logLevel"] = row.log_level.value
        if secrets:
            entry["secrets"] = secrets
        if cert_files:
            entry["certFiles"] = cert_files
        entries.append(entry)
    return entries
