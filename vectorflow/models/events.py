"""The event outbox: every status change, with a monotonic id for streams and replay."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class Event(db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(sa.String(60))
    team_id: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    environment_id: Mapped[str | None] = mapped_column(sa.String(20))
    node_id: Mapped[str | None] = mapped_column(sa.String(20))
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
