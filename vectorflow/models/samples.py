"""Time series for the charts: one row per node (and per node and pipeline) per bucket.

Written by services/samples.py from the heartbeats. Counters arrive as totals since a process
started; a row keeps what changed during its bucket (``*_delta`` columns, over ``span``
seconds of heartbeat intervals) and the last totals seen (``last_*``), from which the next
heartbeat's change is computed. Gauges (memory, disk, load) keep their last value.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime


class NodeSample(db.Model):
    """A node's host numbers and its pipelines' summed counters over one bucket."""

    __tablename__ = "node_samples"
    __table_args__ = (sa.Index("ix_node_samples_bucket_start", "bucket_start"),)

    node_id: Mapped[str] = mapped_column(
        sa.ForeignKey("vector_nodes.id", ondelete="CASCADE"), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    sampled_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the bucket's newest heartbeat
    span: Mapped[float] = mapped_column(sa.Float, default=0.0)  # seconds the deltas cover
    cpu_busy: Mapped[float | None] = mapped_column(sa.Float)    # CPU-seconds not idle
    cpu_total: Mapped[float | None] = mapped_column(sa.Float)   # CPU-seconds
    net_rx: Mapped[float | None] = mapped_column(sa.Float)      # bytes received
    net_tx: Mapped[float | None] = mapped_column(sa.Float)      # bytes sent
    events_in: Mapped[float] = mapped_column(sa.Float, default=0.0)
    events_out: Mapped[float] = mapped_column(sa.Float, default=0.0)
    errors: Mapped[float] = mapped_column(sa.Float, default=0.0)
    mem_used: Mapped[float | None] = mapped_column(sa.Float)
    mem_total: Mapped[float | None] = mapped_column(sa.Float)
    fs_used: Mapped[float | None] = mapped_column(sa.Float)
    fs_total: Mapped[float | None] = mapped_column(sa.Float)
    load1: Mapped[float | None] = mapped_column(sa.Float)
    load5: Mapped[float | None] = mapped_column(sa.Float)
    load15: Mapped[float | None] = mapped_column(sa.Float)
    last_cpu_total: Mapped[float | None] = mapped_column(sa.Float)
    last_cpu_idle: Mapped[float | None] = mapped_column(sa.Float)
    last_net_rx: Mapped[float | None] = mapped_column(sa.Float)
    last_net_tx: Mapped[float | None] = mapped_column(sa.Float)


class PipelineSample(db.Model):
    """One pipeline's counters on one node over one bucket."""

    __tablename__ = "pipeline_samples"
    __table_args__ = (sa.Index("ix_pipeline_samples_bucket_start", "bucket_start"),
                      sa.Index("ix_pipeline_samples_pipeline_id_bucket_start",
                               "pipeline_id", "bucket_start"))

    node_id: Mapped[str] = mapped_column(
        sa.ForeignKey("vector_nodes.id", ondelete="CASCADE"), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(
        sa.ForeignKey("pipelines.id", ondelete="CASCADE"), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    sampled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    span: Mapped[float] = mapped_column(sa.Float, default=0.0)
    events_in: Mapped[float] = mapped_column(sa.Float, default=0.0)
    events_out: Mapped[float] = mapped_column(sa.Float, default=0.0)
    errors: Mapped[float] = mapped_column(sa.Float, default=0.0)
    last_events_in: Mapped[float | None] = mapped_column(sa.Float)
    last_events_out: Mapped[float | None] = mapped_column(sa.Float)
    last_errors: Mapped[float | None] = mapped_column(sa.Float)
