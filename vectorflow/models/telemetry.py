"""What the newest agents send besides heartbeats: Vector's log lines, event samples, live taps.

Log lines and tap events are a bounded recent window (services/telemetry.py prunes them);
sample requests and taps are small rows with a short life.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import IdColumn, UTCDateTime, new_id, utcnow

# A numbered id that is BIGINT on PostgreSQL and SQLite's rowid (which autoincrements).
Serial = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class LogLine(db.Model):
    """One line of a Vector process's own log output, as an agent posted it."""

    __tablename__ = "log_lines"
    __table_args__ = (
        sa.Index("ix_log_lines_node_id_id", "node_id", "id"),
        sa.Index("ix_log_lines_pipeline_id_id", "pipeline_id", "id"),
        sa.Index("ix_log_lines_node_id_pipeline_id_id", "node_id", "pipeline_id", "id"),
        # Ids never come back after a prune: tails resume after the id they last saw.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    node_id: Mapped[str] = mapped_column(sa.ForeignKey("vector_nodes.id", ondelete="CASCADE"))
    pipeline_id: Mapped[str] = mapped_column(sa.ForeignKey("pipelines.id", ondelete="CASCADE"))
    # The time the line starts with (the received time when it has none).
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # TRACE, DEBUG, INFO, WARN or ERROR; NULL when the line names none.
    level: Mapped[str | None] = mapped_column(sa.String(5))
    message: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SampleStatus(str, enum.Enum):
    PENDING = "PENDING"
    DONE = "DONE"
    EXPIRED = "EXPIRED"


class SampleRequest(db.Model):
    """An EDITOR's request for a sample of a pipeline component's events, and its results."""

    __tablename__ = "sample_requests"
    __table_args__ = (
        sa.Index("ix_sample_requests_environment_id_status", "environment_id", "status"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    environment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("environments.id", ondelete="CASCADE"))
    pipeline_id: Mapped[str] = mapped_column(
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"), index=True)
    component_keys: Mapped[list] = mapped_column(sa.JSON)
    limit: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[SampleStatus] = mapped_column(
        sa.Enum(SampleStatus, name="sample_status"), default=SampleStatus.PENDING)
    # [{"nodeId", "componentKey", "events": [...], "schema": [{"path", "type", "sample"}]}]
    results: Mapped[list] = mapped_column(sa.JSON, default=list)
    requested_by_label: Mapped[str] = mapped_column(sa.String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TapStatus(str, enum.Enum):
    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"


class Tap(db.Model):
    """A live tap of one component's output on one node."""

    __tablename__ = "taps"
    __table_args__ = (
        sa.Index("ix_taps_status_expires_at", "status", "expires_at"),
        sa.Index("ix_taps_node_id_status", "node_id", "status"),
        sa.Index("ix_taps_team_id_status", "team_id", "status"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(sa.ForeignKey("vector_nodes.id", ondelete="CASCADE"))
    pipeline_id: Mapped[str] = mapped_column(sa.ForeignKey("pipelines.id", ondelete="CASCADE"))
    component_id: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[TapStatus] = mapped_column(sa.Enum(TapStatus, name="tap_status"),
                                              default=TapStatus.ACTIVE)
    started_by_label: Mapped[str] = mapped_column(sa.String(254), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(sa.String(100))
    events_received: Mapped[int] = mapped_column(sa.Integer, default=0)


class TapEvent(db.Model):
    """One batch of a tap's events, kept while the tap runs (the browser reads them live)."""

    __tablename__ = "tap_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    tap_id: Mapped[str] = mapped_column(sa.ForeignKey("taps.id", ondelete="CASCADE"),
                                        index=True)
    events: Mapped[list] = mapped_column(sa.JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
