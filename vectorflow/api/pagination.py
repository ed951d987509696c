"""Keyset (cursor) pagination: each page is one indexed range query, however deep.

List responses are ``{"items": [...], "nextCursor": "<opaque>" | null}``; the caller
passes ``?cursor=<nextCursor>`` for the next page and ``?limit=`` (1-500, default 100).
A cursor holds the sort key of the last row shown, signed with the app's secret key: any
other is refused with a 400 before it reaches the database (and its values must fit the
sort columns all the same).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..schemas.base import InvalidInput
from ..schemas.fields import INT64_MAX, PAGE_DEFAULT, text_problem


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(raw: bytes) -> bytes:
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, b"cursor:" + raw, hashlib.sha256).digest()[:16]


def encode_cursor(values: tuple) -> str:
    """Return the opaque, signed cursor for a position in a sort order."""
    raw = json.dumps(list(values), separators=(",", ":"), ensure_ascii=False).encode()
    return f"{_b64(raw)}.{_b64(_signature(raw))}"


def _fits(column, value) -> bool:
    """Return whether ``value`` can be compared with ``column`` in SQL."""
    if issubclass(column.type.python_type, int):
        return type(value) is int and -INT64_MAX - 1 <= value <= INT64_MAX
    length = getattr(column.type, "length", None)
    return (isinstance(value, str) and (length is None or len(value) <= length)
            and text_problem(value) is None)


def decode_cursor(cursor: str, columns: list) -> tuple:
    """Return the position encoded in a cursor; 400 if it is not one of ours."""
    payload, _, signature = cursor.partition(".")
    try:
        raw = _unb64(payload)
        signed = hmac.compare_digest(_unb64(signature), _signature(raw))
        values = json.loads(raw) if signed else None
    except (ValueError, TypeError, binascii.Error):
        values = None
    if (not isinstance(values, list) or len(values) != len(columns)
            or not all(_fits(column, value) for column, value in zip(columns, values))):
        raise InvalidInput({"cursor": "is not a cursor returned by this API"})
    return tuple(values)


def paginate(query: sa.Select, columns: list, page, *, descending: bool = False):
    """Run one page of ``query`` ordered by ``columns`` (unique together, indexed).

    ``page`` has the parsed ``cursor`` and ``limit`` (schemas.api.PageQuery). Returns the
    rows of the page and the cursor of the next page (None on the last page).
    """
    limit = page.limit or PAGE_DEFAULT
    key = columns[0] if len(columns) == 1 else sa.tuple_(*columns)
    if page.cursor:
        values = decode_cursor(page.cursor, columns)
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
