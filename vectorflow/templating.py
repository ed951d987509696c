"""Jinja filters and globals shared by every page."""
from __future__ import annotations

from datetime import datetime, timezone

from . import guards
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


def init_app(app) -> None:
    """Register filters and globals."""
    app.jinja_env.filters["time_ago"] = time_ago
    app.jinja_env.filters["iso"] = iso
    app.jinja_env.filters["datetime_utc"] = datetime_utc
    app.jinja_env.globals["can"] = guards.can
    app.jinja_env.globals["Role"] = Role
