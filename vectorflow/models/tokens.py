"""API tokens for scripts: personal (act as a user) or team service tokens (fixed role)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .accounts import Role
from .base import IdColumn, UTCDateTime, new_id, utcnow


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(sa.String(16))
    # Personal token: user_id set, acts with that user's roles.
    user_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Service token: team_id and role set.
    team_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role | None] = mapped_column(sa.Enum(Role, name="role"))
    created_by_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped["User | None"] = relationship(foreign_keys=[user_id])  # noqa: F821
    team: Mapped["Team | None"] = relationship()  # noqa: F821
