"""Keyset (cursor) pagination: each page is one indexed range query, however deep.

List responses are ``{"items": [...], "nextCursor": "<opaque>" | null}``; the caller
passes ``?cursor=<nextCursor>`` for the next page and ``?limit=`` (1-500, default 100).
"""
from __future__ import annotations

import base64
import json

import sqlalchemy as sa

from ..extensions import db
from .validation import Field, InvalidInput

DEFAULT_LIMIT = 100
MAX_LIMIT = 500

PAGE_FIELDS = {
    "cursor": Field("string", max_length=400,
                    description="The nextCursor of the previous page."),
    "limit": Field("integer", minimum=1, maximum=MAX_LIMIT,
                   description=f"Items per page (default {DEFAULT_LIMIT})."),
}


def encode_cursor(values: tuple) -> str:
    """Return the opaque cursor for a position in a sort order."""
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> tuple:
    """Return the position encoded in a cursor; 400 if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, TypeError):
        values = None
    if (not isinstance(values, list) or len(values) != size
            or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values)):
        raise InvalidInput({"cursor": "is not a cursor returned by this API"})
    return tuple(values)


def paginate(query: sa.Select, columns: list, args: dict, *, descending: bool = False):
    """Run one page of ``query`` ordered by ``columns`` (unique together, indexed).

    ``args`` are the parsed query parameters (``cursor``, ``limit``). Returns the rows
    of the page and the cursor of the next page (None on the last page).
    """
    limit = args.get("limit") or DEFAULT_LIMIT
    cursor = args.get("cursor")
    key = columns[0] if len(columns) == 1 else sa.tuple_(*columns)
    if cursor:
        values = decode_cursor(cursor, len(columns))
        bound = values[0] if len(columns) == 1 else sa.tuple_(*values)
        query = query.where(key < bound if descending else key > bound)
    order = [c.desc() if descending else c.asc() for c in columns]
    rows = db.session.scalars(query.order_by(*order).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(tuple(getattr(last, c.key) for c in columns))
    return rows, next_cursor
