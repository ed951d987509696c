"""Nodes: listing with effective status, and admin actions (rename, revoke, delete, self-update).

Every action is audited with before/after values; tokens and digests never are.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from ..extensions import db
from ..models import (
    DeploymentMode,
    Environment,
    NodeStatus,
    SystemSettings,
    Team,
    VectorNode,
    utcnow,
)
from ..schemas.fields import (
    LABEL_KEY_MAX,
    NODE_NAME_MAX,
    PRUNE_DAYS_MAX,
    URL_MAX,
    VERSION_MAX,
    ensure_text,
)
from . import ServiceError
from .actors import Actor
from .audit import record
from .events import emit
from .locks import lock_node, lock_nodes

CHECKSUM_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
LIVE = (NodeStatus.HEALTHY, NodeStatus.DEGRADED)
LABEL_KEY = re.compile(rf"^[A-Za-z0-9_.\-/]{{1,{LABEL_KEY_MAX}}}$")


def unreachable_cutoff(now: datetime | None = None) -> datetime:
    """Return the heartbeat time before which a live node counts as unreachable."""
    settings = SystemSettings.get()
    window = timedelta(milliseconds=settings.fleet_poll_interval_ms * settings.unreachable_threshold)
    return (now or utcnow()) - window


def effective_status(node: VectorNode, cutoff: datetime | None = None) -> NodeStatus:
    """Return the status to show: a live node silent for too long is UNREACHABLE before any sweep."""
    if node.status in LIVE:
        cutoff = cutoff or unreachable_cutoff()
        if node.last_heartbeat is None or node.last_heartbeat < cutoff:
            return NodeStatus.UNREACHABLE
    return node.status


def effective_status_clause(status: NodeStatus, cutoff: datetime):
    """Return a SQL condition selecting nodes whose effective status is ``status``."""
    stale = sa.or_(VectorNode.last_heartbeat.is_(None), VectorNode.last_heartbeat < cutoff)
    if status == NodeStatus.UNREACHABLE:
        return sa.or_(VectorNode.status == NodeStatus.UNREACHABLE,
                      sa.and_(VectorNode.status.in_(LIVE), stale))
    if status in LIVE:
        return sa.and_(VectorNode.status == status, sa.not_(stale))
    return VectorNode.status == status


def label_clauses(labels: dict[str, str]) -> list:
    """Return SQL conditions selecting nodes that carry every one of these labels."""
    return [VectorNode.labels[key].as_string() == value for key, value in sorted(labels.items())]


def has_labels(node: VectorNode, labels: dict[str, str]) -> bool:
    """Return whether ``node`` carries every one of these labels (as ``label_clauses``)."""
    own = node.labels or {}
    return all(own.get(key) == value for key, value in labels.items())


def _set_status(node: VectorNode, status: NodeStatus, reason: str) -> None:
    from .health import set_node_status

    set_node_status(node, status, reason)


def _audit(action: str, node: VectorNode, actor: Actor | None, before=None, after=None) -> None:
    record(action, entity_type="node", entity_id=node.id, team_id=node.environment.team_id,
           environment_id=node.environment_id, before=before, after=after, actor=actor)


def _updated(action: str, node: VectorNode, actor: Actor | None, before: dict, after: dict,
             payload: dict) -> VectorNode:
    """Flush a change to a node, audit it and announce it as ``node.updated``."""
    db.session.flush()
    _audit(action, node, actor, before, after)
    emit("node.updated", team_id=node.environment.team_id, environment_id=node.environment_id,
         node_id=node.id, payload=payload)
    return node


def rename_node(node: VectorNode, name: str, *, actor: Actor | None = None) -> VectorNode:
    """Give a node a display name (its host stays as the agent reported it)."""
    name = (name or "").strip()
    if not name or len(name) > NODE_NAME_MAX:
        raise ServiceError(f"node name must be 1-{NODE_NAME_MAX} characters", {"name": name})
    ensure_text(name, "name", "node name")
    node = lock_node(node)
    if name == node.name:
        return node
    before = {"name": node.name}
    node.name = name
    return _updated("node.renamed", node, actor, before, {"name": name}, {"name": name})


def revoke_node_token(node: VectorNode, *, actor: Actor | None = None) -> VectorNode:
    """Make the node's token fail with 401 from its next call; the agent must enroll again."""
    node = lock_node(node)
    if node.node_token_digest is None and node.status == NodeStatus.UNREACHABLE:
        return node
    before = {"tokenActive": node.node_token_digest is not None, "status": node.status.value}
    node.node_token_digest = None
    _set_status(node, NodeStatus.UNREACHABLE, "token revoked")
    return _updated("node.token_revoked", node, actor, before,
                    {"tokenActive": False, "status": node.status.value}, {"tokenRevoked": True})


def delete_node(node: VectorNode, *, actor: Actor | None = None) -> None:
    """Forget a node; its token stops working at once."""
    node = lock_node(node, delete=True)
    env = node.environment
    _audit("node.deleted", node, actor,
           {"name": node.name, "host": node.host, "environment": env.name}, None)
    emit("node.deleted", team_id=env.team_id, environment_id=env.id, node_id=node.id,
         payload={"name": node.name})
    db.session.delete(node)
    db.session.flush()


@dataclass
class PruneResult:
    """Nodes a prune deleted (or would delete, on a dry run) and those it kept because they
    were seen again meanwhile."""

    pruned: list[VectorNode] = field(default_factory=list)
    kept: list[VectorNode] = field(default_factory=list)
    dry_run: bool = False


def prune_cutoff(days: int, now: datetime | None = None) -> datetime:
    """Return the time before which a node unseen for more than ``days`` days was last seen;
    refuse (400) a number of days outside 1..3650."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= PRUNE_DAYS_MAX:
        raise ServiceError(f"days must be a whole number from 1 to {PRUNE_DAYS_MAX}",
                           {"olderThanDays": f"1 to {PRUNE_DAYS_MAX}"})
    return (now or utcnow()) - timedelta(days=days)


def unseen_since(cutoff: datetime):
    """Select nodes last seen before ``cutoff`` (never seen: enrolled before it)."""
    return sa.or_(VectorNode.last_seen < cutoff,
                  sa.and_(VectorNode.last_seen.is_(None), VectorNode.created_at < cutoff))


def unseen_since_value(node: VectorNode, cutoff: datetime) -> bool:
    """Return whether ``node`` was last seen (never seen: enrolled) before ``cutoff``."""
    seen = node.last_seen or node.created_at
    return seen is not None and seen < cutoff


def prune_nodes(nodes: Iterable[VectorNode], days: int, *, dry_run: bool = False,
                actor: Actor | None = None) -> PruneResult:
    """Delete those of ``nodes`` unseen for more than ``days`` days, each audited as
    ``node.pruned``; a node seen again since it was listed is kept. A dry run changes nothing.
    """
    cutoff = prune_cutoff(days)
    nodes = list(nodes)
    if not dry_run:  # re-read under lock: an agent may have called in since the preview
        nodes = lock_nodes((n.id for n in nodes), delete=True, missing_ok=True)
    result = PruneResult(dry_run=dry_run)
    for node in nodes:
        (result.pruned if unseen_since_value(node, cutoff) else result.kept).append(node)
    if dry_run:
        return result
    for node in result.pruned:
        env = node.environment
        record("node.pruned", entity_type="node", entity_id=node.id, team_id=env.team_id,
               environment_id=env.id, actor=actor,
               before={"name": node.name, "host": node.host, "environment": env.name,
                       "lastSeen": node.last_seen.isoformat() if node.last_seen else None},
               details={"nodeName": node.name, "olderThanDays": days})
        emit("node.deleted", team_id=env.team_id, environment_id=env.id, node_id=node.id,
             payload={"name": node.name})
        db.session.delete(node)
    db.session.flush()
    return result


def _check_download_url(url: str) -> str:
    url = (url or "").strip()
    if not url or len(url) > URL_MAX:
        raise ServiceError(f"download URL must be 1-{URL_MAX} characters", {"downloadUrl": url})
    ensure_text(url, "downloadUrl", "download URL")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("https", "http"):
        raise ServiceError("download URL must be an absolute https:// URL", {"downloadUrl": url})
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise ServiceError("download URL must use https (http is allowed only for localhost)",
                           {"downloadUrl": url})
    return url


def trigger_agent_update(
    node: VectorNode,
    target_version: str,
    download_url: str,
    checksum: str,
    *,
    actor: Actor | None = None,
) -> VectorNode:
    """Ask the node's agent to replace itself with ``target_version`` on its next poll."""
    target_version = (target_version or "").strip()
    if not target_version or len(target_version) > VERSION_MAX:
        raise ServiceError(f"target version must be 1-{VERSION_MAX} characters",
                           {"targetVersion": target_version})
    ensure_text(target_version, "targetVersion", "target version")
    download_url = _check_download_url(download_url)
    checksum = (checksum or "").strip().lower()
    if not CHECKSUM_RE.match(checksum):
        raise ServiceError("checksum must be sha256: followed by 64 hex digits",
                           {"checksum": checksum})
    action = {"type": "self_update", "targetVersion": target_version,
              "downloadUrl": download_url, "checksum": checksum}
    node = lock_node(node)
    if node.deployment_mode == DeploymentMode.DOCKER:
        raise ServiceError(
            f"node {node.name!r} runs in Docker: update its container image instead of "
            "the agent binary"
        )
    before = {"pendingAction": node.pending_action, "lastUpdateError": node.last_update_error}
    node.pending_action = action
    node.last_update_error = None
    return _updated("node.update_triggered", node, actor, before, {"pendingAction": action},
                    {"pendingAction": action})


def cancel_pending_action(node: VectorNode, *, actor: Actor | None = None) -> VectorNode:
    """Withdraw a pending action the agent has not acted on yet."""
    node = lock_node(node)
    if node.pending_action is None:
        return node
    before = {"pendingAction": node.pending_action}
    node.pending_action = None
    return _updated("node.pending_action_cancelled", node, actor, before,
                    {"pendingAction": None}, {"pendingAction": None})


def visible_environments(principal) -> list[Environment]:
    """Return the environments of the teams ``principal`` belongs to (all for a superadmin)."""
    query = sa.select(Environment).join(Team, Team.id == Environment.team_id)
    ids = principal.team_ids()
    if ids is not None:
        query = query.where(Environment.team_id.in_(ids))
    return list(db.session.scalars(query.order_by(Team.name, Environment.name)))
