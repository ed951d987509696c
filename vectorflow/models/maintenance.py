"""Maintenance history (one row per period a node spent in maintenance) and maintenance
windows (planned maintenance that the sweep opens and closes, one run row per occurrence)."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import IdColumn, UTCDateTime, new_id, utcnow


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
    # Set when a maintenance window put the node in (services.windows): the run that holds it
    # now, and the name of the window that entered it (kept after the window is deleted).
    window_run_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("maintenance_window_runs.id", ondelete="SET NULL"), index=True)
    window_name: Mapped[str | None] = mapped_column(sa.String(100))

    window_run: Mapped["MaintenanceWindowRun | None"] = relationship()

    @property
    def is_open(self) -> bool:
        return self.left_at is None

    @property
    def duration_seconds(self) -> int | None:
        """Return how long the period lasted, None while it is still open."""
        if self.left_at is None:
            return None
        return int((self.left_at - self.entered_at).total_seconds())


class MaintenanceWindow(db.Model):
    """Planned maintenance of an environment's nodes, once or recurring (services.windows)."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (sa.UniqueConstraint("environment_id", "name"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    environment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("environments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    # The target: explicit node ids, or a selector {"labels": {...}} (all must match).
    node_ids: Mapped[list | None] = mapped_column(sa.JSON)
    selector: Mapped[dict | None] = mapped_column(sa.JSON)
    # The first occurrence; recurrences repeat its wall-clock time in ``timezone``.
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(sa.Integer)
    timezone: Mapped[str] = mapped_column(sa.String(64))
    rrule: Mapped[str | None] = mapped_column(sa.String(500))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    # The next occurrence the sweep has not opened yet (None: none left, or disabled).
    next_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by_label: Mapped[str] = mapped_column(sa.String(254), default="")

    environment: Mapped["Environment"] = relationship()  # noqa: F821
    runs: Mapped[list["MaintenanceWindowRun"]] = relationship(
        back_populates="window", cascade="all, delete-orphan", passive_deletes=True,
        order_by="MaintenanceWindowRun.started_at.desc()",
    )


class MaintenanceWindowRun(db.Model):
    """One occurrence of a window: the nodes it took into maintenance and those it skipped."""

    __tablename__ = "maintenance_window_runs"
    __table_args__ = (
        sa.Index("ix_maintenance_window_runs_window_id_started_at", "window_id", "started_at"),
        # At most one open run per window; the sweep finds open runs through this index.
        sa.Index("uq_maintenance_window_runs_window_id_open", "window_id", unique=True,
                 postgresql_where=sa.text("ended_at IS NULL"),
                 sqlite_where=sa.text("ended_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[str] = mapped_column(
        sa.ForeignKey("maintenance_windows.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the occurrence's start
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)  # ... and its end
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the sweep opened it
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Ids of the nodes this run put into maintenance (or took over from another window).
    node_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    # [{"nodeId": ..., "reason": ...}]: targeted nodes it did not take, and why.
    skipped: Mapped[list] = mapped_column(sa.JSON, default=list)

    window: Mapped[MaintenanceWindow] = relationship(back_populates="runs")

    @property
    def is_open(self) -> bool:
        return self.ended_at is None
