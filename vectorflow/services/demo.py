"""The demo fleet that ``make run`` shows: a team, an environment, three deployed pipelines.

Seeding is idempotent: what exists already is reused, so running it again changes nothing
(except issuing a new enrollment token when the caller does not hold the current one).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..extensions import db
from ..models import Environment, Pipeline, Role, Team, User
from ..security import digests_match
from .accounts import create_team, find_team, set_membership
from .actors import Actor
from .environments import create_environment, issue_enrollment_token

DEMO_TEAM = "Demo"
DEMO_ENVIRONMENT = "demo"
DEMO_SECRET = "demo-ingest-token"

DEMO_PIPELINES = [
    (
        "Web access logs",
        "Parses Apache access logs and prints them as JSON.",
        """\
sources:
  web_logs:
    type: demo_logs
    format: apache_common
    interval: 0.5
transforms:
  parse_access:
    type: remap
    inputs: [web_logs]
    source: |
      . = parse_apache_log!(.message, format: "common")
      .environment = "demo"
sinks:
  stdout:
    type: console
    inputs: [parse_access]
    encoding:
      codec: json
""",
    ),
    (
        "Syslog archive",
        "Keeps only warnings and errors from syslog; drops the rest.",
        """\
sources:
  syslog_in:
    type: demo_logs
    format: syslog
    interval: 1
transforms:
  severity_filter:
    type: remap
    inputs: [syslog_in]
    source: |
      parsed = parse_syslog!(.message)
      .severity = parsed.severity
      .host = parsed.hostname
sinks:
  archive:
    type: blackhole
    inputs: [severity_filter]
    print_interval_secs: 60
""",
    ),
    (
        "Audit events to HTTP",
        "Ships JSON audit events to an HTTP collector with a token kept as a secret.",
        f"""\
sources:
  audit_in:
    type: demo_logs
    format: json
    interval: 2
transforms:
  tag_audit:
    type: remap
    inputs: [audit_in]
    source: |
      . = parse_json!(.message)
      .stream = "audit"
sinks:
  collector:
    type: http
    inputs: [tag_audit]
    uri: http://127.0.0.1:8080/ingest
    encoding:
      codec: json
    healthcheck:
      enabled: false
    auth:
      strategy: bearer
      token: SECRET[{DEMO_SECRET}]
""",
    ),
]


@dataclass
class DemoSeed:
    """What the demo consists of, and a valid enrollment token for its environment."""

    team: Team
    environment: Environment
    pipelines: list[Pipeline]
    enrollment_token: str
    admin: User | None
    created: list[str] = field(default_factory=list)


def first_admin() -> User | None:
    """Return the first superadmin (the one ``vectorflow init`` made), or the first user."""
    return db.session.scalar(
        sa.select(User).order_by(User.is_superadmin.desc(), User.created_at, User.id).limit(1)
    )


def seed_demo(known_token: str | None = None, *, actor: Actor | None = None) -> DemoSeed:
    """Create (or find) the demo team, environment, secret and deployed pipelines.

    ``known_token`` is an enrollment token the caller kept from an earlier run; it is returned
    again if it is still the environment's token, otherwise a new token is issued.
    """
    from .pipelines import create_pipeline, deploy_pipeline, find_pipeline
    from .secrets import create_secret, find_secret

    actor = actor or Actor.cli()
    created: list[str] = []
    team = find_team(DEMO_TEAM)
    if team is None:
        team = create_team(DEMO_TEAM, actor=actor)
        created.append(f"team {DEMO_TEAM}")
    admin = first_admin()
    if admin is not None:
        set_membership(team, admin, Role.ADMIN, actor=actor)
    env = db.session.scalar(
        sa.select(Environment).where(Environment.team_id == team.id,
                                     Environment.name == DEMO_ENVIRONMENT)
    )
    if env is None:
        env = create_environment(team, DEMO_ENVIRONMENT, actor=actor)
        created.append(f"environment {DEMO_ENVIRONMENT}")
    if known_token and digests_match(env.enrollment_token_digest, known_token):
        token = known_token
    else:
        token = issue_enrollment_token(env, actor=actor)
        created.append("enrollment token")
    if find_secret(env, DEMO_SECRET) is None:
        create_secret(env, DEMO_SECRET, secrets.token_urlsafe(24), actor=actor)
        created.append(f"secret {DEMO_SECRET}")
    pipelines = []
    for name, description, config_yaml in DEMO_PIPELINES:
        pipeline = find_pipeline(env, name)
        if pipeline is None:
            pipeline = create_pipeline(env, name, config_yaml, description, actor=actor)
            created.append(f"pipeline {name}")
        if not pipeline.deployed:
            deploy_pipeline(pipeline, actor=actor)
            created.append(f"deployment of {name}")
        pipelines.append(pipeline)
    return DemoSeed(team, env, pipelines, token, admin, created)
