"""The agent side of the fleet: enrollment, node-token authentication, config and heartbeats.

Hot paths (config poll, heartbeat) run a fixed number of queries whatever the fleet size,
and the config poll never writes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import (
    Environment,
    NodeMetric,
    NodePipelineStatus,
    NodeStatus,
    Pipeline,
    ProcessStatus,
    SampleRequest,
    SampleStatus,
    SecretBackend,
    SystemSettings,
    VectorNode,
    utcnow,
)
from ..models.settings import DEFAULT_POLL_INTERVAL_MS
from ..schemas.agent import AgentConfig, PendingAction
from ..security import NODE_PREFIX, digests_match, generate_token, token_digest
from . import ServiceError
from .actors import Actor
from .alerts import evaluate_nodes as evaluate_alerts
from .audit import record
from .config_render import cached_environment_pipelines
from .events import emit
from .health import set_node_status
from .maintenance import on_heartbeat as follow_maintenance_drain

if TYPE_CHECKING:
    from ..schemas.agent import AgentEnrollRequest, AgentHeartbeat, AgentPipelineStatus

# Host metrics: one history point per bucket (the newest point is refreshed by each heartbeat
# inside its bucket), kept for a day: at most 288 rows per node.
METRIC_BUCKET = timedelta(minutes=5)
METRIC_RETENTION = timedelta(hours=24)


class InvalidEnrollmentToken(ServiceError):
    status_code = 401


# --- enrollment and authentication ---------------------------------------------------------


def find_environment_by_enrollment_token(token: str) -> Environment | None:
    """Return the environment whose current enrollment token this is (one indexed lookup)."""
    env = db.session.scalar(
        sa.select(Environment).where(Environment.enrollment_token_digest == token_digest(token))
    )
    if env is None or not digests_match(env.enrollment_token_digest, token):
        return None
    return env


def enroll_node(request: AgentEnrollRequest) -> tuple[VectorNode, str]:
    """Enroll a new node with an environment's token; return it and its node token (shown once)."""
    env = find_environment_by_enrollment_token(request.token)
    if env is None:
        raise InvalidEnrollmentToken("Invalid enrollment token")
    token = generate_token(NODE_PREFIX)
    now = utcnow()
    node = VectorNode(
        environment=env,
        name=request.hostname,
        host=request.hostname,
        status=NodeStatus.HEALTHY,
        enrolled_at=now,
        last_heartbeat=now,
        last_seen=now,
        os=request.os,
        agent_version=request.agent_version,
        vector_version=request.vector_version,
        labels=request.labels or {},
        node_token_digest=token_digest(token),
    )
    db.session.add(node)
    db.session.flush()
    after = {"name": node.name, "host": node.host, "os": node.os,
             "agentVersion": node.agent_version, "vectorVersion": node.vector_version,
             "labels": node.labels}
    record("node.enrolled", entity_type="node", entity_id=node.id, team_id=env.team_id,
           environment_id=env.id, after=after, actor=Actor("agent", node.id, node.host))
    emit("node.enrolled", team_id=env.team_id, environment_id=env.id, node_id=node.id,
         payload={"name": node.name, "host": node.host, "status": node.status.value})
    return node, token


# The heartbeat and the push stream need the node to write and the team to scope events.
_NODE_BY_DIGEST = (
    sa.select(VectorNode)
    .options(joinedload(VectorNode.environment).load_only(Environment.team_id))
    .where(VectorNode.node_token_digest == sa.bindparam("digest"))
)  # built once: this runs on every agent call


def _token_holder(raw_token: str | None, find):
    """Return what ``find(digest)`` finds for this bearer token if its digest matches in
    constant time, else None (``find`` returns an object with ``node_token_digest``)."""
    if not raw_token:
        return None
    found = find(token_digest(raw_token))
    if found is None or not digests_match(found.node_token_digest, raw_token):
        return None
    return found


# The heartbeat changes its node: it takes the node's row lock in the same lookup
# (services.locks: a node's rows are written only while the node is locked).
_NODE_BY_DIGEST_FOR_UPDATE = (
    _NODE_BY_DIGEST.with_for_update(of=VectorNode, key_share=True)
    .execution_options(populate_existing=True)
)


def authenticate_node(raw_token: str | None) -> VectorNode | None:
    """Return the node holding this bearer token, with its environment's team, or None."""
    return _token_holder(raw_token, lambda digest: db.session.scalar(
        _NODE_BY_DIGEST, {"digest": digest}))


def authenticate_node_for_update(raw_token: str | None) -> VectorNode | None:
    """Like ``authenticate_node``, holding the node's row lock until the transaction ends."""
    return _token_holder(raw_token, lambda digest: db.session.scalar(
        _NODE_BY_DIGEST_FOR_UPDATE, {"digest": digest}))


# --- config ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollEnvironment:
    """What rendering a config needs of an environment (``cached_environment_pipelines``)."""

    id: str
    secret_backend: SecretBackend
    secret_backend_config: dict | None
    config_revision: int


@dataclass(frozen=True)
class PollingNode:
    """What the config poll needs of a node, read in one Core query: no ORM objects.

    Loading the node and its environment as ORM objects was a third of a poll's CPU.
    """

    id: str
    maintenance_mode: bool
    pending_action: dict | None
    poll_interval_ms: int
    environment: PollEnvironment
    samples_pending: bool = False  # the environment has sample requests (services.telemetry)


_POLLING_NODE = (
    sa.select(VectorNode.id, VectorNode.node_token_digest, VectorNode.maintenance_mode,
              VectorNode.pending_action, Environment.id.label("environment_id"),
              Environment.secret_backend, Environment.secret_backend_config,
              Environment.config_revision,
              sa.select(SystemSettings.fleet_poll_interval_ms).where(SystemSettings.id == 1)
              .scalar_subquery().label("poll_interval_ms"),
              sa.exists().where(SampleRequest.environment_id == Environment.id,
                                SampleRequest.status == SampleStatus.PENDING)
              .label("samples_pending"))
    .join(Environment, Environment.id == VectorNode.environment_id)
    .where(VectorNode.node_token_digest == sa.bindparam("digest"))
)  # built once: every agent polls every few seconds


def authenticate_polling_node(raw_token: str | None) -> PollingNode | None:
    """Return what the config poll needs of the node holding this token, or None."""
    row = _token_holder(raw_token, lambda digest: db.session.connection().execute(
        _POLLING_NODE, {"digest": digest}).first())
    if row is None:
        return None
    return PollingNode(
        id=row.id, maintenance_mode=row.maintenance_mode, pending_action=row.pending_action,
        poll_interval_ms=row.poll_interval_ms or DEFAULT_POLL_INTERVAL_MS,
        environment=PollEnvironment(row.environment_id, row.secret_backend,
                                    row.secret_backend_config, row.config_revision),
        samples_pending=bool(row.samples_pending),
    )


def agent_config(node: PollingNode) -> AgentConfig:
    """Return the body of GET /api/agent/config for a node; reads only, never writes.

    A node in maintenance gets no pipelines, so its agent stops them all; the rest of the
    config (poll interval, secret backend, a pending self-update) is unchanged. Keys left
    out are absent from the answer (the pipelines were validated when rendered, so nothing
    is validated again here: this runs on every poll).
    """
    env = node.environment
    config = {
        "pipelines": [] if node.maintenance_mode else cached_environment_pipelines(env),
        "poll_interval_ms": node.poll_interval_ms,
        "secret_backend": env.secret_backend,
    }
    if env.secret_backend != SecretBackend.BUILTIN:
        config["secret_backend_config"] = dict(env.secret_backend_config or {})
    if node.pending_action:
        config["pending_action"] = PendingAction.model_validate(node.pending_action)
    return AgentConfig.model_construct(**config)


# --- heartbeat -------------------------------------------------------------------------------

_VERSION_PART = re.compile(r"(\d+)")


def _version_key(version: str) -> tuple[int, ...] | None:
    parts = []
    for piece in version.strip().lstrip("vV").split("-", 1)[0].split("+", 1)[0].split("."):
        match = _VERSION_PART.match(piece)
        if match is None:
            return None
        parts.append(int(match.group(1)))
    return tuple(parts) if parts else None


def is_version_older(current: str, target: str) -> bool:
    """Return whether dotted version ``current`` is older than ``target`` (``dev`` never is)."""
    a, b = _version_key(current), _version_key(target)
    if a is None or b is None:
        return False
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) < b + (0,) * (width - len(b))


# The heartbeat's statements, built once. Writes every heartbeat makes go through Core (the
# ORM's unit of work was most of a heartbeat's cost); _expire_loaded keeps a session's
# loaded copies of those rows honest.
_STATUSES = NodePipelineStatus.__table__
_METRICS = NodeMetric.__table__
# One read: the node's status rows (``id`` set) and, with ``id`` NULL, the reported
# pipelines that belong to its environment.
_STATUS_READ = sa.union_all(
    sa.select(_STATUSES.c.pipeline_id, _STATUSES.c.id, _STATUSES.c.status, _STATUSES.c.version,
              _STATUSES.c.config_checksum)
    .where(_STATUSES.c.node_id == sa.bindparam("node")),
    sa.select(Pipeline.id, sa.null(), sa.null(), sa.null(), sa.null())
    .where(Pipeline.environment_id == sa.bindparam("environment"),
           Pipeline.id.in_(sa.bindparam("reported", expanding=True))),
)
# Run with many parameter sets: the SET clause is every key but ``row_id``.
_STATUS_UPDATE = sa.update(_STATUSES).where(_STATUSES.c.id == sa.bindparam("row_id"))
# The node's newest metrics point takes the sample while it is inside its bucket.
_REFRESH_METRICS = (
    sa.update(_METRICS)
    .where(_METRICS.c.id == sa.select(_METRICS.c.id)
           .where(_METRICS.c.node_id == sa.bindparam("node"))
           .order_by(_METRICS.c.created_at.desc()).limit(1).scalar_subquery(),
           _METRICS.c.created_at > sa.bindparam("since"))
    .values(data=sa.bindparam("sample"))
    .returning(_METRICS.c.id)
)
_COUNTERS = ("events_in", "events_out", "errors_total", "events_discarded", "bytes_in", "bytes_out")

# (pipeline id, status before, status after, version) of a status a user sees change.
StatusChange = tuple[str, str | None, str | None, int | None]


def _expire_loaded(model: type, ids: list) -> None:
    """Expire the session's loaded copies of rows just written with Core (usually none)."""
    mapper, identity_map = sa.inspect(model), db.session.identity_map
    for id_ in ids:
        loaded = identity_map.get(mapper.identity_key_from_primary_key((id_,)))
        if loaded is not None:
            db.session.expire(loaded)


def _read_pipeline_statuses(node: VectorNode, heartbeat: AgentHeartbeat
                            ) -> tuple[dict[str, sa.Row], set[str]]:
    """Return the node's status rows by pipeline id and the reported ids of its environment."""
    existing, known = {}, set()
    for row in db.session.connection().execute(_STATUS_READ, {
            "node": node.id, "environment": node.environment_id,
            "reported": sorted({r.pipeline_id for r in heartbeat.pipelines})}):
        if row.id is None:
            known.add(row.pipeline_id)
        else:
            existing[row.pipeline_id] = row
    return existing, known


def _status_values(report: AgentPipelineStatus, now: datetime) -> dict:
    values = {"version": report.version, "status": report.status, "pid": report.pid,
              "uptime_seconds": report.uptime_seconds, "utilization": report.utilization,
              "recent_logs": report.recent_logs, "config_checksum": report.config_checksum,
              "last_updated": now}
    for column in _COUNTERS:
        values[column] = report.counters.get(column, 0)
    return values


def _replace_pipeline_statuses(node: VectorNode, heartbeat: AgentHeartbeat,
                               existing: dict[str, sa.Row], known: set[str],
                               now: datetime) -> list[StatusChange]:
    """Write the statuses reported for known pipelines and drop the other rows of the node.

    One statement per kind of write: a heartbeat reporting the pipelines the last one did
    runs a single UPDATE (with one parameter set per row). Returns the changes a user sees.
    """
    reported = {r.pipeline_id: r for r in heartbeat.pipelines}
    changes, gone, added, updated = [], [], [], []
    for pipeline_id, row in existing.items():
        if pipeline_id not in known:
            changes.append((pipeline_id, row.status.value, None, None))
            gone.append(row.id)
    for pipeline_id in sorted(known):
        report = reported[pipeline_id]
        row = existing.get(pipeline_id)
        values = _status_values(report, now)
        if row is None:
            changes.append((pipeline_id, None, report.status.value, report.version))
            added.append({"node_id": node.id, "pipeline_id": pipeline_id, **values})
            continue
        if (row.status, row.version, row.config_checksum) != (
                report.status, report.version, report.config_checksum):
            changes.append((pipeline_id, row.status.value, report.status.value, report.version))
        updated.append({"row_id": row.id, **values})
    if gone:
        db.session.execute(sa.delete(NodePipelineStatus).where(NodePipelineStatus.id.in_(gone)))
    if added:
        db.session.execute(sa.insert(NodePipelineStatus), added)
    if updated:
        db.session.connection().execute(_STATUS_UPDATE, updated)
        _expire_loaded(NodePipelineStatus, [values["row_id"] for values in updated])
    return changes


def _store_host_metrics(node: VectorNode, metrics: dict, now: datetime) -> None:
    refreshed = db.session.connection().execute(
        _REFRESH_METRICS, {"node": node.id, "since": now - METRIC_BUCKET, "sample": metrics}
    ).scalar()
    if refreshed is not None:
        _expire_loaded(NodeMetric, [refreshed])
        return
    # Once per bucket: drop this node's points that fell out of the window (indexed range).
    db.session.execute(
        sa.delete(NodeMetric).where(NodeMetric.node_id == node.id,
                                    NodeMetric.created_at < now - METRIC_RETENTION)
    )
    db.session.add(NodeMetric(node_id=node.id, data=metrics, created_at=now))


def _settle_pending_action(node: VectorNode, heartbeat: AgentHeartbeat) -> dict | None:
    action = node.pending_action
    if heartbeat.update_error:
        node.last_update_error = heartbeat.update_error
    if not action or action.get("type") != "self_update":
        return None
    if heartbeat.update_error:
        node.pending_action = None
        return {"pendingAction": None, "updateError": heartbeat.update_error}
    target = action.get("targetVersion")
    if heartbeat.agent_version and (not isinstance(target, str)
                                    or not is_version_older(heartbeat.agent_version, target)):
        node.pending_action = None
        node.last_update_error = None
        return {"pendingAction": None, "agentVersion": heartbeat.agent_version}
    return None


def record_heartbeat(node: VectorNode, heartbeat: AgentHeartbeat,
                     now: datetime | None = None) -> None:
    """Apply a validated heartbeat to its node in the current transaction.

    The caller holds the node's row lock (``authenticate_node_for_update``), so heartbeats
    and state changes of one node run one after the other; then one read and one statement
    per table it writes: a steady heartbeat flushes the ORM once.
    """
    now = now or utcnow()
    node.last_heartbeat = now
    node.last_seen = now
    if heartbeat.agent_version is not None:
        node.agent_version = heartbeat.agent_version
    if heartbeat.vector_version is not None:
        node.vector_version = heartbeat.vector_version
    if heartbeat.deployment_mode is not None:
        node.deployment_mode = heartbeat.deployment_mode
    if heartbeat.running_as is not None:
        node.running_as = heartbeat.running_as or None
    if heartbeat.labels is not None and heartbeat.labels != node.labels:
        node.labels = heartbeat.labels
    settled = _settle_pending_action(node, heartbeat)
    follow_maintenance_drain(node, [report.status for report in heartbeat.pipelines])
    db.session.flush()

    existing, known = _read_pipeline_statuses(node, heartbeat)
    changes = _replace_pipeline_statuses(node, heartbeat, existing, known, now)
    if heartbeat.host_metrics is not None:
        _store_host_metrics(node, heartbeat.host_metrics.sample(), now)
    if any(r.status == ProcessStatus.CRASHED for r in heartbeat.pipelines
           if r.pipeline_id in known):
        moved = set_node_status(node, NodeStatus.DEGRADED, "a pipeline reported CRASHED")
    else:
        moved = set_node_status(node, NodeStatus.HEALTHY, "heartbeat received")

    scope = {"team_id": node.environment.team_id, "environment_id": node.environment_id,
             "node_id": node.id}
    for pipeline_id, before, after, version in changes:
        emit("node.pipeline_status_changed", **scope,
             payload={"pipelineId": pipeline_id, "from": before, "to": after, "version": version})
    if settled is not None:
        emit("node.updated", **scope, payload=settled)
    if moved or changes or settled is not None or heartbeat.update_error:
        evaluate_alerts([node.id], now)  # something an alert rule watches changed
    db.session.flush()  # left to write, if anything: a status transition, a new metrics point


def latest_host_metrics(node_id: str) -> NodeMetric | None:
    """Return the newest host-metrics sample of a node (its ``data`` and ``created_at``)."""
    return db.session.scalar(
        sa.select(NodeMetric).where(NodeMetric.node_id == node_id)
        .order_by(NodeMetric.created_at.desc()).limit(1)
    )
