"""Alerts: rule settings per environment, the alerts they raise, and where they are sent."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import IdColumn, UTCDateTime, new_id, utcnow

# Alert states. PENDING is internal (a condition without a timestamp of its own, waiting for
# its threshold); people and the API only ever see FIRING and RESOLVED.
PENDING = "pending"
FIRING = "firing"
RESOLVED = "resolved"

# Delivery states.
QUEUED = "pending"
DELIVERED = "delivered"
FAILED = "failed"


class AlertRule(db.Model):
    """An environment's setting of one built-in rule; no row means the rule's defaults."""

    __tablename__ = "alert_rules"
    __table_args__ = (sa.UniqueConstraint("environment_id", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("environments.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(sa.String(40))
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    threshold_minutes: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_label: Mapped[str] = mapped_column(sa.String(254), default="")


class Alert(db.Model):
    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open (pending or firing) alert per rule and subject, whatever races.
        sa.Index("uq_alerts_key_open", "key", unique=True,
                 postgresql_where=sa.text("ended_at IS NULL"),
                 sqlite_where=sa.text("ended_at IS NULL")),
        sa.Index("ix_alerts_environment_id_state", "environment_id", "state"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    # rule:node:pipeline, what makes two observations the same alert.
    key: Mapped[str] = mapped_column(sa.String(100))
    rule: Mapped[str] = mapped_column(sa.String(40))
    state: Mapped[str] = mapped_column(sa.String(10))
    # Recorded while its node was in maintenance (or just out of it): notifies no one.
    suppressed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    environment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("environments.id", ondelete="CASCADE"))
    node_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("vector_nodes.id", ondelete="SET NULL"), index=True)
    pipeline_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("pipelines.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(sa.String(300))
    message: Mapped[str] = mapped_column(sa.String(500))
    # When the condition began (e.g. the node's last heartbeat plus the unreachable window).
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the firing notification was queued; None for a suppressed alert (so its
    # resolution is not announced either).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_label: Mapped[str | None] = mapped_column(sa.String(254))
    acknowledged_by_id: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    environment: Mapped[Environment] = relationship()  # noqa: F821

    @property
    def team_id(self) -> str:
        return self.environment.team_id


class NotificationChannel(db.Model):
    __tablename__ = "notification_channels"
    __table_args__ = (sa.UniqueConstraint("team_id", "name"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"),
                                         index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    type: Mapped[str] = mapped_column(sa.String(10))  # webhook | slack | email
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    email_to: Mapped[str | None] = mapped_column(sa.String(1000))
    # Fernet token of the webhook's signing secret (vectorflow.security); never shown again.
    encrypted_secret: Mapped[str | None] = mapped_column(sa.Text)
    rules: Mapped[list] = mapped_column(sa.JSON, default=list)
    events: Mapped[list] = mapped_column(sa.JSON, default=list)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team] = relationship()  # noqa: F821


class NotificationDelivery(db.Model):
    """One message to one channel: queued with the change it announces, sent by the worker."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        sa.Index("ix_notification_deliveries_status_next_attempt_at", "status",
                 "next_attempt_at"),
        sa.Index("ix_notification_deliveries_channel_id_id", "channel_id", "id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(
        sa.ForeignKey("notification_channels.id", ondelete="CASCADE"))
    alert_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alerts.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))  # alert.firing, maintenance.entered, test
    payload: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A worker that took the delivery holds it until then; past it (the process died
    # mid-send) another worker takes it again.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    channel: Mapped[NotificationChannel] = relationship()
