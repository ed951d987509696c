"""The agent side of the fleet: enrollment, node-token authentication, config and heartbeats.

Hot paths (config poll, heartbeat) run a fixed number of queries whatever the fleet size,
and the config poll never writes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from ..extensions import db
from ..live import get_broker
from ..models import (
    DrainState,
    Environment,
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
from .poll_cache import get_poll_cache
from .samples import record_batch as record_samples

if TYPE_CHECKING:
    from ..schemas.agent import AgentEnrollRequest, AgentHeartbeat, AgentPipelineStatus

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


# The heartbeat changes its nodes: it takes their row locks in the same lookup
# (services.locks: a node's rows are written only while the node is locked).
_NODE_ROWS_FOR_UPDATE = (
    sa.select(VectorNode.id, VectorNode.node_token_digest, VectorNode.environment_id,
              Environment.team_id, VectorNode.status, VectorNode.agent_version,
              VectorNode.vector_version, VectorNode.deployment_mode, VectorNode.running_as,
              VectorNode.labels, VectorNode.pending_action, VectorNode.drain_state)
    .join(Environment, Environment.id == VectorNode.environment_id)
    .where(VectorNode.node_token_digest.in_(sa.bindparam("digests", expanding=True)))
    .order_by(VectorNode.id)  # one lock order for every batch: no deadlock between them
    .with_for_update(of=VectorNode, key_share=True)
)


def lock_nodes_by_token(raw_tokens: list[str]) -> dict[str, sa.Row]:
    """Return what a heartbeat needs of the nodes holding these bearer tokens, by token, each
    node's row locked until the transaction ends (one Core statement: no ORM objects; unknown
    tokens are absent)."""
    by_digest = {token_digest(token): token for token in raw_tokens}
    found = {}
    for row in db.session.connection().execute(_NODE_ROWS_FOR_UPDATE,
                                               {"digests": sorted(by_digest)}):
        token = by_digest[row.node_token_digest]
        if digests_match(row.node_token_digest, token):
            found[token] = row
    return found


def authenticate_node(raw_token: str | None) -> VectorNode | None:
    """Return the node holding this bearer token, with its environment's team, or None."""
    return _token_holder(raw_token, lambda digest: db.session.scalar(
        _NODE_BY_DIGEST, {"digest": digest}))


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
    node_token_digest: str
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


_READ_ONLY_ENGINES: dict[sa.Engine, sa.Engine] = {}


def _single_read_engine() -> sa.Engine:
    """Return the app's engine for one-statement reads outside any transaction.

    On PostgreSQL an autocommit connection: the poll's lookup is one round trip, not three
    (BEGIN, the SELECT, ROLLBACK). SQLite's driver begins no transaction for a SELECT anyway.
    """
    engine = db.engine
    reader = _READ_ONLY_ENGINES.get(engine)
    if reader is None:
        reader = engine
        if engine.dialect.name == "postgresql":
            reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        _READ_ONLY_ENGINES[engine] = reader
    return reader


def authenticate_polling_node(raw_token: str | None) -> PollingNode | None:
    """Return what the config poll needs of the node holding this token, or None.

    Usually from the process's poll cache (``services.poll_cache``: dropped by every
    committed change to what it holds, in every process). Otherwise one statement on a
    connection of its own, in no transaction: the poll's request never opens the session
    (transactions.run then has nothing to end).
    """
    return _token_holder(raw_token, _cached_polling_node)


def _cached_polling_node(digest: str) -> PollingNode | None:
    cache = get_poll_cache()
    if not cache.enabled:
        return _read_polling_node(digest)
    found = cache.get(digest)
    if found is not None:
        return found
    get_broker().start()  # the cache is filled only while the live feed brings changes
    mark = cache.mark()
    found = _read_polling_node(digest)
    if found is not None:
        cache.put(digest, found, found.id, found.environment.id, mark)
    return found


def _read_polling_node(digest: str) -> PollingNode | None:
    with _single_read_engine().connect() as conn:
        row = conn.execute(_POLLING_NODE, {"digest": digest}).first()
    if row is None:
        return None
    return PollingNode(
        id=row.id, node_token_digest=row.node_token_digest,
        maintenance_mode=row.maintenance_mode, pending_action=row.pending_action,
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
# loaded copies of those rows honest. Heartbeats come in batches (services.heartbeats: a
# group commit), so each statement serves every node of the batch.
_STATUSES = NodePipelineStatus.__table__
_NODES = VectorNode.__table__
_NODES_SEEN = (sa.update(_NODES).where(_NODES.c.id == sa.bindparam("row_id"))
               .values(last_heartbeat=sa.bindparam("seen"), last_seen=sa.bindparam("seen")))
# One read: the batch's status rows (``id`` set) and, with ``id`` NULL, which reported
# pipelines exist and in which environment (in the ``node_id`` column).
_STATUS_READ = sa.union_all(
    sa.select(_STATUSES.c.node_id, _STATUSES.c.pipeline_id, _STATUSES.c.id, _STATUSES.c.status,
              _STATUSES.c.version, _STATUSES.c.config_checksum)
    .where(_STATUSES.c.node_id.in_(sa.bindparam("nodes", expanding=True))),
    sa.select(Pipeline.environment_id, Pipeline.id, sa.null(), sa.null(), sa.null(), sa.null())
    .where(Pipeline.id.in_(sa.bindparam("reported", expanding=True))),
)
# Run with many parameter sets: the SET clause is every key but ``row_id``.
_STATUS_UPDATE = sa.update(_STATUSES).where(_STATUSES.c.id == sa.bindparam("row_id"))
_COUNTERS = ("events_in", "events_out", "errors_total", "events_discarded", "bytes_in", "bytes_out")

# (pipeline id, status before, status after, version) of a status a user sees change.
StatusChange = tuple[str, str | None, str | None, int | None]


@dataclass
class Beat:
    """A heartbeat and its node (locked by the caller): the node's columns as read (``was``:
    a Core row or the ORM node), the ORM node once something needs it (usually never)."""

    heartbeat: AgentHeartbeat
    was: sa.Row | VectorNode
    node: VectorNode | None = None

    @property
    def id(self) -> str:
        return self.was.id

    @property
    def environment_id(self) -> str:
        return self.was.environment_id

    @classmethod
    def of(cls, node: VectorNode, heartbeat: AgentHeartbeat) -> Beat:
        return cls(heartbeat, node, node)


def _expire_loaded(model: type, ids: list) -> None:
    """Expire the session's loaded copies of rows just written with Core (usually none)."""
    mapper, identity_map = sa.inspect(model), db.session.identity_map
    for id_ in ids:
        loaded = identity_map.get(mapper.identity_key_from_primary_key((id_,)))
        if loaded is not None:
            db.session.expire(loaded)


def _read_pipeline_statuses(beats: list[Beat]
                            ) -> tuple[dict[str, dict[str, sa.Row]], dict[str, set[str]]]:
    """Return each node's status rows by pipeline id and its reported ids that exist in its
    environment (both by node id), in one statement for the batch."""
    reported = sorted({r.pipeline_id for beat in beats for r in beat.heartbeat.pipelines})
    existing: dict[str, dict[str, sa.Row]] = {beat.id: {} for beat in beats}
    environment_of: dict[str, str] = {}
    for row in db.session.connection().execute(_STATUS_READ, {
            "nodes": sorted(existing), "reported": reported}):
        if row.id is None:
            environment_of[row.pipeline_id] = row.node_id
        else:
            existing[row.node_id][row.pipeline_id] = row
    known = {beat.id: {r.pipeline_id for r in beat.heartbeat.pipelines
                       if environment_of.get(r.pipeline_id) == beat.environment_id}
             for beat in beats}
    return existing, known


def _status_values(report: AgentPipelineStatus, now: datetime) -> dict:
    values = {"version": report.version, "status": report.status, "pid": report.pid,
              "uptime_seconds": report.uptime_seconds, "utilization": report.utilization,
              "recent_logs": report.recent_logs, "config_checksum": report.config_checksum,
              "last_updated": now}
    for column in _COUNTERS:
        values[column] = report.counters.get(column, 0)
    return values


def _replace_pipeline_statuses(beats: list[Beat], existing: dict[str, dict[str, sa.Row]],
                               known: dict[str, set[str]], now: datetime
                               ) -> dict[str, list[StatusChange]]:
    """Write the statuses reported for known pipelines and drop the nodes' other rows.

    One statement per kind of write for the whole batch: steady heartbeats run a single
    UPDATE (one parameter set per row). Returns, by node id, the changes a user sees.
    """
    changes_of: dict[str, list[StatusChange]] = {}
    gone, added, updated = [], [], []
    for beat in beats:
        reported = {r.pipeline_id: r for r in beat.heartbeat.pipelines}
        rows, node_known = existing[beat.id], known[beat.id]
        changes = changes_of[beat.id] = []
        for pipeline_id, row in rows.items():
            if pipeline_id not in node_known:
                changes.append((pipeline_id, row.status.value, None, None))
                gone.append(row.id)
        for pipeline_id in sorted(node_known):
            report = reported[pipeline_id]
            row = rows.get(pipeline_id)
            values = _status_values(report, now)
            if row is None:
                changes.append((pipeline_id, None, report.status.value, report.version))
                added.append({"node_id": beat.id, "pipeline_id": pipeline_id, **values})
                continue
            if (row.status, row.version, row.config_checksum) != (
                    report.status, report.version, report.config_checksum):
                changes.append((pipeline_id, row.status.value, report.status.value,
                                report.version))
            updated.append({"row_id": row.id, **values})
    if gone:
        db.session.execute(sa.delete(NodePipelineStatus).where(NodePipelineStatus.id.in_(gone)))
    if added:
        db.session.execute(sa.insert(NodePipelineStatus), added)
    if updated:
        db.session.connection().execute(_STATUS_UPDATE, updated)
        _expire_loaded(NodePipelineStatus, [values["row_id"] for values in updated])
    return changes_of


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


def _reported_columns(heartbeat: AgentHeartbeat) -> dict:
    reported = {"agent_version": heartbeat.agent_version,
                "vector_version": heartbeat.vector_version,
                "deployment_mode": heartbeat.deployment_mode, "labels": heartbeat.labels}
    return {column: value for column, value in reported.items() if value is not None}


def _running_as(heartbeat: AgentHeartbeat) -> str | None:
    return heartbeat.running_as or None  # "" clears it


def _changes_node(beat: Beat) -> bool:
    """Return whether the heartbeat changes its node's own columns, its pending action or
    its drain (anything but the last-seen times): only then is the ORM node needed."""
    heartbeat, was = beat.heartbeat, beat.was
    return bool(
        heartbeat.update_error or was.pending_action
        or was.drain_state not in (None, DrainState.DRAINED)
        or (heartbeat.running_as is not None and _running_as(heartbeat) != was.running_as)
        or any(value != getattr(was, column)
               for column, value in _reported_columns(heartbeat).items()))


def _apply_to_node(node: VectorNode, heartbeat: AgentHeartbeat) -> dict | None:
    """Set the node's own columns the heartbeat changes; return the settled pending action."""
    for column, value in _reported_columns(heartbeat).items():
        if value != getattr(node, column):
            setattr(node, column, value)
    if heartbeat.running_as is not None and _running_as(heartbeat) != node.running_as:
        node.running_as = _running_as(heartbeat)
    settled = _settle_pending_action(node, heartbeat)
    follow_maintenance_drain(node, [report.status for report in heartbeat.pipelines])
    return settled


_NODES_BY_ID = (
    sa.select(VectorNode)
    .options(joinedload(VectorNode.environment).load_only(Environment.team_id))
    .where(VectorNode.id.in_(sa.bindparam("ids", expanding=True)))
)


def _load_nodes(beats: list[Beat]) -> None:
    """Give these beats their ORM nodes (already locked), in one statement."""
    if not beats:
        return
    nodes = {node.id: node for node in db.session.scalars(
        _NODES_BY_ID, {"ids": sorted(beat.id for beat in beats)}).unique()}
    for beat in beats:
        beat.node = nodes[beat.id]


def record_heartbeat(node: VectorNode, heartbeat: AgentHeartbeat,
                     now: datetime | None = None) -> None:
    """Apply a validated heartbeat to its (locked) node in the current transaction."""
    record_heartbeats([Beat.of(node, heartbeat)], now)


def record_heartbeats_by_token(items: list[tuple[str, AgentHeartbeat]],
                               now: datetime | None = None) -> set[str]:
    """Lock the nodes holding these tokens and apply their heartbeats, in the current
    transaction; return the tokens that matched a node (the others get 401)."""
    rows = lock_nodes_by_token([token for token, _ in items])
    record_heartbeats([Beat(heartbeat, rows[token]) for token, heartbeat in items
                       if token in rows], now)
    return set(rows)


def record_heartbeats(beats: list[Beat], now: datetime | None = None) -> None:
    """Apply validated heartbeats to their nodes in the current transaction.

    The caller holds the nodes' row locks (``record_heartbeats_by_token`` takes them), so
    heartbeats and state changes of one node run one after the other. Each node's heartbeats
    are applied in order, one round per heartbeat of the busiest node (usually one round).
    """
    now = now or utcnow()
    rounds: list[list[Beat]] = []
    for beat in beats:
        for batch in rounds:
            if all(other.id != beat.id for other in batch):
                batch.append(beat)
                break
        else:
            rounds.append([beat])
    for batch in rounds:
        _record_batch(batch, now)


def _status_after(beat: Beat, known: set[str]) -> tuple[NodeStatus, str]:
    if any(r.status == ProcessStatus.CRASHED for r in beat.heartbeat.pipelines
           if r.pipeline_id in known):
        return NodeStatus.DEGRADED, "a pipeline reported CRASHED"
    return NodeStatus.HEALTHY, "heartbeat received"


def _record_batch(beats: list[Beat], now: datetime) -> None:
    """Apply heartbeats of distinct nodes: one statement per table for the whole batch.

    A steady batch (no node's own columns, status or statuses change) loads no ORM object
    and runs one UPDATE of the nodes' last-seen times, one read of their statuses, one
    UPDATE of the status rows, then the chart samples' reads and UPDATEs (services.samples,
    which also keep the host metrics the node page shows).
    """
    # Every heartbeat moves its node's last-seen times, outside the ORM's unit of work.
    db.session.connection().execute(_NODES_SEEN, [{"row_id": beat.id, "seen": now}
                                                  for beat in beats])
    _load_nodes([beat for beat in beats if beat.node is None and _changes_node(beat)])
    settled = {}
    for beat in beats:
        if beat.node is not None:
            set_committed_value(beat.node, "last_heartbeat", now)
            set_committed_value(beat.node, "last_seen", now)
            settled[beat.id] = _apply_to_node(beat.node, beat.heartbeat)
    db.session.flush()  # the nodes whose other columns changed, if any

    existing, known = _read_pipeline_statuses(beats)
    changes_of = _replace_pipeline_statuses(beats, existing, known, now)
    record_samples([(beat.id, beat.heartbeat, sorted(known[beat.id])) for beat in beats],
                   now)  # the charts' series and the host card (its host metrics)

    after = {beat.id: _status_after(beat, known[beat.id]) for beat in beats}
    _load_nodes([beat for beat in beats
                 if beat.node is None and beat.was.status != after[beat.id][0]])
    watched = []
    for beat in beats:
        moved = beat.node is not None and set_node_status(beat.node, *after[beat.id])
        scope = {"team_id": beat.node.environment.team_id if beat.node else beat.was.team_id,
                 "environment_id": beat.environment_id, "node_id": beat.id}
        for pipeline_id, before, status, version in changes_of[beat.id]:
            emit("node.pipeline_status_changed", **scope, payload={
                "pipelineId": pipeline_id, "from": before, "to": status, "version": version})
        if settled.get(beat.id) is not None:
            emit("node.updated", **scope, payload=settled[beat.id])
        if (moved or changes_of[beat.id] or settled.get(beat.id) is not None
                or beat.heartbeat.update_error):
            watched.append(beat.id)  # something an alert rule watches changed
    if watched:
        evaluate_alerts(watched, now)
    db.session.flush()  # left to write, if anything: status transitions

