"""Maintenance history: one row per period a node spent in maintenance."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime


class DrainState(str, enum.Enum):
    """Where a node is between the maintenance switch and what its agent reports."""

    DRAINING = "DRAINING"  # in maintenance, pipelines still reported running
    DRAINED = "DRAINED"  # in maintenance, nothing running any more
    RESUMING = "RESUMING"  # maintenance left, pipelines not reported RUNNING yet


class ExitKind(str, enum.Enum):
    MANUAL = "MANUAL"
    AUTO = "AUTO"  # the scheduled end passed


class MaintenancePeriod(db.Model):
    __tablename__ = "maintenance_periods"
    __table_args__ = (
        sa.Index("ix_maintenance_periods_node_id_entered_at", "node_id", "entered_at"),
        # At most one open period per node, whatever races: the database guarantees it.
        sa.Index("uq_maintenance_periods_node_id_open", "node_id", unique=True,
                 postgresql_where=sa.text("left_at IS NULL"),
                 sqlite_where=sa.text("left_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(sa.ForeignKey("vector_nodes.id", ondelete="CASCADE"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entered_by_label: Mapped[str] = mapped_column(sa.String(254))
    entered_by_id: Mapped[str | None] = mapped_column(sa.String(40))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    drained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    drain_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_by_label: Mapped[str | None] = mapped_column(sa.String(254))
    left_by_id: Mapped[str | None] = mapped_column(sa.String(40))
    exit_kind: Mapped[ExitKind | None] = mapped_column(sa.Enum(ExitKind, name="maintenance_exit_kind"))
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_open(self) -> bool:
        return self.left_at is None

    @property
    def duration_seconds(self) -> int | None:
        """Return how long the period lasted, None while it is still open."""
        if self.left_at is None:
            return None
        return int((self.left_at - self.entered_at).total_seconds())
