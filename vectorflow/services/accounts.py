"""Users, teams and membership."""
from __future__ import annotations

import re
import secrets
from functools import cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import Role, Team, TeamMember, User
from ..schemas.fields import NAME_MAX, ensure_text
from . import Conflict, NotFound, ServiceError, find_by_id_or_name
from .actors import Actor
from .audit import record
from .sessions import end_all_sessions

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8


def find_user(email: str) -> User | None:
    """Return the user with this email (case-insensitive), or None."""
    return db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))


def authenticate(email: str, password: str) -> User | None:
    """Return the user with this email and password, or None.

    An unknown email is checked against a dummy hash, so it costs as long as a wrong password
    and the answer time does not tell which accounts exist.
    """
    user = find_user(email)
    stored = user.password_hash if user is not None else _dummy_password_hash()
    matches = check_password_hash(stored, password)
    return user if user is not None and matches else None


@cache
def _dummy_password_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def change_password(user: User, password: str, *, actor: Actor | None = None) -> None:
    """Set a new password and end every sign-in of the user (audited; the password is not)."""
    _check_password_rules(password)
    user.set_password(password)
    ended = end_all_sessions(user)
    db.session.flush()
    record("user.password_changed", entity_type="user", entity_id=user.id, team_id=None,
           after={"email": user.email, "sessionsEnded": ended}, actor=actor)


def _check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ServiceError(f"password must be at least {MIN_PASSWORD} characters")


def create_user(
    email: str, password: str, *, name: str = "", superadmin: bool = False, actor: Actor | None = None
) -> User:
    """Create a user with a hashed password."""
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise ServiceError(f"invalid email address: {email!r}")
    _check_password_rules(password)
    if find_user(email):
        raise Conflict(f"a user with email {email} already exists")
    user = User(email=email, name=(name or "").strip()[:120], is_superadmin=superadmin)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record("user.created", entity_type="user", entity_id=user.id, team_id=None,
           after={"email": email, "superadmin": superadmin}, actor=actor)
    return user


def find_team(name_or_id: str) -> Team | None:
    """Return a team by id or exact name (team names are unique)."""
    return find_by_id_or_name(Team, name_or_id, "team")


def create_team(name: str, *, actor: Actor | None = None) -> Team:
    """Create a team with a unique name."""
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise ServiceError(f"team name must be 1-{NAME_MAX} characters")
    ensure_text(name, "name", "team name")
    if db.session.scalar(sa.select(Team).where(Team.name == name)):
        raise Conflict(f"a team named {name!r} already exists")
    team = Team(name=name)
    db.session.add(team)
    db.session.flush()
    record("team.created", entity_type="team", entity_id=team.id, team_id=team.id,
           after={"name": name}, actor=actor)
    return team


def set_membership(team: Team, user: User, role: Role, *, actor: Actor | None = None) -> TeamMember:
    """Add ``user`` to ``team`` with ``role``, or change the role they have."""
    member = db.session.scalar(
        sa.select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id)
    )
    before = {"role": member.role.name} if member else None
    if member is None:
        member = TeamMember(team=team, user=user, role=role)
        db.session.add(member)
    elif member.role == role:
        return member
    else:
        _ensure_an_admin_remains(team, member, role)
        member.role = role
    db.session.flush()
    record("team.member_set", entity_type="team", entity_id=team.id, team_id=team.id,
           before=before, after={"user": user.email, "role": role.name}, actor=actor)
    return member


def remove_member(team: Team, member: TeamMember, *, actor: Actor | None = None) -> None:
    """Remove a member from a team; the last ADMIN cannot be removed."""
    if member.team_id != team.id:
        raise NotFound("no such member")
    _ensure_an_admin_remains(team, member, None)
    email = member.user.email
    db.session.delete(member)
    db.session.flush()
    record("team.member_removed", entity_type="team", entity_id=team.id, team_id=team.id,
           before={"user": email, "role": member.role.name}, actor=actor)


def _ensure_an_admin_remains(team: Team, member: TeamMember, new_role: Role | None) -> None:
    if member.role != Role.ADMIN or new_role == Role.ADMIN:
        return
    admins = db.session.scalar(
        sa.select(sa.func.count()).select_from(TeamMember)
        .where(TeamMember.team_id == team.id, TeamMember.role == Role.ADMIN)
    )
    if admins <= 1:
        raise ServiceError("a team must keep at least one ADMIN")
