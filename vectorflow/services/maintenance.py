"""Maintenance mode: a node in maintenance is sent no pipelines, so its agent stops them all.

``set_maintenance`` is the one way in and out (fleet table, node page, REST API, CLI), and
``set_maintenance_many`` for many nodes at once; the sweep calls ``end_expired_maintenance``
for scheduled ends, maintenance windows (services.windows) call ``enter_for_window`` and
``leave_for_window``, and the heartbeat calls ``on_heartbeat`` to follow the drain. Every
one of them changes state through ``_enter`` and ``_leave`` below, and every way in checks
the disruption budgets (services.budgets) under the environment lock.
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
    MaintenanceWindow,
    MaintenanceWindowRun,
    NodePipelineStatus,
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
from .budgets import Shortfall, shortfalls
from .events import emit
from .locks import lock_environments, lock_node, lock_nodes

EVENT = "node.maintenance_changed"
ENTERED = "node.maintenance_entered"
LEFT = "node.maintenance_left"
# Statuses that mean a pipeline is still (or again) running on the agent.
ACTIVE = {ProcessStatus.RUNNING.value, ProcessStatus.STARTING.value}


# ---------------------------------------------------------------- input checks

def clean_reason(value: str | None) -> str | None:
    """Return the reason stripped (None when empty); refuse more than 500 characters, NUL
    characters and lone surrogates."""
    text = (value or "").strip()
    ensure_text(text, "reason", "reason")
    if len(text) > REASON_MAX:
        raise ServiceError(f"reason must be at most {REASON_MAX} characters (got {len(text)})",
                           {"reason": f"at most {REASON_MAX} characters"})
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


# ---------------------------------------------------------------- budgets

def budget_shortfalls(node: VectorNode) -> list[Shortfall]:
    """Return the disruption budgets ``node`` entering maintenance alone would break."""
    return shortfalls([node])


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
    if state in ("entered", "left", "auto_exited"):
        # Alerts need nothing at once: what fires meanwhile is suppressed, what still holds
        # after the grace period fires from the sweep.
        from .notifications import queue_maintenance

        queue_maintenance(node, state, {k: v for k, v in payload.items() if k != "state"})


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


def _window_details(window: MaintenanceWindow | None) -> dict:
    return {"windowId": window.id, "windowName": window.name} if window is not None else {}


def _enter(node: VectorNode, reason: str | None, until: datetime | None, actor: Actor,
           broken: list[Shortfall], forced: bool, *, now: datetime | None = None,
           run: MaintenanceWindowRun | None = None) -> None:
    now = now or utcnow()
    window = run.window if run is not None else None
    before = _snapshot(node)
    db.session.add(MaintenancePeriod(
        node_id=node.id, entered_at=now, entered_by_label=actor.label, entered_by_id=actor.id,
        reason=reason, until=until, window_run_id=run.id if run is not None else None,
        window_name=window.name if window is not None else None,
    ))
    _set_state(node, on=True, now=now, reason=reason, until=until, actor=actor,
               drain=DrainState.DRAINING)
    details = _window_details(window)
    if broken:
        details |= {"coverageWarnings": _pipeline_names([s.pipeline for s in broken]),
                    "budgetShortfalls": [s.as_dict() for s in broken], "forced": forced}
    _audit(ENTERED, node, before, details, actor)
    _emit(node, "entered", now, **({"window": window.name} if window is not None else {}))


def _leave(node: VectorNode, actor: Actor, kind: ExitKind, reason: str | None, *,
           now: datetime | None = None, window: MaintenanceWindow | None = None) -> None:
    now = now or utcnow()
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
    details = ({"exitKind": kind.value} | ({"reason": reason} if reason else {})
               | _window_details(window))
    _audit(LEFT, node, before, details, actor)
    _emit(node, "auto_exited" if kind == ExitKind.AUTO else "left", now,
          reason=before["reason"] if kind == ExitKind.AUTO else reason,
          **({"window": window.name} if window is not None else {}))


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

    Entering refuses (Conflict, 409) when it would break a deployed pipeline's disruption
    budget (by default: leave it on no healthy node), unless ``force``. The state it already
    has is a no-op.
    """
    reason = clean_reason(reason)
    until = parse_until(until) if enabled else None
    if enabled:  # the budgets read the environment's other nodes: lock it first
        lock_environments([node.environment_id])
    node = lock_node(node)
    if bool(node.maintenance_mode) == bool(enabled):
        return False
    actor = actor or current_actor()
    if enabled:
        broken = budget_shortfalls(node)
        if broken and not force:
            raise budget_conflict(broken)
        _enter(node, reason, until, actor, broken, forced=force)
    else:
        _leave(node, actor, ExitKind.MANUAL, reason)
    return True


def budget_conflict(broken: list[Shortfall]) -> Conflict:
    """Return the 409 error naming the pipelines whose budgets would break, with the numbers."""
    return Conflict(
        "entering maintenance would break the disruption budget of "
        + ", ".join(s.describe() for s in broken) + "; use force to enter anyway",
        {"pipelines": _pipeline_names([s.pipeline for s in broken]),
         "coverageWarnings": [s.as_dict() for s in broken]},
    )


@dataclass
class BulkResult:
    changed: list[VectorNode] = field(default_factory=list)
    unchanged: list[VectorNode] = field(default_factory=list)
    warnings: list[Shortfall] = field(default_factory=list)
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
    """Apply ``set_maintenance`` to many nodes, checking the budgets for the set as a whole.

    With ``dry_run`` nothing changes (and nothing is locked): the result lists the nodes that
    would change and the budgets it would break.
    """
    reason = clean_reason(reason)
    until = parse_until(until) if enabled else None
    nodes = list(nodes)
    if not dry_run:
        if enabled:
            lock_environments(n.environment_id for n in nodes)
        lock_nodes(n.id for n in nodes)  # refreshes ``nodes`` in place, in id order
    result = BulkResult(dry_run=dry_run)
    for node in nodes:
        target = result.unchanged if bool(node.maintenance_mode) == bool(enabled) else result.changed
        target.append(node)
    if enabled:
        result.warnings = shortfalls(result.changed)
    if dry_run:
        return result
    if result.warnings and not force:
        raise budget_conflict(result.warnings)
    actor = actor or current_actor()
    for node in result.changed:
        if enabled:
            mine = [s for s in result.warnings if s.pipeline.environment_id == node.environment_id]
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
        .with_for_update(skip_locked=True, key_share=True)  # a node being changed: next sweep
    )
    nodes = list(db.session.scalars(query))
    for node in nodes:
        _leave(node, Actor.system(), ExitKind.AUTO, None, now=now)
    return nodes


def enter_for_window(node: VectorNode, run: MaintenanceWindowRun, now: datetime) -> None:
    """Put a node into maintenance for a window's run, as the system (services.windows has
    locked the environment and the node and admitted the node under the budgets)."""
    _enter(node, run.window.reason, None, Actor.system(), [], forced=False, now=now, run=run)


def leave_for_window(node: VectorNode, window: MaintenanceWindow, now: datetime,
                     actor: Actor | None = None) -> None:
    """Take a node a window held out of maintenance as its window ends (as the system), or
    as ``actor`` disables or deletes the window."""
    kind = ExitKind.AUTO if actor is None else ExitKind.MANUAL
    _leave(node, actor or Actor.system(), kind, None, now=now, window=window)


@dataclass(frozen=True)
class Phase:
    """One step of a node's way through maintenance, in the words every page uses."""

    key: str
    label: str  # the badge beside "Maintenance", the pipelines table's heading note
    banner: str  # what the node page's banner says about the node's pipelines
    pipelines: str  # what the node page's pipelines table says about a reported status


# The one maintenance vocabulary: the node header, the banner and the node's pipelines table
# read it from here (templates/macros/maintenance.html).
PHASES = {
    "entering": Phase("entering", "Entering",
                      "Its agent is told to stop every pipeline on its next poll; it has not "
                      "reported since maintenance began.",
                      "As last reported, before maintenance began"),
    "draining": Phase("draining", "Draining",
                      "Its agent is stopping its pipelines; those below still report running.",
                      "Being stopped for maintenance"),
    "drained": Phase("drained", "Drained",
                     "Every pipeline on it is stopped. They start again when maintenance ends.",
                     "Stopped for maintenance"),
    "leaving": Phase("leaving", "Leaving",
                     "Maintenance ended: its agent starts its pipelines on its next poll.",
                     "As last reported, before maintenance ended"),
    "resuming": Phase("resuming", "Resuming",
                      "Maintenance ended: waiting for its pipelines to report running.",
                      "Starting again after maintenance"),
}


def phase_of(node: VectorNode) -> Phase | None:
    """Return where ``node`` is in maintenance, or None when it is plainly outside it.

    Entering and leaving last until the agent's first heartbeat after the switch; resuming
    ends with the first heartbeat reporting a pipeline RUNNING (``on_heartbeat``).
    """
    heard = node.last_heartbeat
    if node.maintenance_mode:
        if node.drain_state == DrainState.DRAINING:
            since = node.maintenance_mode_at
            return PHASES["entering" if since and (heard is None or heard < since)
                          else "draining"]
        return PHASES["drained"]
    if node.drain_state != DrainState.RESUMING:
        return None
    last = next(iter(history(node, 1)), None)  # only while resuming: one indexed read
    left = last.left_at if last is not None else None
    return PHASES["leaving" if left and (heard is None or heard < left) else "resuming"]


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
