"""Users, teams and team membership with ordered roles."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .base import IdColumn, UTCDateTime, new_id, utcnow


class Role(enum.IntEnum):
    """A member's role in a team. Ordered: compare with <, >=."""

    VIEWER = 1
    EDITOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, value: str) -> "Role":
        """Return the role named ``value`` (case-insensitive) or raise ValueError."""
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown role {value!r}; expected one of {', '.join(r.name for r in cls)}"
            ) from None


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_superadmin: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list["TeamMember"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    kind = "user"
    # The raw token of the sign-in this object was loaded for (services.sessions); not a column.
    session_token = None

    def get_id(self) -> str:
        """Return what Flask-Login keeps in the session and remember cookies: this sign-in's token.

        Each sign-in has its own row in ``user_sessions`` (``services.sessions``), so ending
        it there ends every copy of its cookies.
        """
        if self.session_token is None:
            raise RuntimeError("no sign-in: call services.sessions.start_session() first")
        return self.session_token

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password``."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """Return whether ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def actor_label(self) -> str:
        return self.email

    def role_in(self, team_id: str) -> Role | None:
        """Return this user's role in the team, ADMIN for a superadmin, None for a stranger."""
        if self.is_superadmin:
            return Role.ADMIN
        for membership in self.memberships:
            if membership.team_id == team_id:
                return membership.role
        return None

    def team_ids(self) -> list[str] | None:
        """Return the ids of the teams this user may see; None means every team."""
        if self.is_superadmin:
            return None
        return [m.team_id for m in self.memberships]

    def max_role(self) -> Role | None:
        """Return the highest role this user holds in any team."""
        if self.is_superadmin:
            return Role.ADMIN
        return max((m.role for m in self.memberships), default=None)


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list["TeamMember"]] = relationship(
        back_populates="team", cascade="all, delete-orphan"
    )
    environments: Mapped[list["Environment"]] = relationship(  # noqa: F821
        back_populates="team", cascade="all, delete-orphan", order_by="Environment.name"
    )


class TeamMember(db.Model):
    __tablename__ = "team_members"
    __table_args__ = (sa.UniqueConstraint("user_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(sa.Enum(Role, name="role"), default=Role.VIEWER)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    team: Mapped[Team] = relationship(back_populates="members")


class UserSession(db.Model):
    """One sign-in of a user: its cookies carry the token whose digest is stored here.

    Deleting the row ends the sign-in (session and remember-me cookie) wherever the cookies
    were copied.
    """

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    remember: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
