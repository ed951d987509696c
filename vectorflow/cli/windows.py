"""CLI: maintenance windows (list, create, preview, delete)."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..extensions import db
from ..models import MaintenanceWindow, VectorNode
from ..schemas.fields import PREVIEW_DEFAULT, PREVIEW_MAX
from ..services import ServiceError
from ..services import windows as service
from ..services.actors import Actor
from . import commit_or_fail
from .nodes import find_environment_or_fail
from .output import echo_json, echo_table


@click.group(help="Plan maintenance: windows that put nodes into maintenance and take them out.")
def windows():
    pass


def _when(value, zone: str) -> str:
    """A time for people: in the window's zone, with the zone's abbreviation, and in UTC."""
    if value is None:
        return "-"
    there = service.local(value, zone)
    return f"{there:%Y-%m-%d %H:%M %Z} ({service.local(value, 'UTC'):%H:%M} UTC)"


def _target(window: MaintenanceWindow) -> str:
    if window.node_ids is not None:
        return f"{len(window.node_ids)} node{'' if len(window.node_ids) == 1 else 's'}"
    labels = (window.selector or {}).get("labels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "every node"


def find_window_or_fail(ref: str, env_ref: str | None) -> MaintenanceWindow:
    """Return the window with this id or name (in ``--env`` when given), or fail in one line."""
    env = find_environment_or_fail(env_ref) if env_ref else None
    try:
        window = service.find_window(ref, env)
    except ServiceError as err:
        raise click.ClickException(err.message) from None
    if window is None:
        raise click.ClickException(f"no maintenance window with id or name {ref!r}")
    return window


def echo_preview(shown: service.Preview, zone: str) -> None:
    """Print a preview: the next occurrences, then the nodes taken and skipped now."""
    click.echo(f"next occurrences ({zone}):")
    for start, end in shown.occurrences:
        note = "  (daylight saving moved it)" if shown.shifted(start) else ""
        click.echo(f"  {_when(start, zone)} -> {service.local(end, zone):%H:%M}{note}")
    if not shown.occurrences:
        click.echo("  none left")
    click.echo(f"would take now: {', '.join(n.name for n in shown.nodes) or 'no node'}")
    for node, why in shown.skipped:
        click.echo(f"would skip {node.name}: {why}")


@windows.command("list")
@click.option("--env", "env_ref", default=None, help="Only this environment (name or id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as the REST API does).")
@with_appcontext
def windows_list(env_ref, as_json):
    """List maintenance windows with their next start."""
    from ..schemas.api import MaintenanceWindow as WindowJson

    query = sa.select(MaintenanceWindow).order_by(MaintenanceWindow.name, MaintenanceWindow.id)
    if env_ref:
        query = query.where(MaintenanceWindow.environment_id == find_environment_or_fail(env_ref).id)
    rows = db.session.scalars(query).all()
    latest = service.last_runs(rows)
    if as_json:
        echo_json([WindowJson.of(w, run=latest.get(w.id)).as_json() for w in rows])
        return

    def state(w: MaintenanceWindow) -> str:
        run = latest.get(w.id)
        if run is not None and run.ended_at is None:
            return "OPEN"
        return "enabled" if w.enabled else "disabled"

    echo_table(["id", "name", "environment", "target", "repeats", "minutes", "next start", "state"],
               [[w.id, w.name, w.environment.name, _target(w), w.rrule or "once",
                 w.duration_minutes, _when(w.next_start_at, w.timezone), state(w)] for w in rows],
               empty="no maintenance windows")


def _node_ids(env, refs: tuple[str, ...]) -> list[str]:
    ids = []
    for ref in refs:
        found = db.session.scalars(sa.select(VectorNode.id).where(
            VectorNode.environment_id == env.id,
            sa.or_(VectorNode.id == ref, VectorNode.name == ref)).limit(2)).all()
        if not found:
            raise click.ClickException(f"no node {ref!r} in environment {env.name}")
        if len(found) > 1:
            raise click.ClickException(f"node name {ref!r} is ambiguous; use its id")
        ids.append(found[0])
    return ids


def _labels(pairs: tuple[str, ...]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.ClickException(f"--label {pair!r} is not key=value")
        labels[key] = value
    return labels


@windows.command("create")
@click.option("--env", "env_ref", required=True, help="Environment name or id.")
@click.option("--name", required=True, help="Unique in the environment.")
@click.option("--node", "node_refs", multiple=True, help="A node (name or id); repeat for more.")
@click.option("--label", "label_pairs", multiple=True,
              help="key=value: nodes with all these labels, also ones that join later.")
@click.option("--all-nodes", is_flag=True, help="Every node of the environment.")
@click.option("--start", required=True,
              help="First start: ISO 8601 with an offset, or a wall-clock time in --timezone "
                   "(2027-01-05T02:00).")
@click.option("--duration", "duration", required=True, type=int, help="Minutes.")
@click.option("--timezone", "zone", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--rrule", default=None, help="RFC 5545 recurrence, e.g. FREQ=WEEKLY;BYDAY=TU.")
@click.option("--reason", default=None, help="Shown as the nodes' maintenance reason.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.option("--preview", "preview_only", is_flag=True, help="Show what it would do; save nothing.")
@with_appcontext
def windows_create(env_ref, name, node_refs, label_pairs, all_nodes, start, duration, zone,
                   rrule, reason, disabled, preview_only):
    """Create a maintenance window (or with --preview, only show it)."""
    env = find_environment_or_fail(env_ref)
    if sum(map(bool, (node_refs, label_pairs, all_nodes))) != 1:
        raise click.ClickException("give the nodes with --node, --label or --all-nodes (one kind)")
    values = {"name": name, "start": start, "durationMinutes": duration, "timezone": zone,
              "rrule": rrule, "reason": reason, "enabled": not disabled}
    if node_refs:
        values["nodeIds"] = _node_ids(env, node_refs)
    else:
        values["selector"] = {"labels": _labels(label_pairs)}
    if preview_only:
        try:
            spec = service.clean_spec(env, values)
        except ServiceError as err:
            raise click.ClickException(err.message) from None
        echo_preview(service.preview(env, spec), spec.timezone)
        return
    window = commit_or_fail(service.create_window, env, values, actor=Actor.cli())
    click.echo(f"created maintenance window {window.name} in {env.name}; next start "
               f"{_when(window.next_start_at, window.timezone)}")


@windows.command("preview")
@click.argument("window_ref", metavar="WINDOW")
@click.option("--env", "env_ref", default=None, help="Environment, if window names repeat.")
@click.option("--count", default=PREVIEW_DEFAULT, show_default=True,
              type=click.IntRange(1, PREVIEW_MAX), help="Occurrences to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as the REST API does).")
@with_appcontext
def windows_preview(window_ref, env_ref, count, as_json):
    """Show a window's next occurrences and the nodes it would take now."""
    from ..schemas.api import MaintenanceWindowPreview

    window = find_window_or_fail(window_ref, env_ref)
    shown = service.preview(window.environment, service.spec_of(window), count=count)
    if as_json:
        echo_json(MaintenanceWindowPreview.of(window, shown=shown).as_json())
        return
    echo_preview(shown, window.timezone)


@windows.command("delete")
@click.argument("window_ref", metavar="WINDOW")
@click.option("--env", "env_ref", default=None, help="Environment, if window names repeat.")
@with_appcontext
def windows_delete(window_ref, env_ref):
    """Delete a window; if it is open, its nodes leave maintenance first."""
    window = find_window_or_fail(window_ref, env_ref)
    name = window.name
    commit_or_fail(service.delete_window, window, actor=Actor.cli())
    click.echo(f"deleted maintenance window {name}")
