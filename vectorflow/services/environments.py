"""Environments and their enrollment tokens."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import Environment, SecretBackend, Team
from ..schemas.fields import NAME_MAX, ensure_text, json_problem
from ..security import ENROLL_PREFIX, generate_token, token_digest, token_hint
from . import Conflict, ServiceError, find_by_id_or_name
from .actors import Actor
from .audit import record


def find_environment(name_or_id: str, team: Team | None = None) -> Environment | None:
    """Return an environment by id, or by name (within ``team`` when given)."""
    scope = [Environment.team_id == team.id] if team is not None else []
    return find_by_id_or_name(Environment, name_or_id, "environment", *scope)


def create_environment(
    team: Team,
    name: str,
    *,
    secret_backend: SecretBackend | str = SecretBackend.BUILTIN,
    secret_backend_config: dict | None = None,
    actor: Actor | None = None,
) -> Environment:
    """Create an environment in a team."""
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise ServiceError(f"environment name must be 1-{NAME_MAX} characters")
    ensure_text(name, "name", "environment name")
    try:
        backend = SecretBackend(secret_backend)
    except ValueError:
        raise ServiceError(
            f"secret backend must be one of {', '.join(b.value for b in SecretBackend)}"
        ) from None
    config = secret_backend_config or {}
    if not isinstance(config, dict):
        raise ServiceError("secret backend config must be an object")
    problem = json_problem(config)
    if problem:
        raise ServiceError(f"secret backend config: {problem}", {"secretBackendConfig": problem})
    if db.session.scalar(
        sa.select(Environment).where(Environment.team_id == team.id, Environment.name == name)
    ):
        raise Conflict(f"team {team.name!r} already has an environment named {name!r}")
    env = Environment(team=team, name=name, secret_backend=backend, secret_backend_config=config)
    db.session.add(env)
    db.session.flush()
    record("environment.created", entity_type="environment", entity_id=env.id, team_id=team.id,
           environment_id=env.id, after={"name": name, "secretBackend": backend.value}, actor=actor)
    return env


def issue_enrollment_token(env: Environment, *, actor: Actor | None = None) -> str:
    """Replace the environment's enrollment token and return the new one (shown once)."""
    token = generate_token(ENROLL_PREFIX)
    before = {"hint": env.enrollment_token_hint}
    env.enrollment_token_digest = token_digest(token)
    env.enrollment_token_hint = token_hint(token)
    db.session.flush()
    record("environment.enrollment_token_issued", entity_type="environment", entity_id=env.id,
           team_id=env.team_id, environment_id=env.id, before=before,
           after={"hint": env.enrollment_token_hint}, actor=actor)
    return token
