"""CLI: nodes of the fleet."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..extensions import db
from ..models import VectorNode
from ..services.actors import Actor
from . import commit_or_fail


@click.group(help="Manage enrolled nodes.")
def nodes():
    pass


def find_node(name_or_id: str) -> VectorNode:
    """Return the node with this id or unique name, or fail with a one-line error."""
    node = db.session.get(VectorNode, name_or_id)
    if node is not None:
        return node
    matches = db.session.scalars(
        sa.select(VectorNode).where(VectorNode.name == name_or_id).limit(2)
    ).all()
    if len(matches) > 1:
        raise click.ClickException(f"node name {name_or_id!r} is ambiguous; use its id")
    if not matches:
        raise click.ClickException(f"no node with id or name {name_or_id!r}")
    return matches[0]


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
