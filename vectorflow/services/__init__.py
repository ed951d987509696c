"""Workflows shared by views, the agent API, the REST API and the CLI.

Services change state and ``flush()``; the outermost caller commits. Events queued
with ``events.emit`` are published only after that commit succeeds.
"""


class ServiceError(Exception):
    """A request the service refuses, with a message fit to show the user."""

    status_code = 400

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409



def find_by_id_or_name(model, name_or_id: str, what: str, *scope):
    """Return the ``model`` row with this id, or else the one with this exact name, among the
    rows matching ``scope`` (conditions); ServiceError if that name is not unique there."""
    import sqlalchemy as sa

    from ..extensions import db

    rows = db.session.scalars(
        sa.select(model).where(sa.or_(model.id == name_or_id, model.name == name_or_id), *scope)
        .limit(3)).all()
    by_id = [row for row in rows if row.id == name_or_id]
    if by_id:
        return by_id[0]
    if len(rows) > 1:
        raise ServiceError(f"{what} name {name_or_id!r} is ambiguous; use its id")
    return rows[0] if rows else None
