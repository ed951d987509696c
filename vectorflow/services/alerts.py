"""Alerts: built-in rules per environment, evaluated by the sweep and on the changes that matter.

Each rule finds the conditions that hold now (a node without heartbeats, a crashed pipeline, a
drain that does not finish ...), each with the time it began when that can be known. A
condition that has held for the rule's threshold fires an alert; an alert whose condition no
longer holds is resolved. Firing and resolving queue the notifications (services.notifications)
and an ``alert.changed`` event in the same transaction.

Maintenance: an alert that fires for a node in maintenance, or within the grace period after
it left (``VECTORFLOW_ALERT_GRACE_SECONDS``, 2 minutes), is recorded ``suppressed`` and
notifies no one; once the node is out of maintenance and past the grace period, a condition
that still holds fires normally (the alert is unsuppressed and notified). The maintenance
overrun rules are never suppressed: they are about the maintenance itself.

Who evaluates: the registered sweep (``sweep_alerts``, one process at a time) for everything,
and a heartbeat that changed something a rule watches, for its node (``evaluate_nodes``, under
the node's lock), so a crash or a recovery shows at once. Writes follow the lock order: the sweep
locks the nodes whose alerts change (skipping any a heartbeat holds: the next round gets
them), and state changes are compare-and-set updates, so two evaluators never notify twice.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import (
    Alert,
    AlertRule,
    Environment,
    MaintenancePeriod,
    NodePipelineStatus,
    NodeStatus,
    NodeStatusEvent,
    Pipeline,
    ProcessStatus,
    VectorNode,
    utcnow,
)
from ..models.alerts import FIRING, PENDING, RESOLVED
from ..models.maintenance import DrainState
from ..schemas.fields import THRESHOLD_MAX
from ..templating import iso
from . import ServiceError
from .actors import Actor, current_actor
from .audit import record
from .budgets import BudgetState
from .budgets import states as budget_states
from .events import emit
from .locks import lock_environments, lock_free_nodes
from .nodes import effective_status_clause, unreachable_cutoff

EVENT = "alert.changed"
DEFAULT_GRACE_SECONDS = 120


# ------------------------------------------------------------------------------ rules


@dataclass
class Condition:
    """Something a rule found true now, about a node, a pipeline, or a pipeline on a node."""

    rule: str
    environment_id: str
    subject: str
    message: str
    since: datetime | None = None  # when it began, if known; else when first seen
    node_id: str | None = None
    pipeline_id: str | None = None

    @property
    def key(self) -> str:
        return alert_key(self.rule, self.node_id, self.pipeline_id)


def alert_key(rule: str, node_id: str | None, pipeline_id: str | None) -> str:
    """Return what makes two observations the same alert."""
    return f"{rule}:{node_id or ''}:{pipeline_id or ''}"


@dataclass
class Scan:
    """What a rule's finder gets: the time, which nodes to look at, settings, open alerts."""

    now: datetime
    node_ids: list[str] | None  # None: every node (the sweep)
    settings: Settings
    open: dict[str, Alert]

    def nodes(self, *columns, where) -> list:
        """Return (id, name, environment_id, *columns) of the nodes in scope matching ``where``."""
        query = sa.select(VectorNode.id, VectorNode.name, VectorNode.environment_id,
                          *columns).where(*where)
        if self.node_ids is not None:
            query = query.where(VectorNode.id.in_(self.node_ids))
        return db.session.execute(query.order_by(VectorNode.id)).all()


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    threshold_means: str
    default_threshold: int
    find: Callable[[Scan], list[Condition]]
    suppressible: bool = True  # silenced while its node is in maintenance
    node_scoped: bool = True  # False: about a pipeline of the environment (sweep only)
    threshold_delays: bool = True  # the condition must hold this long before it fires


def _node_unreachable(scan: Scan) -> list[Condition]:
    cutoff = unreachable_cutoff(scan.now)
    window = scan.now - cutoff
    found = []
    for row in scan.nodes(VectorNode.last_heartbeat, VectorNode.created_at,
                          where=[effective_status_clause(NodeStatus.UNREACHABLE, cutoff)]):
        seen = row.last_heartbeat
        since = min(seen + window, scan.now) if seen else row.created_at
        message = (f"{row.name} has sent no heartbeat since {iso(seen)}" if seen
                   else f"{row.name} has never sent a heartbeat")
        found.append(Condition("node_unreachable", row.environment_id, row.name, message,
                               since, node_id=row.id))
    return found


def _node_degraded(scan: Scan) -> list[Condition]:
    became = (sa.select(sa.func.max(NodeStatusEvent.created_at))
              .where(NodeStatusEvent.node_id == VectorNode.id,
                     NodeStatusEvent.to_status == NodeStatus.DEGRADED)
              .scalar_subquery())
    cutoff = unreachable_cutoff(scan.now)
    return [Condition("node_degraded", row.environment_id, row.name,
                      f"{row.name} is degraded (a pipeline reported CRASHED)",
                      min(row.became or scan.now, scan.now), node_id=row.id)
            for row in scan.nodes(became.label("became"),
                                  where=[effective_status_clause(NodeStatus.DEGRADED, cutoff)])]


def _pipeline_crashed(scan: Scan) -> list[Condition]:
    """CRASHED now; and once firing, until the pipeline has run N minutes without a restart
    (so a pipeline restarting in a loop is one alert, not one per crash)."""
    firing = {(a.node_id, a.pipeline_id) for a in scan.open.values()
              if a.rule == "pipeline_crashed"}
    watched = NodePipelineStatus.status == ProcessStatus.CRASHED
    if firing:
        watched = sa.or_(watched, NodePipelineStatus.node_id.in_(sorted({n for n, _ in firing})))
    query = (
        sa.select(NodePipelineStatus.node_id, NodePipelineStatus.pipeline_id,
                  NodePipelineStatus.status, NodePipelineStatus.uptime_seconds,
                  VectorNode.name, VectorNode.environment_id, Pipeline.name.label("pipeline"))
        .join(VectorNode, VectorNode.id == NodePipelineStatus.node_id)
        .join(Pipeline, Pipeline.id == NodePipelineStatus.pipeline_id)
        .where(watched)
    )
    if scan.node_ids is not None:
        query = query.where(NodePipelineStatus.node_id.in_(scan.node_ids))
    found = []
    for row in db.session.execute(query):
        crashed = row.status == ProcessStatus.CRASHED
        if not crashed:
            if (row.node_id, row.pipeline_id) not in firing:
                continue
            steady = scan.settings.threshold(row.environment_id, "pipeline_crashed") * 60
            if row.status == ProcessStatus.RUNNING and (row.uptime_seconds is None
                                                        or row.uptime_seconds >= steady):
                continue
        what = "crashed" if crashed else "keeps restarting"
        found.append(Condition("pipeline_crashed", row.environment_id,
                               f"{row.pipeline} on {row.name}",
                               f"Pipeline {row.pipeline} {what} on {row.name}",
                               node_id=row.node_id, pipeline_id=row.pipeline_id))
    return found


def pipelines_below_budget(env_ids: Iterable[str], now: datetime
                           ) -> list[tuple[Pipeline, BudgetState]]:
    """Return the deployed pipelines running on fewer counting nodes than their disruption
    budget requires (services.budgets), with the numbers."""
    pipelines = db.session.scalars(
        sa.select(Pipeline).where(Pipeline.environment_id.in_(sorted(set(env_ids))),
                                  Pipeline.deployed.is_(True)).order_by(Pipeline.name)).all()
    held = budget_states(list(pipelines), now)
    return [(p, held[p.id]) for p in pipelines if held[p.id].available < held[p.id].required]


def _pipeline_below_budget(scan: Scan) -> list[Condition]:
    env_ids = db.session.scalars(
        sa.select(Pipeline.environment_id).where(Pipeline.deployed.is_(True)).distinct()).all()
    env_ids = [e for e in env_ids if scan.settings.enabled(e, "pipeline_below_budget")]
    if not env_ids:
        return []
    return [Condition("pipeline_below_budget", p.environment_id, p.name,
                      f"Pipeline {p.name} runs on {held.available} healthy node"
                      f"{'' if held.available == 1 else 's'} outside maintenance; its "
                      f"disruption budget needs {held.required}",
                      pipeline_id=p.id)
            for p, held in pipelines_below_budget(env_ids, scan.now)]


def _drain_overrun(scan: Scan) -> list[Condition]:
    return [Condition("drain_overrun", row.environment_id, row.name,
                      f"{row.name} is still draining: it entered maintenance at "
                      f"{iso(row.maintenance_mode_at)} and still reports pipelines running",
                      row.maintenance_mode_at, node_id=row.id)
            for row in scan.nodes(VectorNode.maintenance_mode_at, where=[
                VectorNode.maintenance_mode.is_(True),
                VectorNode.drain_state == DrainState.DRAINING,
                VectorNode.maintenance_mode_at.is_not(None)])]


def _maintenance_overrun(scan: Scan) -> list[Condition]:
    return [Condition("maintenance_overrun", row.environment_id, row.name,
                      f"{row.name} is still in maintenance after its scheduled end "
                      f"({iso(row.maintenance_until)})", row.maintenance_until, node_id=row.id)
            for row in scan.nodes(VectorNode.maintenance_until, where=[
                VectorNode.maintenance_mode.is_(True),
                VectorNode.maintenance_until <= scan.now])]


def _agent_update_failed(scan: Scan) -> list[Condition]:
    return [Condition("agent_update_failed", row.environment_id, row.name,
                      f"Agent update failed on {row.name}: {row.last_update_error[:300]}",
                      node_id=row.id)
            for row in scan.nodes(VectorNode.last_update_error,
                                  where=[VectorNode.last_update_error.is_not(None)])]


RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Rule("node_unreachable", "Node unreachable", "minutes without heartbeats past the "
         "unreachable threshold before it fires", 5, _node_unreachable),
    Rule("node_degraded", "Node degraded", "minutes degraded before it fires", 10,
         _node_degraded),
    Rule("pipeline_crashed", "Pipeline crashed", "fires at the first crash; resolves once the "
         "pipeline has run this many minutes without restarting", 5, _pipeline_crashed,
         threshold_delays=False),
    Rule("pipeline_below_budget", "Pipeline below its disruption budget", "minutes a deployed "
         "pipeline runs on no healthy node outside maintenance before it fires", 5,
         _pipeline_below_budget, suppressible=False, node_scoped=False),
    Rule("drain_overrun", "Drain not finished", "minutes after entering maintenance", 15,
         _drain_overrun, suppressible=False),
    Rule("maintenance_overrun", "Maintenance overrun", "minutes after the scheduled end of "
         "maintenance", 15, _maintenance_overrun, suppressible=False),
    Rule("agent_update_failed", "Agent update failed", "minutes after the failure is reported",
         0, _agent_update_failed),
)}
# Rules about maintenance running over: channels may take them as maintenance events too.
OVERRUN_RULES = ("drain_overrun", "maintenance_overrun")


# ------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class RuleSetting:
    environment_id: str
    rule: Rule
    enabled: bool
    threshold_minutes: int
    customised: bool


class Settings:
    """The rule settings of some environments (defaults where none was saved)."""

    def __init__(self, env_ids: Iterable[str] | None = None):
        query = sa.select(AlertRule)
        if env_ids is not None:
            query = query.where(AlertRule.environment_id.in_(sorted(set(env_ids))))
        self.rows = {(r.environment_id, r.rule): r for r in db.session.scalars(query)}

    def get(self, env_id: str, name: str) -> RuleSetting:
        rule, row = RULES[name], self.rows.get((env_id, name))
        if row is None:
            return RuleSetting(env_id, rule, True, rule.default_threshold, False)
        return RuleSetting(env_id, rule, row.enabled, row.threshold_minutes, True)

    def enabled(self, env_id: str, name: str) -> bool:
        return self.get(env_id, name).enabled

    def threshold(self, env_id: str, name: str) -> int:
        return self.get(env_id, name).threshold_minutes


def rule_settings(env: Environment) -> list[RuleSetting]:
    """Return every built-in rule as set for ``env``."""
    settings = Settings([env.id])
    return [settings.get(env.id, name) for name in RULES]


def update_rule(env: Environment, name: str, *, enabled: bool | None = None,
                threshold_minutes: int | None = None, actor: Actor | None = None) -> RuleSetting:
    """Enable or disable one rule for an environment, or change its threshold (audited)."""
    if name not in RULES:
        raise ServiceError(f"unknown rule {name!r}; the rules are {', '.join(RULES)}",
                           {"rule": "unknown"})
    if threshold_minutes is not None and not 0 <= threshold_minutes <= THRESHOLD_MAX:
        raise ServiceError(f"thresholdMinutes must be between 0 and {THRESHOLD_MAX}",
                           {"thresholdMinutes": "out of range"})
    lock_environments([env.id])
    row = db.session.scalar(sa.select(AlertRule).where(AlertRule.environment_id == env.id,
                                                       AlertRule.rule == name))
    before = Settings([env.id]).get(env.id, name)
    after = (before.enabled if enabled is None else enabled,
             before.threshold_minutes if threshold_minutes is None else threshold_minutes)
    if after == (before.enabled, before.threshold_minutes):
        return before
    actor = actor or current_actor()
    if row is None:
        row = AlertRule(environment_id=env.id, rule=name)
        db.session.add(row)
    row.enabled, row.threshold_minutes = after
    row.updated_by_label = actor.label
    db.session.flush()
    record("alert_rule.updated", entity_type="environment", entity_id=env.id,
           team_id=env.team_id, environment_id=env.id,
           before={"enabled": before.enabled, "thresholdMinutes": before.threshold_minutes},
           after={"enabled": after[0], "thresholdMinutes": after[1]},
           details={"rule": name}, actor=actor)
    return Settings([env.id]).get(env.id, name)


# ------------------------------------------------------------------------------ evaluation


def grace_period() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("VECTORFLOW_ALERT_GRACE_SECONDS",
                                                          DEFAULT_GRACE_SECONDS)))


def _quiet_nodes(node_ids: set[str], now: datetime) -> set[str]:
    """Return the nodes in maintenance or out of it for less than the grace period."""
    if not node_ids:
        return set()
    left = (sa.select(sa.func.max(MaintenancePeriod.left_at))
            .where(MaintenancePeriod.node_id == VectorNode.id).scalar_subquery())
    rows = db.session.execute(
        sa.select(VectorNode.id, VectorNode.maintenance_mode, left.label("left_at"))
        .where(VectorNode.id.in_(sorted(node_ids))))
    quiet_after = now - grace_period()
    return {row.id for row in rows
            if row.maintenance_mode or (row.left_at is not None and row.left_at > quiet_after)}


def _open_alerts(node_ids: list[str] | None, node_scoped: bool | None) -> dict[str, Alert]:
    query = sa.select(Alert).where(Alert.ended_at.is_(None))
    if node_ids is not None:
        query = query.where(Alert.node_id.in_(node_ids))
    if node_scoped is not None:
        rules = [name for name, rule in RULES.items() if rule.node_scoped == node_scoped]
        # An alert of a rule that no longer exists belongs to no finder: resolve it too.
        unknown = Alert.rule.not_in(list(RULES))
        query = query.where(sa.or_(Alert.rule.in_(rules), unknown) if node_scoped is False
                            else Alert.rule.in_(rules))
    return {a.key: a for a in db.session.scalars(query.order_by(Alert.key))}


@dataclass
class Plan:
    """What one evaluation found: conditions by key and the open alerts by key."""

    now: datetime
    settings: Settings
    conditions: dict[str, Condition] = field(default_factory=dict)
    open: dict[str, Alert] = field(default_factory=dict)

    def decide(self, key: str, quiet: set[str]) -> str | None:
        """Return what to do with ``key``: fire, pend, unsuppress, resolve, forget, or None."""
        cond, alert = self.conditions.get(key), self.open.get(key)
        if cond is None:
            if alert is None:
                return None
            return "forget" if alert.state == PENDING else "resolve"
        rule = RULES[cond.rule]
        since = cond.since or (alert.since if alert is not None else self.now)
        threshold = timedelta(minutes=self.settings.threshold(cond.environment_id, rule.name))
        due = not rule.threshold_delays or since + threshold <= self.now
        if alert is None:
            if due:
                return "fire"
            return "pend" if cond.since is None else None
        if alert.state == PENDING:
            return "fire" if due else None
        if alert.suppressed and cond.node_id not in quiet:
            return "unsuppress"
        return None

    def node_of(self, key: str) -> str | None:
        cond, alert = self.conditions.get(key), self.open.get(key)
        return cond.node_id if cond is not None else alert.node_id


def _plan(now: datetime, node_ids: list[str] | None, node_scoped: bool) -> Plan:
    """Find the conditions of the node rules (or of the environment rules) and the open alerts."""
    open_alerts = _open_alerts(node_ids, node_scoped)
    settings = Settings()
    scan = Scan(now, node_ids, settings, open_alerts)
    plan = Plan(now, settings, open=open_alerts)
    for rule in RULES.values():
        if rule.node_scoped != node_scoped:
            continue
        for cond in rule.find(scan):
            if settings.enabled(cond.environment_id, rule.name):
                plan.conditions[cond.key] = cond
    return plan


def _quiet_for(plan: Plan) -> set[str]:
    return _quiet_nodes({c.node_id for c in plan.conditions.values()
                         if c.node_id and RULES[c.rule].suppressible}, plan.now)


def _carry_out(plan: Plan, keys: Iterable[str]) -> list[Alert]:
    """Carry out the plan's decisions for ``keys`` (in key order); return the alerts changed."""
    quiet = _quiet_for(plan)
    changed = []
    for key in sorted(keys):
        action = plan.decide(key, quiet)
        if action is None:
            continue
        cond, alert = plan.conditions.get(key), plan.open.get(key)
        if action == "forget":
            db.session.execute(sa.delete(Alert).where(Alert.id == alert.id,
                                                      Alert.state == PENDING))
            continue
        if action == "pend":
            db.session.add(_new_alert(cond, PENDING, plan.now, suppressed=False))
            db.session.flush()
            continue
        suppressed = bool(cond and RULES[cond.rule].suppressible and cond.node_id in quiet)
        if action == "fire" and alert is None:
            alert = _new_alert(cond, FIRING, plan.now, suppressed=suppressed)
            db.session.add(alert)
            db.session.flush()
            done = True
        elif action == "fire":
            done = _compare_and_set(alert, Alert.state == PENDING, state=FIRING,
                                    fired_at=plan.now, suppressed=suppressed,
                                    message=cond.message[:500])
        elif action == "unsuppress":
            done = _compare_and_set(alert, Alert.suppressed.is_(True), suppressed=False)
        else:  # resolve
            done = _compare_and_set(alert, Alert.state == FIRING, state=RESOLVED,
                                    ended_at=plan.now)
        if done:
            _announce(alert, action, plan.now)
            changed.append(alert)
    return changed


def _new_alert(cond: Condition, state: str, now: datetime, *, suppressed: bool) -> Alert:
    return Alert(key=cond.key, rule=cond.rule, state=state, suppressed=suppressed,
                 environment_id=cond.environment_id, node_id=cond.node_id,
                 pipeline_id=cond.pipeline_id, subject=cond.subject[:300],
                 message=cond.message[:500], since=cond.since or now,
                 fired_at=now if state == FIRING else None, created_at=now)


def _compare_and_set(alert: Alert, expected, **values) -> bool:
    """Update the open alert if it is still as ``expected``; whether this transaction did.

    Two evaluators of the same alert (the sweep, a heartbeat) queue one update each; the
    second finds the row changed under it and does nothing, so nothing is notified twice.
    """
    done = db.session.execute(
        sa.update(Alert).where(Alert.id == alert.id, Alert.ended_at.is_(None), expected)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.expire(alert)
    return done


def _announce(alert: Alert, action: str, now: datetime) -> None:
    """Queue the alert's event and, unless it is suppressed, its notifications."""
    from . import notifications

    notify = None
    if action in ("fire", "unsuppress") and not alert.suppressed:
        notify = "alert.firing"
        db.session.execute(sa.update(Alert).where(Alert.id == alert.id)
                           .values(notified_at=now).execution_options(synchronize_session=False))
        db.session.expire(alert)
    elif action == "resolve" and alert.notified_at is not None:
        notify = "alert.resolved"
    if notify:
        notifications.queue_alert(alert, notify, now)
    change = {"fire": "fired", "unsuppress": "fired", "resolve": "resolved"}[action]
    _emit(alert, change)


def _emit(alert: Alert, change: str) -> None:
    emit(EVENT, team_id=alert.environment.team_id, environment_id=alert.environment_id,
         node_id=alert.node_id,
         payload={"alertId": alert.id, "change": change, "rule": alert.rule,
                  "state": alert.state, "suppressed": alert.suppressed,
                  "subject": alert.subject, "pipelineId": alert.pipeline_id})


def evaluate_nodes(node_ids: Iterable[str], now: datetime | None = None) -> list[Alert]:
    """Evaluate the node rules for these nodes now; the caller holds their locks.

    Called by the heartbeat when something a rule watches changed, so an alert fires (or
    resolves) at once instead of at the next sweep.
    """
    ids = sorted(set(node_ids))
    if not ids:
        return []
    plan = _plan(now or utcnow(), ids, node_scoped=True)
    return _carry_out(plan, set(plan.conditions) | set(plan.open))


def sweep_alerts(now: datetime | None = None) -> list[Alert]:
    """Evaluate every rule everywhere (a registered sweep); return the alerts that changed.

    A first pass reads without locks. Only when something must change: the nodes concerned are
    locked (in id order, skipping those being changed right now) and their rules evaluated
    again under the locks, so a heartbeat committed meanwhile is seen and not contradicted.
    """
    now = now or utcnow()
    changed = []
    node_plan = _plan(now, None, node_scoped=True)
    quiet = _quiet_for(node_plan)
    keys = set(node_plan.conditions) | set(node_plan.open)
    due = [k for k in keys if node_plan.decide(k, quiet) is not None]
    orphans = [k for k in due if node_plan.node_of(k) is None]  # their node was deleted
    changed += _carry_out(node_plan, orphans)
    locked = lock_free_nodes({node_plan.node_of(k) for k in due} - {None})
    if locked:
        changed += evaluate_nodes(locked, now)
    env_plan = _plan(now, None, node_scoped=False)
    changed += _carry_out(env_plan, set(env_plan.conditions) | set(env_plan.open))
    return changed


# ------------------------------------------------------------------------------ acknowledge


def acknowledge(alert: Alert, *, actor: Actor | None = None) -> Alert:
    """Record who acknowledged the alert (once; acknowledging again changes nothing)."""
    if alert.state == PENDING:
        raise ServiceError("this alert has not fired")
    actor = actor or current_actor()
    done = _compare_and_set(alert, Alert.acknowledged_at.is_(None), acknowledged_at=utcnow(),
                            acknowledged_by_label=actor.label, acknowledged_by_id=actor.id)
    if done:
        record("alert.acknowledged", entity_type="alert", entity_id=str(alert.id),
               team_id=alert.environment.team_id, environment_id=alert.environment_id,
               after={"acknowledgedBy": actor.label},
               details={"rule": alert.rule, "subject": alert.subject}, actor=actor)
        _emit(alert, "acknowledged")
    return alert


# ------------------------------------------------------------------------------ reading

# What a page or the API filters on: firing (not suppressed), suppressed, resolved.
VIEWS = ("firing", "suppressed", "resolved")


def alerts_query(team_ids: list[str] | None, *, view: str | None = None,
                 state: str | None = None, suppressed: bool | None = None,
                 environment_id: str | None = None, node_id: str | None = None) -> sa.Select:
    """Return a select of the alerts people see (never pending ones), filtered."""
    query = sa.select(Alert).where(Alert.state != PENDING)
    if team_ids is not None:
        query = query.where(Alert.environment_id.in_(
            sa.select(Environment.id).where(Environment.team_id.in_(team_ids))))
    if view == "firing":
        state, suppressed = FIRING, False
    elif view == "suppressed":
        state, suppressed = FIRING, True
    elif view == "resolved":
        state = RESOLVED
    if state:
        query = query.where(Alert.state == state)
    if suppressed is not None:
        query = query.where(Alert.suppressed.is_(suppressed))
    if environment_id:
        query = query.where(Alert.environment_id == environment_id)
    if node_id:
        query = query.where(Alert.node_id == node_id)
    return query


def counts(team_ids: list[str] | None, **filters) -> dict[str, int]:
    """Count the alerts of each view (firing, suppressed, resolved), one query."""
    base = alerts_query(team_ids, **filters).subquery()
    rows = db.session.execute(
        sa.select(base.c.state, base.c.suppressed, sa.func.count())
        .group_by(base.c.state, base.c.suppressed)).all()
    result = dict.fromkeys(VIEWS, 0)
    for state, suppressed, count in rows:
        view = "resolved" if state == RESOLVED else "suppressed" if suppressed else "firing"
        result[view] += count
    return result


def firing_count(team_ids: list[str] | None) -> int:
    """Return how many alerts of these teams fire (and are not suppressed) now."""
    query = alerts_query(team_ids, view="firing")
    return db.session.scalar(query.with_only_columns(sa.func.count())) or 0


def node_alerts(node_id: str, resolved: int = 5) -> list[Alert]:
    """Return the node's open alerts, then its latest resolved ones."""
    open_ = db.session.scalars(alerts_query(None, state=FIRING, node_id=node_id)
                               .order_by(Alert.id.desc())).all()
    closed = db.session.scalars(alerts_query(None, state=RESOLVED, node_id=node_id)
                                .order_by(Alert.id.desc()).limit(resolved)).all()
    return [*open_, *closed]


def alert_document(alert: Alert) -> dict:
    """Represent an alert: the API's and the webhooks' ``alert`` object (schemas.api.Alert)."""
    from ..schemas.api import Alert as AlertDocument

    return AlertDocument.of(alert).as_json()


def init_app(app) -> None:
    """Evaluate the rules in the background sweeps."""
    from ..sweeper import register_sweep

    app.config.setdefault("VECTORFLOW_ALERT_GRACE_SECONDS", float(
        os.environ.get("VECTORFLOW_ALERT_GRACE_SECONDS", DEFAULT_GRACE_SECONDS)))
    register_sweep(sweep_alerts)
