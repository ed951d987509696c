"""CLI output: aligned tables for people, JSON for scripts."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import click


def echo_table(headers: list[str], rows: list[list], empty: str = "nothing to show") -> None:
    """Print rows as left-aligned columns under upper-case headers."""
    if not rows:
        click.echo(empty)
        return
    cells = [[str(h).upper() for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def echo_json(data) -> None:
    """Print data as indented JSON."""
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def when(value: datetime | None) -> str:
    """Format a timestamp for a table: UTC, to the second; '-' when unset."""
    if value is None:
        return "-"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
