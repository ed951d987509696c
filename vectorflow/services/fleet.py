"""The fleet table's reads: its filters (status, labels, search, drift, errors), sorting, the
overview strip's counts and the "running 3/3" column, each in a fixed number of queries.

Every filter is a SQL condition an index serves (migration 0009): drift compares the version a
node reports with the newest version of each deployed pipeline through the
(pipeline_id, version) index, so a fleet without drift costs one index probe per pipeline.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import (
    Environment,
    NodePipelineStatus,
    NodeStatus,
    Pipeline,
    PipelineVersion,
    ProcessStatus,
    VectorNode,
)
from ..schemas.fields import LABEL_SELECTOR_MAX, LABEL_VALUE_MAX, text_problem
from .nodes import LABEL_KEY, LIVE, label_clauses

MAINTENANCE = "MAINTENANCE"
# What the status filter and the chips offer, in the order the chips show them.
STATUSES = ("HEALTHY", "DEGRADED", "UNREACHABLE", "UNKNOWN", MAINTENANCE)
SORTS = {
    "name": (Environment.name, VectorNode.name),
    "host": (VectorNode.host,),
    "env": (Environment.name,),
    "status": (VectorNode.maintenance_mode, VectorNode.status),
    "vector": (VectorNode.vector_version,),
    "agent": (VectorNode.agent_version,),
    "seen": (VectorNode.last_seen,),
}
SEARCH_MAX = 200
TERMS_MAX = 10


class SelectorError(ValueError):
    """A label selector that is not ``key=value[,key=value...]``."""


def parse_selector(text: str) -> dict[str, str]:
    """Return the labels of a selector ``role=edge,zone=eu`` (all must match, as the bulk
    maintenance API's ``selector.labels``); raise SelectorError naming the bad part."""
    text = (text or "").strip()
    if len(text) > LABEL_SELECTOR_MAX:
        raise SelectorError(f"at most {LABEL_SELECTOR_MAX} characters")
    problem = text_problem(text) if text else None
    if problem:
        raise SelectorError(problem)
    labels: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not LABEL_KEY.match(key) or len(value) > LABEL_VALUE_MAX:
            raise SelectorError(f"{part!r} is not key=value")
        labels[key] = value
    return labels


def format_selector(labels: dict[str, str]) -> str:
    """Return the selector text for ``labels`` (the inverse of parse_selector)."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


@dataclass
class FleetFilter:
    """What the fleet table shows: parsed from the page's query, with a message per bad value."""

    env: str = ""
    status: str = ""
    q: str = ""
    selector: str = ""
    drift: bool = False
    errors: bool = False
    sort: str = "name"
    descending: bool = False
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        try:
            return parse_selector(self.selector)
        except SelectorError:
            return {}

    @property
    def active(self) -> bool:
        return bool(self.env or self.status or self.q or self.selector or self.drift or self.errors)

    def args(self, **changes) -> dict[str, str]:
        """Return the query arguments that select this filter (for links and bulk actions)."""
        args = {"env": self.env, "status": self.status, "q": self.q, "selector": self.selector,
                "drift": "1" if self.drift else "", "errors": "1" if self.errors else ""}
        args.update(changes)
        return {k: v for k, v in args.items() if v}


def _flag(value: str | None) -> bool | None:
    value = (value or "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return None


def parse_filter(args, environment_ids: set[str]) -> FleetFilter:
    """Read the fleet filter from query ``args``; a value it cannot use is dropped and named
    in ``problems`` (the page shows it and answers 400) rather than silently ignored."""
    f = FleetFilter()
    problems = f.problems

    def text(name: str, limit: int) -> str:
        value = (args.get(name) or "").strip()
        problem = text_problem(value) if value else None
        if problem:
            problems[name] = f"{name} {problem}"
            return ""
        if len(value) > limit:
            problems[name] = f"{name} must be at most {limit} characters"
            return ""
        return value

    env = text("env", 40)
    if env and env not in environment_ids:
        problems["env"] = f"unknown environment {env!r}"
    else:
        f.env = env
    status = text("status", 20).upper()
    if status and status not in STATUSES:
        problems["status"] = (f"unknown status {args.get('status')!r}; choose one of "
                              + ", ".join(s.title() for s in STATUSES))
    else:
        f.status = status
    q = text("q", SEARCH_MAX)
    if len(q.split()) > TERMS_MAX:
        problems["q"] = f"search takes at most {TERMS_MAX} terms"
    else:
        f.q = q
    selector = text("selector", LABEL_SELECTOR_MAX)
    try:
        f.selector = format_selector(parse_selector(selector))
    except SelectorError as err:
        problems["selector"] = f"label selector: {err} (write key=value, several comma-separated)"
    for name in ("drift", "errors"):
        value = _flag(args.get(name))
        if value is None:
            problems[name] = f"{name} must be 1 or 0"
        else:
            setattr(f, name, value)
    sort = text("sort", 20)
    f.descending = sort.startswith("-")
    sort = sort.lstrip("-") or "name"
    if sort not in SORTS:
        problems["sort"] = f"cannot sort by {sort!r}; choose one of " + ", ".join(SORTS)
        f.descending = False
    else:
        f.sort = sort
    return f


# ---------------------------------------------------------------- SQL conditions

def stale_clause(cutoff: datetime):
    return sa.or_(VectorNode.last_heartbeat.is_(None), VectorNode.last_heartbeat < cutoff)


def status_clause(status: str, cutoff: datetime):
    """Select nodes showing ``status``: MAINTENANCE is its own state, so the others exclude
    nodes in maintenance (a node in maintenance is not Healthy)."""
    if status == MAINTENANCE:
        return VectorNode.maintenance_mode.is_(True)
    stale = stale_clause(cutoff)
    status = NodeStatus(status)
    if status == NodeStatus.UNREACHABLE:
        shown = sa.or_(VectorNode.status == NodeStatus.UNREACHABLE,
                       sa.and_(VectorNode.status.in_(LIVE), stale))
    elif status in LIVE:
        shown = sa.and_(VectorNode.status == status, sa.not_(stale))
    else:
        shown = VectorNode.status == status
    return sa.and_(VectorNode.maintenance_mode.is_(False), shown)


def newest_deployed(environment_ids=None) -> dict[str, int]:
    """Return the newest version number of each deployed pipeline (of these environments)."""
    query = (sa.select(PipelineVersion.pipeline_id, sa.func.max(PipelineVersion.version))
             .join(Pipeline, Pipeline.id == PipelineVersion.pipeline_id)
             .where(Pipeline.deployed.is_(True)).group_by(PipelineVersion.pipeline_id))
    if environment_ids is not None:
        query = query.where(Pipeline.environment_id.in_(list(environment_ids)))
    return dict(db.session.execute(query).all())


def drift_clause(newest: dict[str, int]):
    """Select nodes running an older version of a deployed pipeline than its newest one.

    One range condition per deployed pipeline on the (pipeline_id, version) index: with no
    drift each is an empty probe, whatever the fleet size.
    """
    if not newest:
        return sa.false()
    drifted = sa.select(NodePipelineStatus.node_id).where(sa.or_(*(
        sa.and_(NodePipelineStatus.pipeline_id == pid, NodePipelineStatus.version < version)
        for pid, version in sorted(newest.items()))))
    return VectorNode.id.in_(drifted)


def errors_clause():
    """Select nodes with a crashed pipeline or a failed agent update."""
    crashed = sa.select(NodePipelineStatus.node_id).where(
        NodePipelineStatus.status == ProcessStatus.CRASHED)
    return sa.or_(VectorNode.id.in_(crashed), VectorNode.last_update_error.is_not(None))


def search_clauses(q: str) -> list:
    """Each term must match: ``key=value`` a label exactly, anything else the name, host or
    a label value (case-insensitive substring)."""
    clauses = []
    for term in q.split():
        key, sep, value = term.partition("=")
        if sep and LABEL_KEY.match(key):
            clauses.extend(label_clauses({key: value}))
            continue
        needle = term.lower()
        clauses.append(sa.or_(
            sa.func.lower(VectorNode.name).contains(needle, autoescape=True),
            sa.func.lower(VectorNode.host).contains(needle, autoescape=True),
        ))
    return clauses


def base_query(principal, f: FleetFilter) -> sa.Select:
    """Nodes ``principal`` may see in the filter's environment, matching search and labels
    (every filter but status, drift and errors: the overview counts within these)."""
    query = sa.select(VectorNode).join(Environment, Environment.id == VectorNode.environment_id)
    ids = principal.team_ids()
    if ids is not None:
        query = query.where(Environment.team_id.in_(ids))
    if f.env:
        query = query.where(VectorNode.environment_id == f.env)
    return query.where(*search_clauses(f.q), *label_clauses(f.labels))


def filtered_query(principal, f: FleetFilter, cutoff: datetime,
                   newest: dict[str, int] | None = None) -> sa.Select:
    """Return the nodes the table lists for ``f``, sorted."""
    query = base_query(principal, f)
    if f.status:
        query = query.where(status_clause(f.status, cutoff))
    if f.drift:
        query = query.where(drift_clause(newest if newest is not None else newest_deployed()))
    if f.errors:
        query = query.where(errors_clause())
    columns = SORTS[f.sort]
    order = [c.desc() if f.descending else c.asc() for c in columns]
    return query.order_by(*order, VectorNode.name, VectorNode.id)


# ---------------------------------------------------------------- counts

def status_counts(query: sa.Select, cutoff: datetime,
                  newest: dict[str, int] | None = None) -> tuple[dict[str, int], int, int]:
    """Count the nodes of ``query`` by shown status (MAINTENANCE its own), and those with drift
    (against ``newest``) and with errors, in one pass over the nodes."""
    stale = stale_clause(cutoff)

    def flagged(clause):
        return sa.func.sum(sa.case((clause, 1), else_=0))

    rows = db.session.execute(
        query.order_by(None).with_only_columns(
            VectorNode.maintenance_mode, VectorNode.status, stale, sa.func.count(),
            flagged(drift_clause(newest or {})), flagged(errors_clause()))
        .group_by(VectorNode.maintenance_mode, VectorNode.status, stale)
    )
    counts = {status: 0 for status in STATUSES}
    drift = errors = 0
    for maintenance, status, is_stale, count, drifted, failing in rows:
        if maintenance:
            shown = MAINTENANCE
        elif status in LIVE and is_stale:
            shown = NodeStatus.UNREACHABLE.value
        else:
            shown = NodeStatus(status).value
        counts[shown] += count
        drift += int(drifted or 0)
        errors += int(failing or 0)
    return counts, drift, errors


@dataclass
class Overview:
    """The strip above the table."""

    statuses: dict[str, int]
    running: int
    expected: int
    drift: int
    errors: int

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


class RunningCache:
    """Pipelines running/expected per fleet scope, kept for a heartbeat interval.

    Counting the RUNNING statuses reads one index entry per node and pipeline (1,000,000 at
    10,000 nodes x 100 pipelines: ~0.4 s on PostgreSQL), and statuses change only when
    heartbeats arrive, so the figure is recomputed at most every ``ttl`` seconds per scope
    (the rows' own "running n/m" are always current).
    """

    def __init__(self, ttl: float = 15.0, size: int = 256):
        self.ttl, self.size = ttl, size
        self._entries: dict = {}
        self._lock = threading.Lock()

    def get(self, key, compute):
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = compute()
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.pop(min(self._entries, key=lambda k: self._entries[k][0]))
            self._entries[key] = (now, value)
        return value

    def reset_for_tests(self) -> None:
        with self._lock:
            self._entries.clear()


def running_cache() -> RunningCache:
    """Return this process's RunningCache (in ``app.extensions``)."""
    return current_app.extensions.setdefault("vectorflow.fleet_running", RunningCache())


def running_and_expected(base: sa.Select, newest: dict[str, int]) -> tuple[int, int]:
    """Count deployed pipelines reported RUNNING on the nodes of ``base`` outside maintenance,
    and those expected there (each such node runs every deployed pipeline of its environment)."""
    if not newest:
        return 0, 0
    deployed = (sa.select(Pipeline.environment_id, sa.func.count().label("n"))
                .where(Pipeline.deployed.is_(True)).group_by(Pipeline.environment_id).subquery())
    serving = base.order_by(None).where(VectorNode.maintenance_mode.is_(False))
    envs = serving.with_only_columns(VectorNode.environment_id).subquery()
    expected = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(deployed.c.n), 0))
        .select_from(envs.join(deployed, deployed.c.environment_id == envs.c.environment_id)))
    running = db.session.scalar(
        sa.select(sa.func.count()).select_from(NodePipelineStatus).where(
            NodePipelineStatus.status == ProcessStatus.RUNNING,
            NodePipelineStatus.pipeline_id.in_(list(newest)),
            NodePipelineStatus.node_id.in_(serving.with_only_columns(VectorNode.id))))
    return int(running or 0), int(expected or 0)


def overview(principal, f: FleetFilter, cutoff: datetime, newest: dict[str, int]) -> Overview:
    """Count what the strip shows within the filter's environment, search and labels."""
    base = base_query(principal, f)
    ids = principal.team_ids()
    scope = (None if ids is None else tuple(sorted(ids)), f.env, f.q, f.selector,
             tuple(sorted(newest.items())))
    running, expected = running_cache().get(scope, lambda: running_and_expected(base, newest))
    statuses, drift, errors = status_counts(base, cutoff, newest)
    return Overview(statuses=statuses, running=running, expected=expected, drift=drift,
                    errors=errors)


@dataclass(frozen=True)
class Running:
    """A row's "running 3/3": deployed pipelines reported RUNNING out of those expected."""

    running: int
    expected: int


def running_by_node(nodes: list[VectorNode]) -> dict[str, Running]:
    """Return each listed node's running/expected pipelines, in two queries."""
    if not nodes:
        return {}
    env_ids = {n.environment_id for n in nodes}
    expected = dict(db.session.execute(
        sa.select(Pipeline.environment_id, sa.func.count())
        .where(Pipeline.environment_id.in_(env_ids), Pipeline.deployed.is_(True))
        .group_by(Pipeline.environment_id)).all())
    running = dict(db.session.execute(
        sa.select(NodePipelineStatus.node_id, sa.func.count())
        .join(Pipeline, Pipeline.id == NodePipelineStatus.pipeline_id)
        .where(NodePipelineStatus.node_id.in_([n.id for n in nodes]),
               NodePipelineStatus.status == ProcessStatus.RUNNING, Pipeline.deployed.is_(True))
        .group_by(NodePipelineStatus.node_id)).all())
    return {n.id: Running(running.get(n.id, 0),
                          0 if n.maintenance_mode else expected.get(n.environment_id, 0))
            for n in nodes}
