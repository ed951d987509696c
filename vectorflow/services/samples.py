"""Chart samples from heartbeats: one row per node, and per node and pipeline, per bucket.

``record_batch`` takes many heartbeats at once (a group commit) and writes them with one read
and at most one INSERT and one UPDATE per table, whatever the batch size. A heartbeat's change
of a counter is the difference with the last total seen (the ``last_*`` columns of the newest
row), so the rates on the node page come from the latest two heartbeats, not from two buckets.

When a node's first heartbeat of a new bucket arrives, its previous bucket is closed: one
``samples.closed`` event per environment carries the closed points, and the pages append them.
Buckets of ``VECTORFLOW_SAMPLE_BUCKET_SECONDS`` (60 s), kept ``VECTORFLOW_SAMPLE_RETENTION_HOURS``
(24 h), pruned by the sweep.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Environment, NodeSample, PipelineSample, VectorNode, utcnow
from .events import emit

if TYPE_CHECKING:
    from ..schemas.agent import AgentHeartbeat

DEFAULTS = {
    "VECTORFLOW_SAMPLE_BUCKET_SECONDS": 60,
    "VECTORFLOW_SAMPLE_RETENTION_HOURS": 24,
}
# A heartbeat further than this from the previous one starts afresh: no rate over the gap.
MAX_GAP = timedelta(minutes=10)
RANGES = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24)}
CLOSED_EVENT = "samples.closed"

_NODES = NodeSample.__table__
_PIPES = PipelineSample.__table__
_HOST_GAUGES = {"mem_used": "memoryUsedBytes", "mem_total": "memoryTotalBytes",
                "fs_used": "fsUsedBytes", "fs_total": "fsTotalBytes",
                "load1": "loadAvg1", "load5": "loadAvg5", "load15": "loadAvg15"}
_HOST_TOTALS = {"last_cpu_total": "cpuSecondsTotal", "last_cpu_idle": "cpuSecondsIdle",
                "last_net_rx": "netRxBytes", "last_net_tx": "netTxBytes"}
_PIPE_COUNTERS = {"events_in": "events_in", "events_out": "events_out",
                  "errors": "errors_total"}  # column -> AgentPipelineStatus attribute


def bucket_seconds() -> int:
    return int(current_app.config["VECTORFLOW_SAMPLE_BUCKET_SECONDS"])


def retention() -> timedelta:
    return timedelta(hours=float(current_app.config["VECTORFLOW_SAMPLE_RETENTION_HOURS"]))


def bucket_of(moment: datetime, seconds: int | None = None) -> datetime:
    """Return the start of the bucket holding ``moment`` (UTC)."""
    seconds = seconds or bucket_seconds()
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


# -- writing ------------------------------------------------------------------------------

# The newest row of each given node, or of each (node, pipeline) of the given nodes, within
# MAX_GAP (a range of the primary key's index, then one max per key).
def _newest(table, keys):
    inner = table.alias("newer")
    newest = (sa.select(sa.func.max(inner.c.bucket_start))
              .where(*(inner.c[k] == table.c[k] for k in keys)).scalar_subquery())
    return sa.select(table).where(
        table.c.node_id.in_(sa.bindparam("node_ids", expanding=True)),
        table.c.bucket_start >= sa.bindparam("since"), table.c.bucket_start == newest)


def _update(table, keys):
    # The SET clause is every key of the parameters but the ``k_`` ones of the WHERE.
    return sa.update(table).where(*(table.c[k] == sa.bindparam(f"k_{k}") for k in keys))


# Built once: every heartbeat batch runs them (building them was a third of its CPU).
_NODE_KEYS, _PIPE_KEYS = ("node_id", "bucket_start"), ("node_id", "pipeline_id", "bucket_start")
_NEWEST_NODES, _NEWEST_PIPES = _newest(_NODES, ("node_id",)), _newest(_PIPES, _PIPE_KEYS[:2])
_STATEMENTS = {_NODES: (_NODE_KEYS, sa.insert(_NODES), _update(_NODES, _NODE_KEYS)),
               _PIPES: (_PIPE_KEYS, sa.insert(_PIPES), _update(_PIPES, _PIPE_KEYS))}


def _delta(now_total: float | None, last: float | None, *, restarts: bool) -> float | None:
    """The change of a counter since ``last``; a counter that went down restarted from zero
    (``restarts``: a Vector process) or is not comparable (a rebooted host)."""
    if now_total is None or last is None:
        return None
    if now_total >= last:
        return now_total - last
    return now_total if restarts else None


def _add(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b


@dataclass
class _Closed:
    node_id: str
    row: dict  # the node's closed bucket
    pipelines: dict  # pipeline id -> its closed row


def record_batch(items: Iterable[tuple[str, AgentHeartbeat, Sequence[str]]],
                 now: datetime | None = None) -> None:
    """Fold heartbeats into the chart samples: ``items`` are (node id, heartbeat, ids of the
    reported pipelines that belong to the node's environment), in arrival order.

    Set-based: one read per table, then one INSERT and one UPDATE (many parameter sets) per
    table. The caller holds each node's row lock (heartbeats of one node never interleave);
    a node twice in one batch is folded in order.
    """
    items = list(items)
    if not items:
        return
    now = now or utcnow()
    bucket = bucket_of(now)
    node_ids = sorted({node_id for node_id, _, _ in items})
    conn = db.session.connection()
    since = min(now - MAX_GAP, bucket)  # the current bucket's row, however long the bucket
    window = {"node_ids": node_ids, "since": since}
    nodes = {r.node_id: dict(r._mapping) for r in conn.execute(_NEWEST_NODES, window)}
    pipes = {(r.node_id, r.pipeline_id): dict(r._mapping)
             for r in conn.execute(_NEWEST_PIPES, window)}
    node_writes: dict[str, tuple[bool, dict]] = {}  # node id -> (is new, row)
    pipe_writes: dict[tuple[str, str], tuple[bool, dict]] = {}
    closed: dict[str, _Closed] = {}
    for node_id, heartbeat, pipeline_ids in items:
        prev = nodes.get(node_id)
        row, new = _next_row(prev, bucket, now, {"node_id": node_id})
        if new and prev is not None:
            closed.setdefault(node_id, _Closed(node_id, prev, {}))
        _fold_host(row, prev, heartbeat, now)
        reports = {r.pipeline_id: r for r in heartbeat.pipelines}
        for pipeline_id in pipeline_ids:
            key = (node_id, pipeline_id)
            before = pipes.get(key)
            prow, pnew = _next_row(before, bucket, now,
                                   {"node_id": node_id, "pipeline_id": pipeline_id})
            if pnew and before is not None and before["bucket_start"] < bucket:
                closed.setdefault(node_id, _Closed(node_id, nodes.get(node_id) or {}, {}))
                closed[node_id].pipelines[pipeline_id] = before
            _fold_pipeline(prow, row, before, reports[pipeline_id], now)
            pipes[key] = prow
            pipe_writes[key] = (pnew or pipe_writes.get(key, (False,))[0], prow)
        nodes[node_id] = row
        node_writes[node_id] = (new or node_writes.get(node_id, (False,))[0], row)
    _write(_NODES, node_writes.values())
    _write(_PIPES, pipe_writes.values())
    if closed:
        _announce(closed.values())


def _next_row(prev: dict | None, bucket: datetime, now: datetime, key: dict
              ) -> tuple[dict, bool]:
    """Return the row this heartbeat updates (a copy of the bucket's) and whether it is new.

    A clock that went back (another server's) folds into the newest row: never an older one.
    """
    if prev is not None and prev["bucket_start"] >= bucket:
        return dict(prev), False
    row = {**key, "bucket_start": bucket, "sampled_at": now, "span": 0.0,
           "events_in": 0.0, "events_out": 0.0, "errors": 0.0}
    if "pipeline_id" not in key:
        row.update(dict.fromkeys(("cpu_busy", "cpu_total", "net_rx", "net_tx"), None))
        row.update(dict.fromkeys(_HOST_GAUGES, None))
        row.update(dict.fromkeys(_HOST_TOTALS, None))
        if prev is not None:  # carried over: the next heartbeat's change is against them
            row.update({k: prev[k] for k in _HOST_TOTALS})
    else:
        row.update(dict.fromkeys(("last_events_in", "last_events_out", "last_errors"), None))
        if prev is not None:
            row.update({f"last_{k}": prev[f"last_{k}"] for k in _PIPE_COUNTERS})
    return row, True


def _elapsed(prev: dict | None, now: datetime) -> float | None:
    if prev is None:
        return None
    seconds = (now - prev["sampled_at"]).total_seconds()
    if abs(seconds) > MAX_GAP.total_seconds():
        return None
    return max(seconds, 0.0)  # a clock behind the last one: the change counts, no time does


def _fold_host(row: dict, prev: dict | None, heartbeat: AgentHeartbeat, now: datetime) -> None:
    elapsed = _elapsed(prev, now)
    metrics = heartbeat.host_metrics.sample() if heartbeat.host_metrics is not None else {}
    if elapsed is not None:
        row["span"] += elapsed
        total = _delta(metrics.get("cpuSecondsTotal"), row["last_cpu_total"], restarts=False)
        idle = _delta(metrics.get("cpuSecondsIdle"), row["last_cpu_idle"], restarts=False)
        if total is not None and idle is not None and idle <= total:
            row["cpu_total"] = _add(row["cpu_total"], total)
            row["cpu_busy"] = _add(row["cpu_busy"], total - idle)
        for column, key in (("net_rx", "netRxBytes"), ("net_tx", "netTxBytes")):
            row[column] = _add(row[column], _delta(metrics.get(key), row[f"last_{column}"],
                                                   restarts=False))
    for column, key in {**_HOST_GAUGES, **_HOST_TOTALS}.items():
        if metrics.get(key) is not None:
            row[column] = float(metrics[key])
    row["sampled_at"] = max(row["sampled_at"], now)


def _fold_pipeline(prow: dict, node_row: dict, prev: dict | None, report, now: datetime) -> None:
    elapsed = _elapsed(prev, now)
    if elapsed is not None:
        prow["span"] += elapsed
    for column, attribute in _PIPE_COUNTERS.items():
        total = getattr(report, attribute)
        if elapsed is not None:
            change = _delta(total, prow[f"last_{column}"], restarts=True)
            if change is not None:
                prow[column] += change
                node_row[column] += change
        if total is not None:
            prow[f"last_{column}"] = float(total)
    prow["sampled_at"] = max(prow["sampled_at"], now)


def _write(table, writes: Iterable[tuple[bool, dict]]) -> None:
    keys, insert, update = _STATEMENTS[table]
    inserts, updates = [], []
    for new, row in writes:
        (inserts if new else updates).append(row)
    conn = db.session.connection()
    if inserts:
        conn.execute(insert, inserts)
    if updates:
        columns = [c.name for c in table.columns if c.name not in keys]
        conn.execute(update, [{**{c: row[c] for c in columns},
                               **{f"k_{k}": row[k] for k in keys}} for row in updates])


def _announce(closed: Iterable[_Closed]) -> None:
    """Emit one ``samples.closed`` per environment with the points of the closed buckets."""
    closed = list(closed)
    scopes = db.session.execute(
        sa.select(VectorNode.id, VectorNode.environment_id, Environment.team_id)
        .join(Environment, Environment.id == VectorNode.environment_id)
        .where(VectorNode.id.in_([c.node_id for c in closed]))).all()
    by_env: dict[tuple[str, str], list[dict]] = {}
    where = {row.id: (row.team_id, row.environment_id) for row in scopes}
    for c in closed:
        if c.node_id not in where:
            continue
        point = node_point(c.row) if c.row else None
        by_env.setdefault(where[c.node_id], []).append({
            "nodeId": c.node_id, "point": point,
            "pipelines": {pid: pipeline_point(row) for pid, row in c.pipelines.items()}})
    for (team_id, environment_id), points in sorted(by_env.items()):
        emit(CLOSED_EVENT, team_id=team_id, environment_id=environment_id,
             payload={"bucketSeconds": bucket_seconds(),
                      "nodeIds": [p["nodeId"] for p in points], "samples": points})


def prune_samples(now: datetime | None = None) -> int:
    """Delete samples older than the retention; return how many rows (a registered sweep)."""
    cutoff = (now or utcnow()) - retention()
    deleted = 0
    for table in (_PIPES, _NODES):
        if db.session.scalar(sa.select(table.c.bucket_start)
                             .where(table.c.bucket_start < cutoff).limit(1)) is not None:
            deleted += db.session.execute(
                sa.delete(table).where(table.c.bucket_start < cutoff)).rowcount or 0
    return deleted


# -- reading ------------------------------------------------------------------------------


def _rate(amount, span):
    if amount is None or not span:
        return None
    return amount / span


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def node_point(row) -> dict:
    """Return one chart point of a node's bucket: rates per second and percentages."""
    get = row.get if isinstance(row, dict) else row._mapping.get
    span = get("span")
    cpu_total, mem_total = get("cpu_total"), get("mem_total")
    return {
        "t": _epoch(get("bucket_start")),
        "eventsIn": _rate(get("events_in"), span), "eventsOut": _rate(get("events_out"), span),
        "errors": _rate(get("errors"), span),
        "cpu": round(100 * get("cpu_busy") / cpu_total, 2) if cpu_total else None,
        "memory": (round(100 * get("mem_used") / mem_total, 2)
                   if mem_total and get("mem_used") is not None else None),
        "netRx": _rate(get("net_rx"), span), "netTx": _rate(get("net_tx"), span),
    }


def pipeline_point(row) -> dict:
    """Return one chart point of a pipeline's bucket on one node."""
    get = row.get if isinstance(row, dict) else row._mapping.get
    span = get("span")
    return {"t": _epoch(get("bucket_start")), "eventsIn": _rate(get("events_in"), span),
            "eventsOut": _rate(get("events_out"), span), "errors": _rate(get("errors"), span)}


NODE_FIELDS = ("eventsIn", "eventsOut", "errors", "cpu", "memory", "netRx", "netTx")
PIPELINE_FIELDS = ("eventsIn", "eventsOut", "errors")


def _columns(points: list[dict], fields: tuple[str, ...]) -> dict[str, list]:
    out = {"t": [p["t"] for p in points]}
    for name in fields:
        out[name] = [p[name] for p in points]
    return out


def _window(range_: str, now: datetime | None) -> tuple[datetime, datetime]:
    """Return [start, end) of the closed buckets a chart of ``range_`` shows."""
    end = bucket_of(now or utcnow())  # the open bucket is left out: its numbers still move
    return end - RANGES[range_], end


def node_series(node_id: str, range_: str = "1h", now: datetime | None = None) -> dict:
    """Return a node's closed buckets over ``range_`` as columns (``t`` in epoch seconds)."""
    start, end = _window(range_, now)
    rows = db.session.execute(
        sa.select(_NODES).where(_NODES.c.node_id == node_id, _NODES.c.bucket_start >= start,
                                _NODES.c.bucket_start < end)
        .order_by(_NODES.c.bucket_start)).all()
    return {"bucketSeconds": bucket_seconds(),
            **_columns([node_point(r) for r in rows], NODE_FIELDS)}


def pipeline_series(pipeline_id: str, range_: str = "1h", now: datetime | None = None) -> dict:
    """Return a pipeline's rates summed over its nodes, per closed bucket over ``range_``."""
    start, end = _window(range_, now)
    c = _PIPES.c

    def summed(column):
        return sa.func.sum(sa.case((c.span > 0, column / c.span), else_=None))

    rows = db.session.execute(
        sa.select(c.bucket_start, summed(c.events_in).label("events_in"),
                  summed(c.events_out).label("events_out"), summed(c.errors).label("errors"))
        .where(c.pipeline_id == pipeline_id, c.bucket_start >= start, c.bucket_start < end)
        .group_by(c.bucket_start).order_by(c.bucket_start)).all()
    points = [{"t": _epoch(r.bucket_start), "eventsIn": r.events_in, "eventsOut": r.events_out,
               "errors": r.errors} for r in rows]
    return {"bucketSeconds": bucket_seconds(), **_columns(points, PIPELINE_FIELDS)}


SPARK_POINTS = 30


def sparklines(node_ids: Sequence[str], now: datetime | None = None) -> dict[str, list]:
    """Return events in per second of each node over its last closed buckets (one query)."""
    if not node_ids:
        return {}
    end = bucket_of(now or utcnow())
    start = end - timedelta(seconds=bucket_seconds() * SPARK_POINTS)
    out: dict[str, list] = {node_id: [] for node_id in node_ids}
    for row in db.session.execute(
            sa.select(_NODES.c.node_id, _NODES.c.bucket_start, _NODES.c.events_in, _NODES.c.span)
            .where(_NODES.c.node_id.in_(list(node_ids)), _NODES.c.bucket_start >= start,
                   _NODES.c.bucket_start < end)
            .order_by(_NODES.c.node_id, _NODES.c.bucket_start)):
        out[row.node_id].append([_epoch(row.bucket_start), _rate(row.events_in, row.span)])
    return out


def visible_node_ids(principal, node_ids: Sequence[str]) -> list[str]:
    """Return those of ``node_ids`` that ``principal`` may see (one query)."""
    query = (sa.select(VectorNode.id).join(Environment, Environment.id == VectorNode.environment_id)
             .where(VectorNode.id.in_(list(node_ids))))
    team_ids = principal.team_ids()
    if team_ids is not None:
        query = query.where(Environment.team_id.in_(team_ids))
    return list(db.session.scalars(query))


def latest_host(node_id: str) -> dict | None:
    """Return the node card's numbers from the newest sample: the time of the latest
    heartbeat, rates (CPU, network) since the heartbeats before it in that bucket, gauges."""
    row = db.session.execute(
        sa.select(_NODES).where(_NODES.c.node_id == node_id)
        .order_by(_NODES.c.bucket_start.desc()).limit(1)).first()
    if row is None:
        return None
    point = node_point(row)

    def share(used, total):
        if used is not None and total:
            return {"used": used, "total": total, "pct": round(100 * used / total, 1)}
        return None

    return {
        "at": row.sampled_at,
        "cpu_pct": None if point["cpu"] is None else round(point["cpu"], 1),
        "load": [row.load1, row.load5, row.load15],
        "memory": share(row.mem_used, row.mem_total),
        "disk": share(row.fs_used, row.fs_total),
        "net_rx": row.last_net_rx, "net_tx": row.last_net_tx,
        "net_rx_rate": point["netRx"], "net_tx_rate": point["netTx"],
    }


def init_app(app) -> None:
    """Read the bucket and retention settings (config, then environment); register the prune."""
    from ..sweeper import register_sweep

    for key, default in DEFAULTS.items():
        if key not in app.config:
            raw = os.environ.get(key)
            app.config[key] = type(default)(float(raw)) if raw else default
    if int(app.config["VECTORFLOW_SAMPLE_BUCKET_SECONDS"]) < 1:
        raise ValueError("VECTORFLOW_SAMPLE_BUCKET_SECONDS must be at least 1")
    register_sweep(prune_samples)
    app.jinja_env.globals["chart_ranges"] = list(RANGES)  # the range picker's choices
