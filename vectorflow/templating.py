"""Jinja filters and globals shared by every page."""
from __future__ import annotations

import math
from datetime import datetime, timezone

from jinja2.filters import do_filesizeformat

from . import guards
from .text import text_problem
from .models import Role


def time_ago(value: datetime | None) -> str:
    """Format a timestamp as "Just now", "5m ago", "3h ago" or a date."""
    if value is None:
        return "Never"
    seconds = (datetime.now(timezone.utc) - value).total_seconds()
    if seconds < 60:
        return "Just now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    return value.strftime("%Y-%m-%d")


def iso(value: datetime | None) -> str:
    """Format a timestamp as ISO 8601 UTC (for machine-readable attributes)."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else ""


def datetime_utc(value: datetime | None) -> str:
    """Format a timestamp for people, in UTC."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


# Numbers on pages come from what an agent sent (host metrics, counters, stored JSON): any
# of them may be a bool, a string, NaN or an integer too large for a float. The filters below
# show those as "—" instead of failing the page.

def finite(value) -> float | None:
    """Return ``value`` as a finite float, or None when it is not a number a page can show."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def numbers(data) -> dict[str, float]:
    """Return the entries of a stored JSON object that are finite numbers, as floats."""
    if not isinstance(data, dict):
        return {}
    return {key: number for key, value in data.items() if (number := finite(value)) is not None}


def filesizeformat(value, binary: bool = False) -> str:
    """Format a byte count as "4.2 MiB" (Jinja's filter), or "—" for anything else."""
    number = finite(value)
    return "—" if number is None else do_filesizeformat(number, binary)


def compact(value) -> str:
    """Format a counter compactly: 950, 12.3k, 4.5M, or "—"."""
    number = finite(value)
    if number is None:
        return "—"
    for limit, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if abs(number) >= limit:
            return f"{number / limit:.1f}{suffix}"
    return str(value)


def duration(seconds) -> str:
    """Format seconds as "3d 4h", "2h 5m", "4m 10s" or "12s", or "—"."""
    number = finite(seconds)
    if number is None:
        return "—"
    days, rest = divmod(int(number), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def init_app(app) -> None:
    """Register filters and globals."""
    app.jinja_env.filters["time_ago"] = time_ago
    app.jinja_env.filters["iso"] = iso
    app.jinja_env.filters["datetime_utc"] = datetime_utc
    app.jinja_env.filters["filesizeformat"] = filesizeformat
    app.jinja_env.filters["compact"] = compact
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.globals["can"] = guards.can
    app.jinja_env.globals["Role"] = Role
    app.jinja_env.tests["clean_text"] = lambda value: not text_problem(str(value))
