"""CLI: nodes of the fleet (list, show, maintenance)."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..extensions import db
from ..models import Environment, VectorNode
from ..services import ServiceError, find_by_id_or_name
from ..services.actors import Actor
from ..services.nodes import effective_status, unreachable_cutoff
from . import commit_or_fail
from .output import echo_json, echo_table, when


@click.group(help="Manage enrolled nodes.")
def nodes():
    pass


def find_node(name_or_id: str) -> VectorNode:
    """Return the node with this id or unique name, or fail with a one-line error."""
    try:
        node = find_by_id_or_name(VectorNode, name_or_id, "node")
    except ServiceError as err:
        raise click.ClickException(err.message) from None
    if node is None:
        raise click.ClickException(f"no node with id or name {name_or_id!r}")
    return node


@nodes.command("maintenance")
@click.argument("node")
@click.argument("state", type=click.Choice(["on", "off"], case_sensitive=False))
@click.option("--reason", default=None, help="Why (up to 500 characters); shown wherever maintenance is.")
@click.option("--until", default=None, help="Scheduled end, ISO 8601 with a timezone (2030-01-31T18:00:00Z).")
@click.option("--force", is_flag=True, help="Enter even if a pipeline would be left on no healthy node.")
@with_appcontext
def nodes_maintenance(node, state, reason, until, force):
    """Put NODE (id or name) into maintenance (on) or take it out (off)."""
    from ..services.maintenance import set_maintenance

    target = find_node(node)
    enabled = state.lower() == "on"
    changed = commit_or_fail(set_maintenance, target, enabled, reason=reason, until=until,
                             force=force, actor=Actor.cli())
    if not changed:
        click.echo(f"{target.name} is already {'in' if enabled else 'out of'} maintenance; nothing changed")
    elif enabled:
        extra = f" until {target.maintenance_until.isoformat()}" if target.maintenance_until else ""
        click.echo(f"{target.name} is in maintenance{extra}; its agent stops all pipelines on its next poll")
    else:
        click.echo(f"{target.name} left maintenance; its agent starts its pipelines on its next poll")


def find_environment_or_fail(name_or_id: str, team=None) -> Environment:
    """Return the environment with this id or unique name (in ``team`` when given), or fail
    with a one-line error."""
    from ..services.environments import find_environment

    try:
        env = find_environment(name_or_id, team)
    except ServiceError as err:
        raise click.ClickException(err.message) from None
    if env is None:
        raise click.ClickException(f"no environment with id or name {name_or_id!r}")
    return env


@nodes.command("list")
@click.option("--env", "env_ref", default=None, help="Only this environment (name or id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as the REST API does).")
@with_appcontext
def nodes_list(env_ref, as_json):
    """List nodes with their status."""
    from ..api.nodes import NODE_LOAD
    from ..schemas.api import Node

    query = sa.select(VectorNode).options(*NODE_LOAD).order_by(VectorNode.name, VectorNode.id)
    if env_ref:
        query = query.where(VectorNode.environment_id == find_environment_or_fail(env_ref).id)
    rows = db.session.scalars(query).all()
    cutoff = unreachable_cutoff()
    if as_json:  # the representation of GET /api/v1/nodes (one page holding every node)
        echo_json({"items": [Node.of(n, cutoff=cutoff).as_json() for n in rows],
                   "nextCursor": None})
        return
    echo_table(["id", "name", "environment", "status", "last seen", "agent", "pipelines", "labels"],
               [node_row(n, cutoff) for n in rows], empty="no nodes")


def node_row(node: VectorNode, cutoff) -> list:
    """One row of the node table."""
    running = sum(1 for s in node.pipeline_statuses if s.status.value == "RUNNING")
    labels = ",".join(f"{k}={v}" for k, v in sorted((node.labels or {}).items()))
    status = "MAINTENANCE" if node.maintenance_mode else effective_status(node, cutoff).value
    return [node.id, node.name, node.environment.name, status, when(node.last_seen),
            node.agent_version or "-", f"{running}/{len(node.pipeline_statuses)} running",
            labels or "-"]


@nodes.command("prune")
@click.option("--days", type=click.IntRange(1, 3650), required=True,
              help="Delete nodes unseen for more than this many days.")
@click.option("--env", "env_ref", default=None, help="Only this environment (name or id).")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE",
              help="Only nodes with this label; repeat for several (all must match).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted, delete nothing.")
@with_appcontext
def nodes_prune(days, env_ref, labels, dry_run):
    """Delete nodes unseen for more than --days days (each audited as node.pruned)."""
    from ..services.fleet import SelectorError, parse_selector
    from ..services.nodes import label_clauses, prune_cutoff, prune_nodes, unseen_since

    try:
        wanted = parse_selector(",".join(labels))
    except SelectorError as err:
        raise click.BadParameter(str(err), param_hint="--label") from None
    query = (sa.select(VectorNode).where(unseen_since(prune_cutoff(days)), *label_clauses(wanted))
             .order_by(VectorNode.name, VectorNode.id))
    if env_ref:
        query = query.where(VectorNode.environment_id == find_environment_or_fail(env_ref).id)
    candidates = list(db.session.scalars(query))

    def prune():
        result = prune_nodes(candidates, days, dry_run=dry_run, actor=Actor.cli())
        # Read before the commit: deleted rows cannot be loaded after it.
        return ([(n.name, n.environment.name, when(n.last_seen)) for n in result.pruned],
                len(result.kept))

    pruned, kept = commit_or_fail(prune)
    verb = "would delete" if dry_run else "deleted"
    for name, env, seen in pruned:
        click.echo(f"{verb} {name} ({env}, last seen {seen})")
    click.echo(f"{len(pruned)} node{'' if len(pruned) == 1 else 's'} {verb}"
               + (f"; {kept} kept (seen since)" if kept else ""))


@nodes.command("show")
@click.argument("node_ref", metavar="NODE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as the REST API does).")
@with_appcontext
def nodes_show(node_ref, as_json):
    """Show one node (by id or name) with its pipelines."""
    from ..schemas.api import Node

    data = Node.of(find_node(node_ref)).as_json()
    if as_json:
        echo_json(data)
        return
    for key in ("id", "name", "host", "environmentName", "status", "lastSeen", "lastHeartbeat",
                "agentVersion", "vectorVersion", "os", "deploymentMode"):
        click.echo(f"{key + ':':<16} {data[key] if data[key] is not None else '-'}")
    labels = ", ".join(f"{k}={v}" for k, v in sorted(data["labels"].items()))
    click.echo(f"{'labels:':<16} {labels or '-'}")
    if data.get("maintenanceMode"):
        reason = f" ({data['maintenanceReason']})" if data.get("maintenanceReason") else ""
        click.echo(f"{'maintenance:':<16} since {data['maintenanceModeAt']}{reason}")
    if data["pendingAction"]:
        action = data["pendingAction"]
        click.echo(f"{'pendingAction:':<16} {action.get('type')} {action.get('targetVersion', '')}".rstrip())
    if data["lastUpdateError"]:
        click.echo(f"{'updateError:':<16} {data['lastUpdateError']}")
    click.echo("")
    echo_table(["pipeline", "version", "status", "events in", "events out", "errors"],
               [[s["pipelineName"], s["version"], s["status"], s["eventsIn"], s["eventsOut"],
                 s["errorsTotal"]] for s in data["pipelineStatuses"]],
               empty="no pipeline statuses reported")
