"""Maintenance mode: a node in maintenance is sent no pipelines, so its agent stops them all.

``set_maintenance`` is the one way in and out (fleet table, node page, REST API, CLI);
the sweep calls ``end_expired_maintenance`` for scheduled ends and the heartbeat calls
``on_heartbeat`` to follow the drain.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from ..extensions import db
from ..models import (
    DrainState,
    ExitKind,
    MaintenancePeriod,
    NodePipelineStatus,
    NodeStatus,
    Pipeline,
    ProcessStatus,
    VectorNode,
    utcnow,
)
from ..schemas.fields import REASON_MAX, ensure_text, parse_timestamp
from ..templating import iso
from . import Conflict, ServiceError
from .actors import Actor, current_actor
from .audit import record
from .events import emit
from .nodes import effective_status_clause, unreachable_cutoff

EVENT = "node.maintenance_changed"
ENTERED = "node.maintenance_entered"
LEFT = "node.maintenance_left"
# Statuses that mean a pipeline is still (or again) running on the agent.
ACTIVE = {ProcessStatus.RUNNING.value, ProcessStatus.STARTING.value}


# ---------------------------------------------------------------- input checks

def clean_reason(value: str | None) -> str | None:
    """Return the reason stripped (None when empty); refuse more than 500 characters."""
    text = (value or "").strip()
    if len(text) > REASON_MAX:
        raise ServiceError(f"reason must be at most {REASON_MAX} characters (got {len(text)})",
                           {"reason": f"at most {REASON_MAX} characters"})
    ensure_text(text, "reason", "reason")
    return text or None


def parse_until(value: str | datetime | None, *, now: datetime | None = None) -> datetime | None:
    """Return the scheduled end as aware UTC; refuse malformed, zone-less, out-of-range
    (schemas.fields.parse_timestamp) or past values."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        value = parse_timestamp(value)
    except ValueError as err:
        raise ServiceError(f"until {err}", {"until": str(err)}) from None
    if value <= (now or utcnow()):
        raise ServiceError("until must be in the future", {"until": "in the past"})
    return value


# ---------------------------------------------------------------- coverage

def _covered(env_ids: set[str], exclude_ids: set[str] = frozenset()) -> tuple[list[Pipeline], set[str]]:
    """Return the deployed pipelines of ``env_ids`` and the ids of those another node covers.

    A node covers a pipeline when its effective status is HEALTHY, it is not in maintenance,
    it is not in ``exclude_ids`` and it reports that pipeline RUNNING. The test is an EXISTS
    per deployed pipeline in the select list, so the database stops at the first covering
    status row (pipeline index) instead of grouping every status row of the environment.
    """
    covering = (
        sa.select(NodePipelineStatus.node_id)
        .join(VectorNode, VectorNode.id == NodePipelineStatus.node_id)
        .where(NodePipelineStatus.pipeline_id == Pipeline.id,
               NodePipelineStatus.status == ProcessStatus.RUNNING,
               VectorNode.maintenance_mode.is_(False),
               effective_status_clause(NodeStatus.HEALTHY, unreachable_cutoff()))
    )
    if exclude_ids:
        covering = covering.where(NodePipelineStatus.node_id.not_in(sorted(exclude_ids)))
    rows = db.session.execute(
        sa.select(Pipeline, covering.exists().correlate(Pipeline))
        .where(Pipeline.environment_id.in_(sorted(env_ids)), Pipeline.deployed.is_(True))
        .order_by(Pipeline.name)
    ).all()
    return [p for p, _ in rows], {p.id for p, is_covered in rows if is_covered}


def coverage_warnings_for(nodes: Iterable[VectorNode]) -> list[Pipeline]:
    """Return the deployed pipelines no node would run once all ``nodes`` are in maintenance."""
    nodes = list(nodes)
    if not nodes:
        return []
    deployed, covered = _covered({n.environment_id for n in nodes}, {n.id for n in nodes})
    return [p for p in deployed if p.id not in covered]


def coverage_warnings(node: VectorNode) -> list[Pipeline]:
    """Return the deployed pipelines no other healthy node would run once ``node`` is in maintenance."""
    return coverage_warnings_for([node])


def running_count(node: VectorNode) -> int:
    """Return how many pipelines the node last reported RUNNING (node index, one count)."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(NodePipelineStatus)
        .where(NodePipelineStatus.node_id == node.id,
               NodePipelineStatus.status == ProcessStatus.RUNNING)
    ) or 0


# ---------------------------------------------------------------- state changes

def _iso(value: datetime | None) -> str | None:
    return iso(value) or None


def _pipeline_names(pipelines: list[Pipeline]) -> list[str]:
    return [p.name for p in pipelines]


def _snapshot(node: VectorNode) -> dict:
    return {
        "maintenanceMode": node.maintenance_mode,
        "reason": node.maintenance_reason,
        "until": _iso(node.maintenance_until),
    }


def _emit(node: VectorNode, state: str, since: datetime, **extra) -> None:
    payload = {
        "state": state,
        "maintenanceMode": node.maintenance_mode,
        "reason": node.maintenance_reason,
        "until": _iso(node.maintenance_until),
        "by": node.maintenance_by_label,
        "since": _iso(since),
        "drainState": node.drain_state.value if node.drain_state else None,
    }
    payload.update(extra)
    emit(EVENT, team_id=node.environment.team_id, environment_id=node.environment_id,
         node_id=node.id, payload=payload)


def open_period(node: VectorNode) -> MaintenancePeriod | None:
    """Return the node's maintenance period that has not ended, if any."""
    return db.session.scalar(
        sa.select(MaintenancePeriod)
        .where(MaintenancePeriod.node_id == node.id, MaintenancePeriod.left_at.is_(None))
        .order_by(MaintenancePeriod.entered_at.desc()).limit(1)
    )


def history(node: VectorNode, limit: int = 50) -> list[MaintenancePeriod]:
    """Return the node's maintenance periods, newest first."""
    return list(db.session.scalars(
        sa.select(MaintenancePeriod).where(MaintenancePeriod.node_id == node.id)
        .order_by(MaintenancePeriod.entered_at.desc(), MaintenancePeriod.id.desc()).limit(limit)
    ))


def _set_state(node: VectorNode, *, on: bool, now: datetime, reason: str | None,
               until: datetime | None, actor: Actor, drain: DrainState | None) -> None:
    node.maintenance_mode = on
    node.maintenance_mode_at = now if on else None
    node.maintenance_reason = reason
    node.maintenance_until = until
    node.maintenance_by_label = actor.label
    node.maintenance_by_id = actor.id
    node.drain_state = drain
    node.drained_at = None
    db.session.flush()


def _audit(action: str, node: VectorNode, before: dict, details: dict, actor: Actor) -> None:
    record(action, entity_type="node", entity_id=node.id, team_id=node.environment.team_id,
           environment_id=node.environment_id, before=before, after=_snapshot(node),
           details={"nodeName": node.name, **details}, actor=actor)


def _enter(node: VectorNode, reason: str | None, until: datetime | None, actor: Actor,
           warnings: list[Pipeline], forced: bool) -> None:
    now = utcnow()
    before = _snapshot(node)
    db.session.add(MaintenancePeriod(
        node_id=node.id, entered_at=now, entered_by_label=actor.label, entered_by_id=actor.id,
        reason=reason, until=until,
    ))
    _set_state(node, on=True, now=now, reason=reason, until=until, actor=actor,
               drain=DrainState.DRAINING)
    details = {"coverageWarnings": _pipeline_names(warnings), "forced": forced} if warnings else {}
    _audit(ENTERED, node, before, details, actor)
    _emit(node, "entered", now)


def _leave(node: VectorNode, actor: Actor, kind: ExitKind, reason: str | None) -> None:
    now = utcnow()
    before = _snapshot(node)
    period = open_period(node)
    if period is not None:
        period.left_at = now
        period.left_by_label = actor.label
        period.left_by_id = actor.id
        period.exit_kind = kind
    # Nothing to wait for when the environment has no deployed pipeline.
    deployed = db.session.scalar(sa.select(sa.exists().where(
        Pipeline.environment_id == node.environment_id, Pipeline.deployed.is_(True))))
    _set_state(node, on=False, now=now, reason=None, until=None, actor=actor,
               drain=DrainState.RESUMING if deployed else None)
    details = {"exitKind": kind.value} | ({"reason": reason} if reason else {})
    _audit(LEFT, node, before, details, actor)
    _emit(node, "auto_exited" if kind == ExitKind.AUTO else "left", now,
          reason=before["reason"] if kind == ExitKind.AUTO else reason)


def set_maintenance(
    node: VectorNode,
    enabled: bool,
    *,
    reason: str | None = None,
    until: str | datetime | None = None,
    force: bool = False,
    actor: Actor | None = None,
) -> bool:
    """Put a node into maintenance or take it out; return whether anything changed.

    Entering refuses (Conflict, 409) when it would leave a deployed pipeline with no
    healthy node running it, unless ``force``. The state it already has is a no-op.
    """
    reason = clean_reason(reason)
    until = parse_until(until) if enabled else None
    if bool(node.maintenance_mode) == bool(enabled):
        return False
    actor = actor or current_actor()
    if enabled:
        warnings = coverage_warnings(node)
        if warnings and not force:
            raise coverage_conflict(warnings)
        _enter(node, reason, until, actor, warnings, forced=force)
    else:
        _leave(node, actor, ExitKind.MANUAL, reason)
    return True


def coverage_conflict(warnings: list[Pipeline]) -> Conflict:
    """Return the 409 error naming the pipelines that would lose their last node."""
    names = _pipeline_names(warnings)
    return Conflict(
        "entering maintenance would leave these pipelines running on no healthy node: "
        + ", ".join(names) + "; use force to enter anyway",
        {"pipelines": names, "coverageWarnings": [
            {"pipelineId": p.id, "pipelineName": p.name, "environmentId": p.environment_id}
            for p in warnings]},
    )


@dataclass
class BulkResult:
    changed: list[VectorNode] = field(default_factory=list)
    unchanged: list[VectorNode] = field(default_factory=list)
    warnings: list[Pipeline] = field(default_factory=list)
    dry_run: bool = False


def set_maintenance_many(
    nodes: Iterable[VectorNode],
    enabled: bool,
    *,
    reason: str | None = None,
    until: str | datetime | None = None,
    force: bool = False,
    dry_run: bool = False,
    actor: Actor | None = None,
) -> BulkResult:
    """Apply ``set_maintenance`` to many nodes, checking coverage for the set as a whole.

    With ``dry_run`` nothing changes: the result lists the nodes that would change and
    the coverage warnings.
    """
    reason = clean_reason(reason)
    until = parse_until(until) if enabled else None
    result = BulkResult(dry_run=dry_run)
    for node in nodes:
        target = result.unchanged if bool(node.maintenance_mode) == bool(enabled) else result.changed
        target.append(node)
    if enabled:
        result.warnings = coverage_warnings_for(result.changed)
    if dry_run:
        return result
    if result.warnings and not force:
        raise coverage_conflict(result.warnings)
    actor = actor or current_actor()
    for node in result.changed:
        if enabled:
            mine = [p for p in result.warnings if p.environment_id == node.environment_id]
            _enter(node, reason, until, actor, mine, forced=force)
        else:
            _leave(node, actor, ExitKind.MANUAL, reason)
    return result


def end_expired_maintenance(now: datetime | None = None) -> list[VectorNode]:
    """Take every node whose scheduled end has passed out of maintenance (as the system)."""
    now = now or utcnow()
    query = (
        sa.select(VectorNode)
        .where(VectorNode.maintenance_mode.is_(True), VectorNode.maintenance_until <= now)
        .order_by(VectorNode.maintenance_until)
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    nodes = list(db.session.scalars(query))
    for node in nodes:
        _leave(node, Actor.system(), ExitKind.AUTO, None)
    return nodes


def on_heartbeat(node: VectorNode, reported_statuses: Iterable) -> None:
    """Follow the drain from what a heartbeat reports (statuses, or dicts with ``status``).

    Costs nothing unless the node is draining or resuming.
    """
    if node.drain_state is None or node.drain_state == DrainState.DRAINED:
        return
    statuses = {str(getattr(s, "value", s.get("status") if isinstance(s, dict) else s)).upper()
                for s in reported_statuses}
    now = utcnow()
    if node.drain_state == DrainState.DRAINING and not statuses & ACTIVE:
        node.drain_state = DrainState.DRAINED
        node.drained_at = now
        seconds = int((now - node.maintenance_mode_at).total_seconds()) if node.maintenance_mode_at else None
        period = open_period(node)
        if period is not None:
            period.drained_at = now
            period.drain_seconds = seconds
        db.session.flush()
        _emit(node, "drained", now, drainSeconds=seconds)
    elif node.drain_state == DrainState.RESUMING and ProcessStatus.RUNNING.value in statuses:
        node.drain_state = None
        period = next(iter(history(node, 1)), None)
        if period is not None and period.resumed_at is None:
            period.resumed_at = now
        db.session.flush()
        _emit(node, "resumed", now)
