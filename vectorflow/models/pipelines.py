"""Pipelines, their versions, per-node pipeline status and environment secrets."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import IdColumn, UTCDateTime, new_id, utcnow


class LogLevel(str, enum.Enum):
    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class ProcessStatus(str, enum.Enum):
    RUNNING = "RUNNING"
    STARTING = "STARTING"
    STOPPED = "STOPPED"
    CRASHED = "CRASHED"
    PENDING = "PENDING"


class Pipeline(db.Model):
    __tablename__ = "pipelines"
    __table_args__ = (
        sa.UniqueConstraint("environment_id", "name"),
        sa.CheckConstraint("min_available IS NULL OR min_available_percent IS NULL",
                           name="one_disruption_budget"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    environment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # The working copy; deploying snapshots it into a new PipelineVersion.
    draft_yaml: Mapped[str] = mapped_column(sa.Text, default="")
    draft_log_level: Mapped[LogLevel | None] = mapped_column(sa.Enum(LogLevel, name="log_level"))
    deployed: Mapped[bool] = mapped_column(sa.Boolean, default=False, index=True)
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Disruption budget (services.budgets): how many healthy nodes outside maintenance must
    # keep running it, as a count or a percentage of the environment's nodes; both None
    # means the default, 1.
    min_available: Mapped[int | None] = mapped_column(sa.Integer)
    min_available_percent: Mapped[int | None] = mapped_column(sa.Integer)

    environment: Mapped["Environment"] = relationship(back_populates="pipelines")  # noqa: F821
    versions: Mapped[list["PipelineVersion"]] = relationship(
        back_populates="pipeline", cascade="all, delete-orphan", passive_deletes=True,
        order_by="PipelineVersion.version.desc()",
    )


class PipelineVersion(db.Model):
    __tablename__ = "pipeline_versions"
    __table_args__ = (sa.UniqueConstraint("pipeline_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(sa.Integer)
    config_yaml: Mapped[str] = mapped_column(sa.Text)
    log_level: Mapped[LogLevel | None] = mapped_column(sa.Enum(LogLevel, name="log_level"))
    author_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    author_label: Mapped[str] = mapped_column(sa.String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    pipeline: Mapped[Pipeline] = relationship(back_populates="versions")


class NodePipelineStatus(db.Model):
    __tablename__ = "node_pipeline_statuses"
    __table_args__ = (
        sa.UniqueConstraint("node_id", "pipeline_id"),
        # The fleet table's drift and errors filters (services/fleet.py).
        sa.Index("ix_node_pipeline_statuses_pipeline_id_version", "pipeline_id", "version"),
        sa.Index("ix_node_pipeline_statuses_status_node_id", "status", "node_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(
        sa.ForeignKey("vector_nodes.id", ondelete="CASCADE"), index=True
    )
    pipeline_id: Mapped[str] = mapped_column(
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[ProcessStatus] = mapped_column(
        sa.Enum(ProcessStatus, name="process_status"), default=ProcessStatus.PENDING
    )
    pid: Mapped[int | None] = mapped_column(sa.Integer)
    uptime_seconds: Mapped[int | None] = mapped_column(sa.BigInteger)
    events_in: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    events_out: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    errors_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    events_discarded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    bytes_in: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    utilization: Mapped[float | None] = mapped_column(sa.Float)
    recent_logs: Mapped[list | None] = mapped_column(sa.JSON)
    config_checksum: Mapped[str | None] = mapped_column(sa.String(128))
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    node: Mapped["VectorNode"] = relationship(back_populates="pipeline_statuses")  # noqa: F821
    pipeline: Mapped[Pipeline] = relationship()


class Secret(db.Model):
    __tablename__ = "secrets"
    __table_args__ = (sa.UniqueConstraint("environment_id", "name"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    environment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    # Fernet token (see vectorflow.security); the plain value is never stored.
    encrypted_value: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    environment: Mapped["Environment"] = relationship(back_populates="secrets")  # noqa: F821
