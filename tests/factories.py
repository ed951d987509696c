"""Helpers that build teams, users, environments, nodes and pipelines for tests."""
from __future__ import annotations

from dataclasses import dataclass, field

from vectorflow.extensions import db
from vectorflow.models import (
    Environment,
    NodeStatus,
    Pipeline,
    PipelineVersion,
    Role,
    Team,
    TeamMember,
    User,
    VectorNode,
    utcnow,
)
from vectorflow.security import NODE_PREFIX, generate_token, token_digest

PASSWORD = "correct-horse-battery"
_HASHES: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    """Hash a password once per test session, cheaply: tests sign in through the login form
    hundreds of times, and scrypt costs ~0.1 s per check (tests of the real method hash their own)."""
    if password not in _HASHES:
        from werkzeug.security import generate_password_hash

        _HASHES[password] = generate_password_hash(password, method="pbkdf2:sha256:1")
    return _HASHES[password]


def make_user(email: str, *, superadmin: bool = False, name: str = "") -> User:
    user = User(email=email, name=name or email.split("@")[0].title(), is_superadmin=superadmin)
    user.password_hash = password_hash()
    db.session.add(user)
    db.session.flush()
    return user


def make_team(name: str) -> Team:
    team = Team(name=name)
    db.session.add(team)
    db.session.flush()
    return team


def add_member(team: Team, user: User, role: Role) -> TeamMember:
    member = TeamMember(team=team, user=user, role=role)
    db.session.add(member)
    db.session.flush()
    return member


def make_environment(team: Team, name: str = "production", **kwargs) -> Environment:
    env = Environment(team=team, name=name, **kwargs)
    db.session.add(env)
    db.session.flush()
    return env


def make_node(env: Environment, name: str = "node-1", **kwargs) -> tuple[VectorNode, str]:
    """Create an enrolled, healthy node; return it with its bearer token."""
    token = generate_token(NODE_PREFIX)
    now = utcnow()
    values = dict(host=f"{name}.example.internal", status=NodeStatus.HEALTHY, enrolled_at=now,
                  last_heartbeat=now, last_seen=now, node_token_digest=token_digest(token))
    values.update(kwargs)
    node = VectorNode(environment=env, name=name, **values)
    db.session.add(node)
    db.session.flush()
    return node, token


def add_version(pipeline: Pipeline, config_yaml: str, *, version: int | None = None,
                log_level=None) -> PipelineVersion:
    """Add the next version of a pipeline (the way a deploy snapshots the draft)."""
    if version is None:
        version = max((v.version for v in pipeline.versions), default=0) + 1
    row = PipelineVersion(pipeline_id=pipeline.id, version=version, config_yaml=config_yaml,
                          log_level=log_level)
    db.session.add(row)
    db.session.flush()
    db.session.expire(pipeline, ["versions"])
    return row


@dataclass
class World:
    team: Team
    other_team: Team
    env: Environment
    other_env: Environment
    users: dict[str, User] = field(default_factory=dict)


def make_world() -> World:
    team = make_team("Platform")
    other = make_team("Payments")
    world = World(team=team, other_team=other, env=make_environment(team, "production"),
                  other_env=make_environment(other, "payments-prod"))
    for role in Role:
        user = make_user(f"{role.name.lower()}@example.com")
        add_member(team, user, role)
        world.users[role.name] = user
    outsider = make_user("outsider@example.com")
    add_member(other, outsider, Role.ADMIN)
    world.users["outsider"] = outsider
    world.users["superadmin"] = make_user("root@example.com", superadmin=True)
    db.session.commit()
    return world


SIMPLE_CONFIG = """\
sources:
  in:
    type: demo_logs
    format: json
sinks:
  out:
    type: console
    inputs: [in]
    encoding:
      codec: json
"""


def make_pipeline(env: Environment, name: str = "logs", config_yaml: str = SIMPLE_CONFIG, *,
                  deployed: bool = True, versions: int = 1, log_level=None):
    """Create a pipeline whose draft is ``config_yaml``, with ``versions`` versions (the last one
    holds the draft) and deployed unless told otherwise."""
    from vectorflow.models import Pipeline, PipelineVersion

    pipeline = Pipeline(environment=env, name=name, draft_yaml=config_yaml,
                        draft_log_level=log_level, deployed=deployed and versions > 0,
                        deployed_at=utcnow() if deployed and versions > 0 else None)
    db.session.add(pipeline)
    db.session.flush()
    for number in range(1, versions + 1):
        yaml_text = config_yaml if number == versions else config_yaml + f"# v{number}\n"
        db.session.add(PipelineVersion(pipeline_id=pipeline.id, version=number,
                                       config_yaml=yaml_text, log_level=log_level,
                                       author_label="factory"))
    db.session.flush()
    return pipeline


def make_secret(env: Environment, name: str, value: str = "s3cr3t-value"):
    """Create an encrypted secret in ``env``."""
    from vectorflow.models import Secret
    from vectorflow.security import encrypt

    secret = Secret(environment=env, name=name, encrypted_value=encrypt(value))
    db.session.add(secret)
    db.session.flush()
    return secret


def make_api_token(user: User) -> str:
    """Create a personal API token that acts as ``user``; return the token (committed)."""
    from vectorflow.models import ApiToken
    from vectorflow.security import API_PREFIX, token_hint

    raw = generate_token(API_PREFIX)
    db.session.add(ApiToken(name=f"{user.email} script", token_digest=token_digest(raw),
                            token_hint=token_hint(raw), user_id=user.id))
    db.session.commit()
    return raw
