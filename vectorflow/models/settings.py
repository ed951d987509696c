"""System-wide settings, one row."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

DEFAULT_POLL_INTERVAL_MS = 15000
DEFAULT_UNREACHABLE_THRESHOLD = 3


class SystemSettings(db.Model):
    __tablename__ = "system_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    fleet_poll_interval_ms: Mapped[int] = mapped_column(
        sa.Integer, default=DEFAULT_POLL_INTERVAL_MS
    )
    # A node is UNREACHABLE after this many missed poll intervals.
    unreachable_threshold: Mapped[int] = mapped_column(
        sa.Integer, default=DEFAULT_UNREACHABLE_THRESHOLD
    )

    @classmethod
    def get(cls) -> "SystemSettings":
        """Return the settings row, or unsaved defaults when none has been written."""
        row = db.session.get(cls, 1)
        if row is None:
            row = cls(
                id=1,
                fleet_poll_interval_ms=DEFAULT_POLL_INTERVAL_MS,
                unreachable_threshold=DEFAULT_UNREACHABLE_THRESHOLD,
            )
        return row
