"""Server-side pagination for listings that must stay fast with thousands of rows."""
from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from flask import request, url_for

from .extensions import db


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first(self) -> int:
        """1-based index of the first item shown (0 when empty)."""
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.page * self.per_page, self.total)


def page_number(value: str | None) -> int:
    """Parse a ?page= argument leniently: anything but a positive integer means page 1."""
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def paginate(query: sa.Select, page: int, per_page: int, options: tuple = (),
             key: sa.Column | None = None) -> Page:
    """Run ``query`` for one page (clamped to the last page) plus one count query.

    With ``key`` (the primary key of the listed model) the page is found by sorting only
    keys, then its rows are loaded by key: much cheaper than sorting wide rows.
    """
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    ) or 0
    page = min(max(1, page), max(1, math.ceil(total / per_page)))
    if not total:
        return Page(items=[], page=page, per_page=per_page, total=0)
    window = query.limit(per_page).offset((page - 1) * per_page)
    if key is None:
        items = list(db.session.scalars(window.options(*options)))
    else:
        keys = list(db.session.scalars(window.with_only_columns(key)))
        entity = query.column_descriptions[0]["entity"]
        rows = {getattr(row, key.key): row for row in db.session.scalars(
            sa.select(entity).where(key.in_(keys)).options(*options))}
        items = [rows[k] for k in keys if k in rows]
    return Page(items=items, page=page, per_page=per_page, total=total)


def url_with(**changes) -> str:
    """Return the current page's URL with some query arguments changed (None removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(request.endpoint, **(request.view_args or {}), **args)
