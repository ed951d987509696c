"""Environments, the nodes enrolled into them, and node health history."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import IdColumn, UTCDateTime, new_id, utcnow
from .maintenance import DrainState


class SecretBackend(str, enum.Enum):
    BUILTIN = "BUILTIN"
    VAULT = "VAULT"
    AWS_SM = "AWS_SM"
    EXEC = "EXEC"


class NodeStatus(str, enum.Enum):
    HEALTHY = "HEALTHY"
    DEGRADED = "DEGRADED"
    UNREACHABLE = "UNREACHABLE"
    UNKNOWN = "UNKNOWN"


class DeploymentMode(str, enum.Enum):
    STANDALONE = "STANDALONE"
    DOCKER = "DOCKER"
    UNKNOWN = "UNKNOWN"


class Environment(db.Model):
    __tablename__ = "environments"
    __table_args__ = (sa.UniqueConstraint("team_id", "name"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    # SHA-256 hex of the current enrollment token; the token itself is shown once.
    enrollment_token_digest: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    enrollment_token_hint: Mapped[str | None] = mapped_column(sa.String(16))
    secret_backend: Mapped[SecretBackend] = mapped_column(
        sa.Enum(SecretBackend, name="secret_backend"), default=SecretBackend.BUILTIN
    )
    # Non-secret settings sent to agents (address, mount, auth method, role ...).
    secret_backend_config: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Credentials for the backend, encrypted; never sent to agents.
    secret_backend_credentials: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Raised in the same transaction as any change to what agents are sent (deployed
    # pipelines, versions, secrets, the secret backend): each process caches the rendered
    # pipelines by (environment, revision). See services/config_render.py.
    config_revision: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")

    team: Mapped["Team"] = relationship(back_populates="environments")  # noqa: F821
    nodes: Mapped[list["VectorNode"]] = relationship(
        back_populates="environment", cascade="all, delete-orphan", passive_deletes=True
    )
    pipelines: Mapped[list["Pipeline"]] = relationship(  # noqa: F821
        back_populates="environment", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Pipeline.name",
    )
    secrets: Mapped[list["Secret"]] = relationship(  # noqa: F821
        back_populates="environment", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Secret.name",
    )


class VectorNode(db.Model):
    __tablename__ = "vector_nodes"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    environment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(253), index=True)
    host: Mapped[str] = mapped_column(sa.String(253))
    status: Mapped[NodeStatus] = mapped_column(
        sa.Enum(NodeStatus, name="node_status"), default=NodeStatus.UNKNOWN
    )
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_version: Mapped[str | None] = mapped_column(sa.String(100))
    vector_version: Mapped[str | None] = mapped_column(sa.String(100))
    os: Mapped[str | None] = mapped_column(sa.String(100))
    deployment_mode: Mapped[DeploymentMode] = mapped_column(
        sa.Enum(DeploymentMode, name="deployment_mode"), default=DeploymentMode.UNKNOWN
    )
    running_as: Mapped[str | None] = mapped_column(sa.String(100))
    labels: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    pending_action: Mapped[dict | None] = mapped_column(sa.JSON)
    last_update_error: Mapped[str | None] = mapped_column(sa.String(500))
    # SHA-256 hex of the node token: one indexed lookup authenticates an agent.
    node_token_digest: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Maintenance (see services.maintenance): a node in maintenance is sent no pipelines.
    maintenance_mode: Mapped[bool] = mapped_column(
        sa.Boolean, default=False, server_default=sa.false()
    )
    maintenance_mode_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    maintenance_reason: Mapped[str | None] = mapped_column(sa.String(500))
    maintenance_by_label: Mapped[str | None] = mapped_column(sa.String(254))
    maintenance_by_id: Mapped[str | None] = mapped_column(sa.String(40))
    # Scheduled end; the sweep ends maintenance once it has passed.
    maintenance_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    drain_state: Mapped[DrainState | None] = mapped_column(sa.Enum(DrainState, name="drain_state"))
    drained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    environment: Mapped[Environment] = relationship(back_populates="nodes")
    pipeline_statuses: Mapped[list["NodePipelineStatus"]] = relationship(  # noqa: F821
        back_populates="node", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def team_id(self) -> str:
        return self.environment.team_id


class NodeStatusEvent(db.Model):
    """One transition of a node's health status (the status history)."""

    __tablename__ = "node_status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(
        sa.ForeignKey("vector_nodes.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[NodeStatus] = mapped_column(sa.Enum(NodeStatus, name="node_status"))
    to_status: Mapped[NodeStatus] = mapped_column(sa.Enum(NodeStatus, name="node_status"))
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
