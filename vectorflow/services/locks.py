"""Row locks for state changes, taken in one order everywhere so writers queue, not deadlock.

The lock order (PostgreSQL; SQLite has a single writer, which already serialises):

1. environments, by id ascending (``lock_environments``): a decision that reads other nodes
   of the environment (the coverage guard, deploys);
2. pipelines (``services.pipelines``), after their environment; maintenance windows and
   their runs are only written while their environment is locked (``services.windows``);
3. nodes, by id ascending (``lock_nodes``/``lock_node``; a heartbeat locks its node in its
   authentication lookup);
4. a node's own rows (maintenance periods, pipeline statuses, metrics, status history),
   only ever written while the node is locked.

A state change takes its locks first, re-reads the state under them and decides there, so
a request that finds the state already as asked changes nothing. State changes lock with
``FOR NO KEY UPDATE``, which does not block other transactions inserting rows that refer to
the locked one; a delete takes ``FOR UPDATE``. The event outbox's advisory lock comes last,
in the commit (services.events), and its holder never waits for a row lock.
"""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from ..extensions import db
from ..models import Environment, VectorNode
from . import NotFound


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def lock_environments(ids: Iterable[str]) -> None:
    """Lock these environments' rows (ascending id) for the rest of the transaction."""
    ids = sorted(set(ids))
    if ids and _postgresql():
        db.session.execute(
            sa.select(Environment.id).where(Environment.id.in_(ids))
            .order_by(Environment.id).with_for_update(key_share=True)
        ).all()


def lock_nodes(ids: Iterable[str], *, delete: bool = False,
               missing_ok: bool = False) -> list[VectorNode]:
    """Lock these nodes (ascending id) and re-read them; NotFound if one no longer exists
    (``missing_ok``: return those that still exist).

    Loaded copies are refreshed in place, so callers may keep using the objects they have.
    """
    ids = sorted(set(ids))
    if not ids:
        return []
    nodes = list(db.session.scalars(
        sa.select(VectorNode).where(VectorNode.id.in_(ids)).order_by(VectorNode.id)
        .with_for_update(key_share=not delete)
        .execution_options(populate_existing=True)
    ))
    if len(nodes) != len(ids) and not missing_ok:
        missing = sorted(set(ids) - {n.id for n in nodes})
        raise NotFound(f"node {missing[0]} not found", {"nodeIds": missing})
    return nodes


def lock_node(node: VectorNode, *, delete: bool = False) -> VectorNode:
    """Lock one node's row and re-read it; NotFound (404) if it was deleted meanwhile."""
    return lock_nodes([node.id], delete=delete)[0]


def lock_free_nodes(ids: Iterable[str]) -> list[str]:
    """Lock those of these nodes no other transaction holds (ascending id); return their ids.

    For sweeps: a node being changed right now (a heartbeat, an admin) is left to the next
    round instead of waited for. SQLite has a single writer: every existing id is returned.
    """
    ids = sorted(set(ids))
    if not ids:
        return []
    query = sa.select(VectorNode.id).where(VectorNode.id.in_(ids)).order_by(VectorNode.id)
    if _postgresql():
        query = query.with_for_update(skip_locked=True, key_share=True)
    return list(db.session.scalars(query))
