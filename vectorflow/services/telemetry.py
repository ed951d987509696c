"""Agent telemetry: Vector's log lines, event samples and live taps (README "Agent telemetry").

Log lines are kept as a bounded recent window per node and pipeline (count and age, pruned by
the sweep); a sample request lives a few minutes and keeps what the agents answered; a tap
runs on one node for a bounded time, within per-node and per-team limits. Agent posts write
with Core statements (one per table); the browser side reads here too.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import (
    LogLine,
    Pipeline,
    SampleRequest,
    SampleStatus,
    Tap,
    TapEvent,
    TapStatus,
    Team,
    VectorNode,
    utcnow,
)
from ..schemas.telemetry import LEVELS
from . import Conflict, NotFound, ServiceError
from .actors import Actor
from .audit import record
from .events import emit
from .locks import lock_node

if TYPE_CHECKING:
    from ..schemas.telemetry import AgentLogBatch, AgentSampleResult, AgentTapEvents

DEFAULTS = {
    "VECTORFLOW_LOG_KEEP_LINES": 5000,    # lines kept per node and pipeline
    "VECTORFLOW_LOG_KEEP_HOURS": 24,      # and none older than this
    "VECTORFLOW_SAMPLE_TTL_SECONDS": 120,  # a sample request waits this long for answers
    "VECTORFLOW_TAP_SECONDS": 300,        # a tap stops by itself after this long
    "VECTORFLOW_TAPS_PER_NODE": 2,
    "VECTORFLOW_TAPS_PER_TEAM": 5,
    "VECTORFLOW_TAP_EVENTS_MAX": 10_000,  # events one tap may bring before it is stopped
}
SAMPLE_RESULTS_KEPT = 20  # answers kept per sample request (one per node and component)
TAP_EVENTS_KEPT = timedelta(minutes=10)  # tap batches are read live; kept this long after
FINISHED_KEPT = timedelta(days=1)  # stopped taps and finished sample requests


def setting(name: str) -> int:
    """Return a telemetry limit from the app config (its default unless set)."""
    return int(current_app.config.get(name, DEFAULTS[name]))


# -- log lines --------------------------------------------------------------------------------

# "2026-05-03T15:00:00.123456Z  INFO vector::topology: message" (Vector's own format), or
# with the level first after the time as the contract fixture has it.
_LINE = re.compile(r"^\s*(\S+)\s+(TRACE|DEBUG|INFO|WARN|WARNING|ERROR)\b:?\s?(.*)$", re.DOTALL)
_LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}


def parse_line(line: str, received: datetime) -> tuple[datetime, str | None, str]:
    """Split a Vector log line into its time (else ``received``), level (or None) and text."""
    match = _LINE.match(line)
    if match is None:
        return received, None, line
    stamp, level, rest = match.groups()
    try:
        logged = datetime.fromisoformat(stamp)  # Python 3.11 reads a trailing Z
        if logged.tzinfo is None or not 2000 <= logged.year <= 9000:
            raise ValueError
        logged = logged.astimezone(received.tzinfo)
    except (ValueError, OverflowError):
        return received, None, line
    return logged, "WARN" if level == "WARNING" else level, rest


def levels_from(level: str | None) -> list[str] | None:
    """Return the levels shown by a minimum-level filter (None: every line)."""
    if not level or level not in _LEVEL_RANK:
        return None
    return list(LEVELS[_LEVEL_RANK[level]:])


def _environment_pipeline_ids(environment_id: str, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    return set(db.session.scalars(sa.select(Pipeline.id).where(
        Pipeline.environment_id == environment_id, Pipeline.id.in_(sorted(ids)))))


def ingest_logs(node: VectorNode, batches: list[AgentLogBatch], now: datetime | None = None
                ) -> int:
    """Store the lines of the node's pipelines (others are dropped, as in a heartbeat);
    return how many were stored. One read and one INSERT whatever the batch size."""
    now = now or utcnow()
    known = _environment_pipeline_ids(node.environment_id,
                                      {b.pipeline_id for b in batches if b.lines})
    rows = []
    for batch in batches:
        if batch.pipeline_id not in known:
            continue
        for line in batch.lines:
            logged, level, message = parse_line(line, now)
            rows.append({"node_id": node.id, "pipeline_id": batch.pipeline_id,
                         "logged_at": logged, "level": level, "message": message,
                         "received_at": now})
    if rows:
        db.session.execute(sa.insert(LogLine), rows)
    return len(rows)


def log_query(*, node_id: str | None = None, pipeline_id: str | None = None,
              level: str | None = None, q: str | None = None,
              since: datetime | None = None) -> sa.Select:
    """Return a select of log lines by node and/or pipeline, filtered (caller checks access)."""
    query = sa.select(LogLine)
    if node_id:
        query = query.where(LogLine.node_id == node_id)
    if pipeline_id:
        query = query.where(LogLine.pipeline_id == pipeline_id)
    levels = levels_from(level)
    if levels:
        query = query.where(LogLine.level.in_(levels))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(LogLine.message.ilike(f"%{escaped}%", escape="\\"))
    if since is not None:
        query = query.where(LogLine.received_at >= since)
    return query


def recent_lines(limit: int = 200, **filters) -> list[LogLine]:
    """Return the newest ``limit`` lines matching ``filters`` (see ``log_query``), oldest first."""
    rows = db.session.scalars(log_query(**filters).order_by(LogLine.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def lines_after(after_id: int, up_to: int | None = None, limit: int = 1000,
                **filters) -> list[LogLine]:
    """Return lines with ``after_id < id <= up_to`` matching ``filters``, oldest first."""
    query = log_query(**filters).where(LogLine.id > after_id)
    if up_to is not None:
        query = query.where(LogLine.id <= up_to)
    return db.session.scalars(query.order_by(LogLine.id).limit(limit)).all()


def newest_log_id() -> int:
    """Return the id of the newest stored line (0 when there is none)."""
    return db.session.scalar(sa.select(sa.func.max(LogLine.id))) or 0


# Per process and database: the newest line id at the last prune; the node+pipeline pairs
# that got lines since are the ones trimmed by count.
_LAST_PRUNED: dict[str, int] = {}


def prune_logs(now: datetime) -> int:
    """Drop lines past the age limit, then trim each node+pipeline that received lines since
    the last round to the newest VECTORFLOW_LOG_KEEP_LINES. Returns how many went."""
    cutoff = now - timedelta(hours=setting("VECTORFLOW_LOG_KEEP_HOURS"))
    gone = db.session.execute(sa.delete(LogLine).where(LogLine.received_at < cutoff)).rowcount
    keep = setting("VECTORFLOW_LOG_KEEP_LINES")
    head = newest_log_id()
    database = str(db.engine.url)
    groups = db.session.execute(
        sa.select(LogLine.node_id, LogLine.pipeline_id)
        .where(LogLine.id > _LAST_PRUNED.get(database, 0)).distinct()).all()
    for node_id, pipeline_id in groups:
        # The id of the oldest line to keep: an index walk of ``keep`` entries.
        oldest_kept = db.session.scalar(
            sa.select(LogLine.id).where(LogLine.node_id == node_id,
                                        LogLine.pipeline_id == pipeline_id)
            .order_by(LogLine.id.desc()).offset(keep - 1).limit(1))
        if oldest_kept is not None:
            gone += db.session.execute(sa.delete(LogLine).where(
                LogLine.node_id == node_id, LogLine.pipeline_id == pipeline_id,
                LogLine.id < oldest_kept)).rowcount
    _LAST_PRUNED[database] = head
    return gone


# -- samples ----------------------------------------------------------------------------------


_PENDING = (
    sa.select(SampleRequest.id, SampleRequest.pipeline_id, SampleRequest.component_keys,
              SampleRequest.limit)
    .where(SampleRequest.environment_id == sa.bindparam("environment"),
           SampleRequest.status == SampleStatus.PENDING,
           SampleRequest.expires_at > sa.bindparam("now"))
    .order_by(SampleRequest.created_at).limit(50)
)  # built once: it runs on every config poll (one indexed read, usually of nothing)


def pending_sample_requests(environment_id: str) -> list[dict]:
    """Return the ``sampleRequests`` of a config poll in this environment."""
    rows = db.session.connection().execute(_PENDING, {"environment": environment_id,
                                                      "now": utcnow()}).all()
    return [{"requestId": r.id, "pipelineId": r.pipeline_id,
             "componentKeys": list(r.component_keys), "limit": r.limit} for r in rows]


def component_keys(pipeline: Pipeline) -> list[str]:
    """Return the component keys (sources, transforms, sinks) of the pipeline's deployed
    config, else of its draft."""
    from .pipelines import latest_versions
    from .vector_config import load_yaml

    latest = latest_versions([pipeline.id]).get(pipeline.id) if pipeline.deployed else None
    text = latest.config_yaml if latest is not None else pipeline.draft_yaml
    try:
        config = load_yaml(text or "") or {}
    except Exception:  # noqa: BLE001  a draft may be anything: no components to offer then
        return []
    keys = []
    for kind in ("sources", "transforms", "sinks"):
        section = config.get(kind) if isinstance(config, dict) else None
        if isinstance(section, dict):
            keys += [str(key) for key in section]
    return keys


def request_sample(pipeline: Pipeline, component_key: str, limit: int,
                   actor: Actor) -> SampleRequest:
    """Ask the agents running ``pipeline`` for up to ``limit`` events of one component."""
    if not pipeline.deployed:
        raise Conflict("the pipeline is not deployed: no agent runs it",
                       {"pipelineId": "is not deployed"})
    if component_key not in component_keys(pipeline):
        raise ServiceError(f"the pipeline has no component {component_key!r}",
                           {"componentKey": "is not a component of the deployed config"})
    now = utcnow()
    request = SampleRequest(environment_id=pipeline.environment_id, pipeline_id=pipeline.id,
                            component_keys=[component_key], limit=limit, results=[],
                            status=SampleStatus.PENDING, requested_by_label=actor.label,
                            created_at=now,
                            expires_at=now + timedelta(
                                seconds=setting("VECTORFLOW_SAMPLE_TTL_SECONDS")))
    db.session.add(request)
    db.session.flush()
    team_id = pipeline.environment.team_id
    record("pipeline.sample_requested", entity_type="pipeline", entity_id=pipeline.id,
           team_id=team_id, environment_id=pipeline.environment_id, actor=actor,
           details={"requestId": request.id, "componentKey": component_key, "limit": limit})
    emit("pipeline.sample_requested", team_id=team_id, environment_id=pipeline.environment_id,
         payload={"requestId": request.id, "pipelineId": pipeline.id,
                  "componentKeys": [component_key], "limit": limit})
    return request


def record_sample_results(node: VectorNode, results: list[AgentSampleResult],
                          now: datetime | None = None) -> int:
    """Keep the node's answers to pending requests of its environment; return how many were
    kept. Answers to unknown, finished or other environments' requests are dropped."""
    now = now or utcnow()
    ids = sorted({r.request_id for r in results})
    if not ids:
        return 0
    requests = {r.id: r for r in db.session.scalars(
        sa.select(SampleRequest).where(SampleRequest.id.in_(ids),
                                       SampleRequest.environment_id == node.environment_id)
        .order_by(SampleRequest.id).with_for_update())}  # answers of two nodes queue here
    kept, done = 0, set()
    for result in results:
        request = requests.get(result.request_id)
        if (request is None or request.expires_at <= now
                or result.component_key not in request.component_keys
                or len(request.results) >= SAMPLE_RESULTS_KEPT):
            continue
        entry = {"nodeId": node.id, "nodeName": node.name,
                 "componentKey": result.component_key,
                 "events": result.events[:request.limit],
                 "schema": [f.model_dump(include={"path", "type", "sample"})
                            for f in result.schema_]}
        if result.error:
            entry["error"] = result.error
        request.results = [*request.results, entry]
        request.status = SampleStatus.DONE
        kept += 1
        done.add(request)
    team_id = node.environment.team_id
    for request in done:
        emit("pipeline.sample_ready", team_id=team_id, environment_id=node.environment_id,
             payload={"requestId": request.id, "pipelineId": request.pipeline_id,
                      "nodeId": node.id})
    db.session.flush()
    return kept


def inferred_fields(request: SampleRequest) -> list[dict]:
    """Return the union of the fields the agents inferred, by path, first answer first."""
    fields: dict[str, dict] = {}
    for result in request.results or []:
        for field in result.get("schema") or []:
            if isinstance(field, dict) and field.get("path") not in fields:
                fields[field.get("path")] = field
    return list(fields.values())


def latest_sample(pipeline_id: str) -> SampleRequest | None:
    """Return the pipeline's newest sample request."""
    return db.session.scalar(sa.select(SampleRequest).where(
        SampleRequest.pipeline_id == pipeline_id).order_by(
        SampleRequest.created_at.desc()).limit(1))


def expire_samples(now: datetime) -> None:
    """Mark unanswered requests past their time EXPIRED; forget finished ones after a day."""
    db.session.execute(sa.update(SampleRequest).where(
        SampleRequest.status == SampleStatus.PENDING, SampleRequest.expires_at <= now)
        .values(status=SampleStatus.EXPIRED))
    db.session.execute(sa.delete(SampleRequest).where(
        SampleRequest.expires_at < now - FINISHED_KEPT))


# -- taps -------------------------------------------------------------------------------------


def _active_taps(*conditions) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Tap).where(
        Tap.status == TapStatus.ACTIVE, *conditions)) or 0


def start_tap(node: VectorNode, pipeline: Pipeline, component_id: str, actor: Actor) -> Tap:
    """Start a live tap of one component on one node, within the per-node and per-team limits.

    Locks the team, then the node (services.locks order), so concurrent starts count right.
    """
    if pipeline.environment_id != node.environment_id:
        raise NotFound("the node does not run this pipeline", {"nodeId": "not in the "
                                                                "pipeline's environment"})
    if not pipeline.deployed:
        raise Conflict("the pipeline is not deployed: no agent runs it",
                       {"pipelineId": "is not deployed"})
    if component_id not in component_keys(pipeline):
        raise ServiceError(f"the pipeline has no component {component_id!r}",
                           {"componentId": "is not a component of the deployed config"})
    team_id = node.environment.team_id
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(Team.id).where(Team.id == team_id)
                           .with_for_update(key_share=True)).all()
    node = lock_node(node)
    if node.maintenance_mode:
        raise Conflict("the node is in maintenance: its pipelines are stopped",
                       {"nodeId": "is in maintenance"})
    now = utcnow()
    stop_expired_taps(now, Tap.node_id == node.id)
    if _active_taps(Tap.node_id == node.id) >= setting("VECTORFLOW_TAPS_PER_NODE"):
        raise Conflict(f"this node already runs {setting('VECTORFLOW_TAPS_PER_NODE')} taps; "
                       "stop one first", {"nodeId": "has too many taps running"})
    if _active_taps(Tap.team_id == team_id) >= setting("VECTORFLOW_TAPS_PER_TEAM"):
        raise Conflict(f"your team already runs {setting('VECTORFLOW_TAPS_PER_TEAM')} taps; "
                       "stop one first", {"teamId": "has too many taps running"})
    tap = Tap(team_id=team_id, node_id=node.id, pipeline_id=pipeline.id,
              component_id=component_id, status=TapStatus.ACTIVE, started_at=now,
              started_by_label=actor.label, events_received=0,
              expires_at=now + timedelta(seconds=setting("VECTORFLOW_TAP_SECONDS")))
    db.session.add(tap)
    db.session.flush()
    record("tap.started", entity_type="node", entity_id=node.id, team_id=team_id,
           environment_id=node.environment_id, actor=actor,
           details={"tapId": tap.id, "pipelineId": pipeline.id, "componentId": component_id})
    emit("node.tap_started", team_id=team_id, environment_id=node.environment_id,
         node_id=node.id, payload={"requestId": tap.id, "pipelineId": pipeline.id,
                                   "componentId": component_id})
    return tap


def stop_tap(tap: Tap, reason: str, actor: Actor, *, tell_agent: bool = True) -> bool:
    """Stop a running tap (its agent is told over the push stream); False if it had stopped."""
    locked = db.session.scalar(sa.select(Tap).where(Tap.id == tap.id).with_for_update()
                               .execution_options(populate_existing=True))
    if locked is None or locked.status != TapStatus.ACTIVE:
        return False
    locked.status = TapStatus.STOPPED
    locked.stopped_at = utcnow()
    locked.stop_reason = reason
    node = db.session.get(VectorNode, locked.node_id)
    environment_id = node.environment_id if node else None
    record("tap.stopped", entity_type="node", entity_id=locked.node_id, team_id=locked.team_id,
           environment_id=environment_id, actor=actor,
           details={"tapId": locked.id, "reason": reason})
    if tell_agent:
        emit("node.tap_stopped", team_id=locked.team_id, environment_id=environment_id,
             node_id=locked.node_id, payload={"requestId": locked.id, "reason": reason})
    db.session.flush()
    return True


def stop_expired_taps(now: datetime, *conditions) -> int:
    """Stop the running taps past their time limit; return how many."""
    expired = db.session.scalars(sa.select(Tap).where(
        Tap.status == TapStatus.ACTIVE, Tap.expires_at <= now, *conditions)).all()
    return sum(stop_tap(tap, "time_limit", Actor.system()) for tap in expired)


def record_tap_events(node: VectorNode, body: AgentTapEvents, now: datetime | None = None
                      ) -> bool:
    """Keep a batch of a running tap of this node (or its end); return whether it was kept.

    A batch for a tap that is not running on this node is dropped; one past the time or event
    limit stops the tap (and tells the agent).
    """
    now = now or utcnow()
    tap = db.session.scalar(sa.select(Tap).where(Tap.id == body.request_id,
                                                 Tap.node_id == node.id))
    if tap is None or tap.status != TapStatus.ACTIVE:
        return False
    if body.status == "stopped":
        return stop_tap(tap, f"agent: {body.reason or 'stopped'}"[:100], Actor(
            "agent", node.id, node.host), tell_agent=False)
    if tap.expires_at <= now:
        stop_tap(tap, "time_limit", Actor.system())
        return False
    if not body.events:
        return True
    if tap.events_received + len(body.events) > setting("VECTORFLOW_TAP_EVENTS_MAX"):
        stop_tap(tap, "event_limit", Actor.system())
        return False
    db.session.execute(sa.update(Tap).where(Tap.id == tap.id).values(
        events_received=Tap.events_received + len(body.events)))
    db.session.execute(sa.insert(TapEvent), [{"tap_id": tap.id, "events": body.events,
                                              "received_at": now}])
    return True


def tap_events_after(tap_id: str, after_id: int, limit: int = 200) -> list[TapEvent]:
    """Return a tap's batches after ``after_id``, oldest first."""
    return db.session.scalars(sa.select(TapEvent).where(
        TapEvent.tap_id == tap_id, TapEvent.id > after_id).order_by(TapEvent.id)
        .limit(limit)).all()


def prune_taps(now: datetime) -> None:
    """Stop taps past their time, drop batches read long ago and taps stopped a day ago."""
    stop_expired_taps(now)
    db.session.execute(sa.delete(TapEvent).where(TapEvent.received_at < now - TAP_EVENTS_KEPT))
    db.session.execute(sa.delete(Tap).where(Tap.status == TapStatus.STOPPED,
                                            Tap.stopped_at < now - FINISHED_KEPT))


def sweep_telemetry(now: datetime) -> None:
    """The sweep: retention of log lines, sample requests and taps."""
    prune_logs(now)
    expire_samples(now)
    prune_taps(now)
