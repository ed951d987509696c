"""Maintenance windows: planned maintenance that opens and closes by itself.

A window belongs to an environment and targets explicit nodes or a label selector. Its first
occurrence starts at ``start`` (an instant) and lasts ``duration_minutes`` of elapsed time;
with an RRULE (RFC 5545, parsed by python-dateutil) it repeats the wall-clock time of
``start`` in its IANA ``timezone`` (zoneinfo): ``FREQ=WEEKLY;BYDAY=TU`` from a Tuesday 02:00
in Europe/Berlin is 02:00 Berlin time every Tuesday, 01:00 UTC in winter and 00:00 in summer.

Daylight saving, as RFC 5545 (3.3.5, 3.3.10) and dateutil with zoneinfo do it:
* a recurrence whose local time does not exist (spring forward: no 02:30 in Berlin on
  2027-03-28) is read with the offset before the gap, so it starts one hour later on the
  clock: 02:30+01:00 is 03:30 CEST (01:30 UTC), and a 60-minute window ends at 04:30 CEST;
* a local time that occurs twice (fall back) is the first one: 02:30 CEST on 2027-10-31;
* a start typed as a wall-clock time inside a gap (forms) is refused, so a series is never
  anchored to a time that does not exist.

The sweep (``sweep_windows``, every few seconds) does all the work, from the database alone,
so a restart changes nothing: it opens a window whose occurrence has begun (one run row per
occurrence), closes runs whose end has passed, and lets nodes that start to match an open
window (enrolled or relabelled) join it. A run takes each targeted node into maintenance
unless it is in maintenance already or a disruption budget forbids it (budgets.admit: windows
skip, never force); skipped nodes are listed with the reason. At the end, a node leaves only
if this run still holds it (an admin who took it out, or put it back in by hand, owns it
now) and no other open window covers it; otherwise that window takes it over.

Writes lock the window's environment first (services.locks), then the nodes by id.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from dateutil.rrule import rrule as RRule
from dateutil.rrule import rrulestr
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (
    Environment,
    MaintenanceWindow,
    MaintenanceWindowRun,
    VectorNode,
    utcnow,
)
from ..schemas.fields import (
    LABEL_VALUE_MAX,
    NAME_MAX,
    PREVIEW_DEFAULT,
    RRULE_MAX,
    WINDOW_DURATION_MAX,
    WINDOW_LABELS_MAX,
    WINDOW_NODES_MAX,
)
from . import Conflict, NotFound, ServiceError, find_by_id_or_name
from .actors import Actor, current_actor
from .audit import record
from .budgets import admit
from .events import emit
from .locks import lock_environments, lock_nodes
from .maintenance import clean_reason, enter_for_window, leave_for_window, open_period
from .nodes import LABEL_KEY, has_labels, label_clauses

UTC = timezone.utc
OVERLAP_CHECK = 60  # occurrences checked for overlaps
SWEEP_BATCH = 100
FIELDS = ("name", "nodeIds", "selector", "start", "durationMinutes", "timezone", "rrule",
          "reason", "enabled")
SCHEDULE_FIELDS = {"start", "durationMinutes", "timezone", "rrule"}


# ---------------------------------------------------------------- the schedule

@dataclass(frozen=True)
class WindowSpec:
    """A window's settings, checked (``clean_spec``); ``start`` is aware UTC."""

    name: str
    node_ids: tuple[str, ...] | None
    labels: dict | None  # the selector's labels (None: the window targets node_ids)
    start: datetime
    duration_minutes: int
    timezone: str
    rrule: str | None = None
    reason: str | None = None
    enabled: bool = True

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    def rule(self) -> RRule | None:
        """Return the recurrence (dateutil), anchored at the start's wall time in the zone."""
        if not self.rrule:
            return None
        return rrulestr(self.rrule, dtstart=self.start.astimezone(self.zone))

    def occurrences(self, after: datetime, count: int) -> list[tuple[datetime, datetime]]:
        """Return up to ``count`` occurrences (start, end, aware UTC) that end after ``after``."""
        rule = self.rule()
        if rule is None:
            end = self.start + self.duration
            return [(self.start, end)] if end > after and count > 0 else []
        found = []
        for local in rule.xafter(after - self.duration, count=count, inc=False):
            start = local.astimezone(UTC)  # a gap time takes the offset before the gap
            found.append((start, start + self.duration))
        return [o for o in found if o[1] > after]

    def current(self, now: datetime) -> tuple[datetime, datetime] | None:
        """Return the occurrence going on at ``now``, if any."""
        found = self.occurrences(now, 1)
        return found[0] if found and found[0][0] <= now else None

    def next_start(self, after: datetime) -> datetime | None:
        """Return the first occurrence start later than ``after``."""
        return next((s for s, _ in self.occurrences(after, 2) if s > after), None)

    def matches(self, node: VectorNode) -> bool:
        """Return whether the window targets ``node`` (of its environment) as it is now."""
        if self.node_ids is not None:
            return node.id in self.node_ids
        return has_labels(node, self.labels or {})


def spec_of(window: MaintenanceWindow) -> WindowSpec:
    """Return a stored window's settings."""
    labels = (window.selector or {}).get("labels", {}) if window.node_ids is None else None
    return WindowSpec(
        name=window.name, node_ids=tuple(window.node_ids) if window.node_ids is not None else None,
        labels=dict(labels) if labels is not None else None, start=window.start_at,
        duration_minutes=window.duration_minutes, timezone=window.timezone, rrule=window.rrule,
        reason=window.reason, enabled=bool(window.enabled),
    )


def local(value: datetime | None, zone: ZoneInfo | str) -> datetime | None:
    """Return ``value`` as a wall-clock time in the zone (with its offset)."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone)


# ---------------------------------------------------------------- input checks

class InvalidWindow(ServiceError):
    """A window setting that is wrong; ``details`` names each field (the API's names)."""

    def __init__(self, problems: dict[str, str]):
        summary = "; ".join(f"{key}: {problem}" for key, problem in problems.items())
        super().__init__(f"invalid maintenance window: {summary}", problems)


def _zone(name, problems) -> str | None:
    name = (name or "").strip() if isinstance(name, str) else name
    if not isinstance(name, str) or not name:
        problems["timezone"] = "must be an IANA time zone such as Europe/Berlin or UTC"
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems["timezone"] = f"unknown IANA time zone {name!r} (e.g. Europe/Berlin, UTC)"
        return None
    return name


def _start(value, zone_name: str | None, problems) -> datetime | None:
    """Return the start as aware UTC; a zone-less value is a wall-clock time in the zone."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            problems["start"] = "must be an ISO 8601 timestamp such as 2027-01-05T02:00:00+01:00"
            return None
    if not isinstance(value, datetime):
        problems["start"] = "must be an ISO 8601 timestamp"
        return None
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    if zone_name is None:
        return None  # the time zone's problem is reported already
    zone = ZoneInfo(zone_name)
    aware = value.replace(tzinfo=zone)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
        problems["start"] = (f"{value:%Y-%m-%d %H:%M} does not exist in {zone_name} (the clocks "
                             "go forward then); pick a time outside the daylight-saving gap")
        return None
    return aware.astimezone(UTC)


def _duration(value, problems) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= WINDOW_DURATION_MAX:
        problems["durationMinutes"] = f"must be a whole number of minutes from 1 to {WINDOW_DURATION_MAX}"
        return None
    return value


def _rrule_text(value, problems) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > RRULE_MAX:
        problems["rrule"] = f"must be an RRULE of at most {RRULE_MAX} characters"
        return None
    text = "".join(value.split())  # an RRULE has no spaces; "FREQ=DAILY; INTERVAL=2" is meant
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if ":" in text or "\n" in value.strip():
        problems["rrule"] = ("must be one RRULE such as FREQ=WEEKLY;BYDAY=TU (give the first "
                             "occurrence as start, not DTSTART)")
        return None
    return text.upper()


def _check_rule(spec: WindowSpec, problems) -> None:
    """Parse the RRULE against the start; refuse sub-hourly rules and overlapping occurrences."""
    parts = dict(part.split("=", 1) for part in spec.rrule.split(";") if "=" in part)
    if parts.get("FREQ") in ("MINUTELY", "SECONDLY"):
        problems["rrule"] = "must repeat at most hourly (FREQ=MINUTELY and SECONDLY are refused)"
        return
    try:
        first = list(itertools.islice(spec.rule(), OVERLAP_CHECK))
    except (ValueError, TypeError) as err:
        problems["rrule"] = f"not a valid RRULE: {err}"
        return
    if not first:
        problems["rrule"] = "has no occurrence at or after start"
        return
    starts = [o.astimezone(UTC) for o in first]
    for earlier, later in itertools.pairwise(starts):
        if later - earlier < spec.duration:
            gap = int((later - earlier).total_seconds() // 60)
            problems["durationMinutes"] = (
                f"{spec.duration_minutes} minutes is longer than the {gap} minutes between the "
                f"occurrences at {earlier:%Y-%m-%d %H:%M} and {later:%Y-%m-%d %H:%M} UTC")
            return


def _target(env: Environment, node_ids, selector, problems) -> tuple[tuple | None, dict | None]:
    if node_ids is not None and selector is not None:
        problems["selector"] = "give either nodeIds or selector, not both"
        return None, None
    if node_ids is None and selector is None:
        problems["nodeIds"] = "give nodeIds or a selector such as {\"labels\": {\"rack\": \"r1\"}}"
        return None, None
    if node_ids is not None:
        if (not isinstance(node_ids, (list, tuple)) or not node_ids
                or not all(isinstance(i, str) for i in node_ids)):
            problems["nodeIds"] = "must be a non-empty list of node ids"
            return None, None
        ids = tuple(dict.fromkeys(node_ids))
        if len(ids) > WINDOW_NODES_MAX:
            problems["nodeIds"] = f"must have at most {WINDOW_NODES_MAX} nodes"
            return None, None
        found = set(db.session.scalars(sa.select(VectorNode.id).where(
            VectorNode.id.in_(ids), VectorNode.environment_id == env.id)))
        missing = [i for i in ids if i not in found]
        if missing:
            problems["nodeIds"] = f"not nodes of environment {env.name}: {', '.join(missing[:5])}"
            return None, None
        return ids, None
    if not isinstance(selector, dict) or set(selector) - {"labels"}:
        problems["selector"] = "must be {\"labels\": {\"key\": \"value\", ...}}"
        return None, None
    labels = selector.get("labels") or {}
    if not isinstance(labels, dict) or len(labels) > WINDOW_LABELS_MAX or not all(
            isinstance(k, str) and LABEL_KEY.match(k) and isinstance(v, str)
            and len(v) <= LABEL_VALUE_MAX for k, v in labels.items()):
        problems["selector.labels"] = (f"must map up to {WINDOW_LABELS_MAX} label keys (letters, digits, "
                                       "_ . - /) to string values")
        return None, None
    return None, dict(labels)


def clean_spec(env: Environment, values: dict, *, base: WindowSpec | None = None,
               now: datetime | None = None) -> WindowSpec:
    """Check window settings given with the API's names (``FIELDS``) on top of ``base`` (the
    stored window, for a change); raise InvalidWindow (400) naming every wrong field.

    A new window, or a change to its schedule, must have an occurrence that ends after now.
    """
    now = now or utcnow()
    problems: dict[str, str] = {}
    unknown = sorted(set(values) - set(FIELDS))
    for key in unknown:
        problems[key] = "unknown field"
    if base is None:
        for key in ("name", "start", "durationMinutes"):
            if values.get(key) in (None, ""):
                problems[key] = "required"
    got = values.get

    name = got("name", base.name if base else None)
    if isinstance(name, str):
        name = name.strip()
    if "name" not in problems and (not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX):
        problems["name"] = f"must be 1 to {NAME_MAX} characters"

    if base is not None and ("nodeIds" in values or "selector" in values):
        node_ids, selector = values.get("nodeIds"), values.get("selector")  # the new target
    elif base is not None:
        node_ids = list(base.node_ids) if base.node_ids is not None else None
        selector = {"labels": base.labels} if base.labels is not None else None
    else:
        node_ids, selector = values.get("nodeIds"), values.get("selector")
    node_ids, labels = _target(env, node_ids, selector, problems)

    zone_name = _zone(got("timezone", base.timezone if base else "UTC"), problems)
    start = None
    if "start" in values:
        if "start" not in problems:
            start = _start(values["start"], zone_name, problems)
    elif base is not None:
        start = base.start
    duration = None
    if "durationMinutes" not in problems:
        duration = _duration(got("durationMinutes", base.duration_minutes if base else None),
                             problems)
    rrule_text = _rrule_text(got("rrule", base.rrule if base else None), problems)
    reason = got("reason", base.reason if base else None)
    if reason is not None and not isinstance(reason, str):
        problems["reason"] = "must be a string"
    else:
        try:
            reason = clean_reason(reason)  # the same rules as any maintenance reason
        except ServiceError as err:
            problems["reason"] = err.details.get("reason", err.message)
    enabled = got("enabled", base.enabled if base else True)
    if not isinstance(enabled, bool):
        problems["enabled"] = "must be true or false"

    if problems:
        raise InvalidWindow(problems)
    spec = WindowSpec(name=name, node_ids=node_ids, labels=labels, start=start,
                      duration_minutes=duration, timezone=zone_name, rrule=rrule_text,
                      reason=reason, enabled=enabled)
    if spec.rrule:
        _check_rule(spec, problems)
    if not problems and (base is None or SCHEDULE_FIELDS & set(values)) and not spec.occurrences(now, 1):
        problems["rrule" if spec.rrule else "start"] = (
            "the window has no occurrence ending after now; give a later start")
    if problems:
        raise InvalidWindow(problems)
    return spec


# ---------------------------------------------------------------- reading

def _target_clauses(env_id: str, spec: WindowSpec) -> list:
    clauses = [VectorNode.environment_id == env_id]
    if spec.node_ids is not None:
        return [*clauses, VectorNode.id.in_(spec.node_ids)]
    return [*clauses, *label_clauses(spec.labels or {})]


def targets(env_id: str, spec: WindowSpec) -> sa.Select:
    """Return a select of the environment's nodes the window targets, by name."""
    return (sa.select(VectorNode).where(*_target_clauses(env_id, spec))
            .order_by(VectorNode.name, VectorNode.id))


def target_ids(env_id: str, spec: WindowSpec) -> list[str]:
    """Return the ids of the environment's nodes the window targets now."""
    return list(db.session.scalars(sa.select(VectorNode.id).where(*_target_clauses(env_id, spec))))


def open_run(window: MaintenanceWindow) -> MaintenanceWindowRun | None:
    """Return the window's run that has not ended, if any."""
    return db.session.scalar(sa.select(MaintenanceWindowRun).where(
        MaintenanceWindowRun.window_id == window.id, MaintenanceWindowRun.ended_at.is_(None)))


def last_run(window: MaintenanceWindow) -> MaintenanceWindowRun | None:
    """Return the window's current run, or else its latest one."""
    return db.session.scalar(
        sa.select(MaintenanceWindowRun).where(MaintenanceWindowRun.window_id == window.id)
        .order_by(MaintenanceWindowRun.started_at.desc(), MaintenanceWindowRun.id.desc()).limit(1))


def last_runs(windows: list[MaintenanceWindow]) -> dict[str, MaintenanceWindowRun]:
    """Return each window's current or latest run, keyed by window id (one query)."""
    ids = [w.id for w in windows]
    if not ids:
        return {}
    latest = (sa.select(MaintenanceWindowRun.window_id,
                        sa.func.max(MaintenanceWindowRun.started_at).label("started"))
              .where(MaintenanceWindowRun.window_id.in_(ids))
              .group_by(MaintenanceWindowRun.window_id).subquery())
    rows = db.session.scalars(sa.select(MaintenanceWindowRun).join(latest, sa.and_(
        MaintenanceWindowRun.window_id == latest.c.window_id,
        MaintenanceWindowRun.started_at == latest.c.started)).order_by(MaintenanceWindowRun.id))
    return {run.window_id: run for run in rows}


def runs(window: MaintenanceWindow, limit: int = 20) -> list[MaintenanceWindowRun]:
    """Return the window's runs, newest first."""
    return list(db.session.scalars(
        sa.select(MaintenanceWindowRun).where(MaintenanceWindowRun.window_id == window.id)
        .order_by(MaintenanceWindowRun.started_at.desc(), MaintenanceWindowRun.id.desc())
        .limit(limit)))


def environment_windows(env: Environment) -> list[MaintenanceWindow]:
    """Return an environment's windows by name."""
    return list(db.session.scalars(sa.select(MaintenanceWindow).where(
        MaintenanceWindow.environment_id == env.id).order_by(MaintenanceWindow.name)))


def holding_window(node: VectorNode) -> tuple[MaintenanceWindow, MaintenanceWindowRun] | None:
    """Return the window (and its run) that holds the node in maintenance now, if one does."""
    if not node.maintenance_mode:
        return None
    period = open_period(node)
    run = period.window_run if period is not None else None
    return (run.window, run) if run is not None else None


def windows_for(node: VectorNode) -> list[MaintenanceWindow]:
    """Return the enabled windows of the node's environment that target it, soonest first."""
    found = [w for w in db.session.scalars(sa.select(MaintenanceWindow).where(
        MaintenanceWindow.environment_id == node.environment_id,
        MaintenanceWindow.enabled.is_(True))) if spec_of(w).matches(node)]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(found, key=lambda w: (w.next_start_at or far, w.name))


def _held_reason(node: VectorNode) -> str:
    held = holding_window(node)
    if held is not None:
        return f"already in maintenance for window {held[0].name}"
    return f"already in maintenance (put there by {node.maintenance_by_label or 'someone'})"


def _decide(nodes: list[VectorNode], now: datetime
            ) -> tuple[list[VectorNode], list[tuple[VectorNode, str]]]:
    """Split targeted nodes into those a run takes and those it skips, with the reasons."""
    busy = [(n, _held_reason(n)) for n in nodes if n.maintenance_mode]
    taken, refused = admit([n for n in nodes if not n.maintenance_mode], now)
    return taken, busy + refused


@dataclass
class Preview:
    """What a window would do: its next occurrences and the nodes it would take now."""

    spec: WindowSpec
    occurrences: list[tuple[datetime, datetime]]
    nodes: list[VectorNode]
    skipped: list[tuple[VectorNode, str]]

    def shifted(self, start: datetime) -> bool:
        """Whether this occurrence starts at another wall time than the series (a DST gap)."""
        anchor = self.spec.start.astimezone(self.spec.zone)
        return local(start, self.spec.zone).time() != anchor.time()


def preview(env: Environment, spec: WindowSpec, *, now: datetime | None = None,
            count: int = PREVIEW_DEFAULT) -> Preview:
    """Return the window's next ``count`` occurrences and the nodes it would take if it opened
    now (a read: nothing is locked or changed)."""
    now = now or utcnow()
    nodes = list(db.session.scalars(targets(env.id, spec)))
    taken, skipped = _decide(nodes, now)
    return Preview(spec, spec.occurrences(now, count), taken, skipped)


# ---------------------------------------------------------------- create, change, delete

def _summary(window: MaintenanceWindow) -> dict:
    """The audited view of a window."""
    return {"name": window.name, "nodeIds": window.node_ids, "selector": window.selector,
            "start": window.start_at.isoformat(), "durationMinutes": window.duration_minutes,
            "timezone": window.timezone, "rrule": window.rrule, "reason": window.reason,
            "enabled": bool(window.enabled)}


def _apply(window: MaintenanceWindow, spec: WindowSpec) -> None:
    window.name = spec.name
    window.node_ids = list(spec.node_ids) if spec.node_ids is not None else None
    window.selector = {"labels": spec.labels} if spec.labels is not None else None
    window.start_at = spec.start
    window.duration_minutes = spec.duration_minutes
    window.timezone = spec.timezone
    window.rrule = spec.rrule
    window.reason = spec.reason
    window.enabled = spec.enabled


def _schedule(window: MaintenanceWindow, now: datetime) -> None:
    """Set when the sweep next opens the window: the occurrence going on now (if no run holds
    it), else the next one; None when disabled or when no occurrence is left."""
    spec = spec_of(window)
    run = open_run(window)
    if not spec.enabled:
        window.next_start_at = None
    elif run is not None:
        window.next_start_at = spec.next_start(max(now, run.started_at))
    else:
        upcoming = spec.occurrences(now, 1)
        window.next_start_at = upcoming[0][0] if upcoming else None


def _ensure_unique_name(env_id: str, name: str, window_id: str | None = None) -> None:
    existing = db.session.scalar(sa.select(MaintenanceWindow.id).where(
        MaintenanceWindow.environment_id == env_id, MaintenanceWindow.name == name))
    if existing is not None and existing != window_id:
        raise Conflict(f"this environment already has a maintenance window named {name!r}",
                       {"name": "another window of this environment has this name"})


def _audit(action: str, window: MaintenanceWindow, actor: Actor, *, before=None, after=None,
           details=None) -> None:
    record(action, entity_type="maintenance_window", entity_id=window.id,
           team_id=window.environment.team_id, environment_id=window.environment_id,
           before=before, after=after, details={"windowName": window.name, **(details or {})},
           actor=actor)


def _relock(window: MaintenanceWindow) -> MaintenanceWindow:
    """Lock the window's environment, then re-read the window; NotFound if it was deleted."""
    lock_environments([window.environment_id])
    fresh = db.session.scalars(sa.select(MaintenanceWindow).where(MaintenanceWindow.id == window.id)
                               .execution_options(populate_existing=True)).one_or_none()
    if fresh is None:
        raise NotFound(f"maintenance window {window.id} not found")
    return fresh


def create_window(env: Environment, values: dict, *, actor: Actor | None = None,
                  now: datetime | None = None) -> MaintenanceWindow:
    """Create a window from settings with the API's names (ADMIN; audited). If one of its
    occurrences is going on, the next sweep opens it."""
    now = now or utcnow()
    actor = actor or current_actor()
    lock_environments([env.id])
    spec = clean_spec(env, values, now=now)
    _ensure_unique_name(env.id, spec.name)
    window = MaintenanceWindow(environment_id=env.id, environment=env,
                               created_by_label=actor.label)
    _apply(window, spec)
    db.session.add(window)
    db.session.flush()
    _schedule(window, now)
    db.session.flush()
    _audit("maintenance_window.created", window, actor, after=_summary(window))
    return window


def update_window(window: MaintenanceWindow, values: dict, *, actor: Actor | None = None,
                  now: datetime | None = None) -> MaintenanceWindow:
    """Change a window (ADMIN; audited). Disabling it ends its current run at once; a new
    duration moves the current run's end; a new target applies from the next sweep."""
    now = now or utcnow()
    actor = actor or current_actor()
    window = _relock(window)
    before = _summary(window)
    spec = clean_spec(window.environment, values, base=spec_of(window), now=now)
    if spec.name != window.name:
        _ensure_unique_name(window.environment_id, spec.name, window.id)
    _apply(window, spec)
    run = open_run(window)
    if run is not None and not spec.enabled:
        _close(run, now, _open_runs_of([window.environment_id], exclude=run), actor=actor)
    elif run is not None:
        run.ends_at = run.started_at + spec.duration
    _schedule(window, now)
    db.session.flush()
    after = _summary(window)
    if after != before:
        _audit("maintenance_window.updated", window, actor, before=before, after=after)
    return window


def delete_window(window: MaintenanceWindow, *, actor: Actor | None = None,
                  now: datetime | None = None) -> None:
    """Delete a window (ADMIN; audited); its current run ends first, as if disabled."""
    now = now or utcnow()
    actor = actor or current_actor()
    window = _relock(window)
    run = open_run(window)
    if run is not None:
        _close(run, now, _open_runs_of([window.environment_id], exclude=run), actor=actor)
    _audit("maintenance_window.deleted", window, actor, before=_summary(window))
    db.session.delete(window)
    db.session.flush()


# ---------------------------------------------------------------- runs

def _event(kind: str, window: MaintenanceWindow, run: MaintenanceWindowRun, **payload) -> None:
    body = {"windowId": window.id, "windowName": window.name, "runId": run.id,
            "startedAt": run.started_at.isoformat(), "endsAt": run.ends_at.isoformat(), **payload}
    emit(f"maintenance_window.{kind}", team_id=window.environment.team_id,
         environment_id=window.environment_id, payload=body)
    if payload.get("skipped"):
        from .notifications import queue_window_skipped

        queue_window_skipped(window, body)


def _take(run: MaintenanceWindowRun, nodes: list[VectorNode], now: datetime
          ) -> tuple[list[str], list[dict]]:
    """Decide for nodes the run has not decided yet: take what it may, record the rest."""
    taken, skipped = _decide(nodes, now)
    for node in taken:
        enter_for_window(node, run, now)
    new_ids = [n.id for n in taken]
    new_skipped = [{"nodeId": n.id, "reason": why} for n, why in skipped]
    run.node_ids = [*run.node_ids, *new_ids]
    run.skipped = [*run.skipped, *new_skipped]
    return new_ids, new_skipped


def _open(window: MaintenanceWindow, occurrence: tuple[datetime, datetime],
          nodes: list[VectorNode], now: datetime) -> MaintenanceWindowRun:
    start, end = occurrence
    run = MaintenanceWindowRun(window_id=window.id, window=window, started_at=start, ends_at=end,
                               opened_at=now, node_ids=[], skipped=[])
    db.session.add(run)
    db.session.flush()
    taken, skipped = _take(run, nodes, now)
    _audit("maintenance_window.opened", window, Actor.system(),
           details={"runId": run.id, "endsAt": end.isoformat(), "nodeIds": taken,
                    "skipped": skipped})
    _event("opened", window, run, nodeIds=taken, skipped=skipped)
    return run


def _close(run: MaintenanceWindowRun, now: datetime, covering: list[MaintenanceWindowRun],
           actor: Actor | None = None) -> None:
    """End a run: each node it still holds leaves maintenance, unless another open window
    covers it (that window takes it over). ``actor``: someone disabled or deleted the window."""
    window = run.window
    nodes = lock_nodes(run.node_ids, missing_ok=True)
    released, kept = [], []
    for node in nodes:
        period = open_period(node) if node.maintenance_mode else None
        if period is None or period.window_run_id != run.id:
            continue  # taken out by hand (and perhaps put back in by hand): not ours any more
        heir = next((r for r in covering if r.id != run.id and r.window.enabled
                     and r.window.environment_id == node.environment_id
                     and spec_of(r.window).matches(node)), None)
        if heir is not None:
            period.window_run_id = heir.id
            heir.node_ids = [*heir.node_ids, node.id]
            heir.skipped = [s for s in heir.skipped if s["nodeId"] != node.id]
            kept.append({"nodeId": node.id, "windowId": heir.window.id,
                         "windowName": heir.window.name})
        else:
            leave_for_window(node, window, now, actor)
            released.append(node.id)
    run.ended_at = now
    db.session.flush()
    _audit("maintenance_window.closed", window, actor or Actor.system(),
           details={"runId": run.id, "releasedNodeIds": released, "handedOver": kept,
                    "early": now < run.ends_at})
    _event("closed", window, run, releasedNodeIds=released, handedOver=kept)


def _open_runs_of(env_ids, exclude: MaintenanceWindowRun | None = None
                  ) -> list[MaintenanceWindowRun]:
    query = (sa.select(MaintenanceWindowRun).join(MaintenanceWindow)
             .where(MaintenanceWindowRun.ended_at.is_(None),
                    MaintenanceWindow.environment_id.in_(sorted(set(env_ids))))
             .options(selectinload(MaintenanceWindowRun.window))
             .order_by(MaintenanceWindowRun.started_at, MaintenanceWindowRun.id))
    return [r for r in db.session.scalars(query) if r is not exclude]


def _undecided_ids(run: MaintenanceWindowRun) -> list[str]:
    """Ids of nodes the run targets now but has neither taken nor skipped (new or relabelled)."""
    decided = set(run.node_ids) | {s["nodeId"] for s in run.skipped}
    return [i for i in target_ids(run.window.environment_id, spec_of(run.window))
            if i not in decided]


def sweep_windows(now: datetime | None = None) -> None:
    """Open windows whose occurrence has begun, close runs whose end has passed, and let
    nodes that came to match an open window join it. A registered sweep."""
    now = now or utcnow()
    due_ids = list(db.session.scalars(
        sa.select(MaintenanceWindow.id)
        .where(MaintenanceWindow.enabled.is_(True), MaintenanceWindow.next_start_at <= now)
        .order_by(MaintenanceWindow.next_start_at).limit(SWEEP_BATCH)))
    open_env_ids = set(db.session.scalars(
        sa.select(MaintenanceWindow.environment_id).join(MaintenanceWindowRun)
        .where(MaintenanceWindowRun.ended_at.is_(None))))
    if not due_ids and not open_env_ids:
        return
    due_env_ids = set(db.session.scalars(sa.select(MaintenanceWindow.environment_id)
                                         .where(MaintenanceWindow.id.in_(due_ids))))
    env_ids = due_env_ids | open_env_ids
    lock_environments(env_ids)

    # Decide under the locks, on what they protect.
    due = list(db.session.scalars(
        sa.select(MaintenanceWindow)
        .where(MaintenanceWindow.id.in_(due_ids), MaintenanceWindow.enabled.is_(True),
               MaintenanceWindow.next_start_at <= now)
        .order_by(MaintenanceWindow.next_start_at, MaintenanceWindow.id)
        .execution_options(populate_existing=True)))
    running = _open_runs_of(env_ids)
    run_of = {r.window_id: r for r in running}
    opening: list[tuple[MaintenanceWindow, tuple[datetime, datetime]]] = []
    superseded: list[MaintenanceWindowRun] = []
    for window in due:
        spec = spec_of(window)
        occurrence = spec.current(now)  # None: it ended while nobody swept (a restart)
        current = run_of.get(window.id)
        if occurrence is not None and (current is None or current.started_at != occurrence[0]):
            opening.append((window, occurrence))
            if current is not None:
                superseded.append(current)
        window.next_start_at = spec.next_start(now)
    ending = [r for r in running if r.ends_at <= now and r not in superseded]
    staying = [r for r in running if r not in ending and r not in superseded]

    wanted: set[str] = set()
    for window, _ in opening:
        wanted.update(target_ids(window.environment_id, spec_of(window)))
    for run in [*superseded, *ending]:
        wanted.update(run.node_ids)
    joining = {run.id: _undecided_ids(run) for run in staying}
    for ids in joining.values():
        wanted.update(ids)
    locked = {n.id: n for n in lock_nodes(wanted, missing_ok=True)}

    for run in superseded:  # its window's schedule changed under it: the new occurrence wins
        _close(run, now, [])
    opened = []
    for window, occurrence in opening:
        spec = spec_of(window)
        nodes = sorted((n for n in locked.values()
                        if n.environment_id == window.environment_id and spec.matches(n)),
                       key=lambda n: (n.name, n.id))
        opened.append(_open(window, occurrence, nodes, now))
    for run in ending:  # after opening, so a window that begins as another ends takes over
        _close(run, now, [*staying, *opened])
    for run in staying:
        spec = spec_of(run.window)
        nodes = sorted((locked[i] for i in joining[run.id]
                        if i in locked and spec.matches(locked[i])),
                       key=lambda n: (n.name, n.id))
        if nodes:
            taken, skipped = _take(run, nodes, now)
            _event("joined", run.window, run, nodeIds=taken, skipped=skipped)
    db.session.flush()


def find_window(name_or_id: str, env: Environment | None = None) -> MaintenanceWindow | None:
    """Return a window by id, or by name (in ``env`` when given); ServiceError if the name
    is used in several environments."""
    scope = [MaintenanceWindow.environment_id == env.id] if env is not None else []
    return find_by_id_or_name(MaintenanceWindow, name_or_id, "window", *scope)

