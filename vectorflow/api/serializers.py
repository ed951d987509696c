"""JSON representations of the API's objects (camelCase), each beside its JSON Schema.

A representation and its schema change together: schemas are closed, so a key added
to a ``*_json`` function without its schema entry fails the OpenAPI test.
``SCHEMAS`` is published as ``components.schemas`` of the OpenAPI document.
"""
from __future__ import annotations

from datetime import datetime, timezone

from ..models import (
    ApiToken,
    AuditLog,
    DeploymentMode,
    DrainState,
    Environment,
    LogLevel,
    MaintenanceWindow,
    MaintenanceWindowRun,
    NodePipelineStatus,
    NodeStatus,
    Pipeline,
    PipelineVersion,
    ProcessStatus,
    Role,
    Secret,
    SecretBackend,
    Team,
    VectorNode,
)
from ..services.budgets import BudgetState
from ..services.nodes import effective_status, unreachable_cutoff
from .schema import (
    ANY_OBJECT,
    BOOLEAN,
    DATETIME,
    INTEGER,
    NUMBER,
    STRING,
    STRING_MAP,
    array,
    enum,
    nullable,
    obj,
    ref,
)


def ts(value: datetime | None) -> str | None:
    """Format a timestamp as ISO 8601 UTC with a ``Z``."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _name(value) -> str | None:
    return value.name if value is not None else None


def _value(value) -> str | None:
    return value.value if value is not None else None


SCHEMAS: dict[str, dict] = {}

# -- errors --------------------------------------------------------------------------

SCHEMAS["Error"] = obj(
    {"error": STRING, "details": ANY_OBJECT}, optional=("details",)
)

# -- teams -----------------------------------------------------------------------------

SCHEMAS["Team"] = obj({"id": STRING, "name": STRING, "createdAt": DATETIME})


def team_json(team: Team) -> dict:
    """Represent a team."""
    return {"id": team.id, "name": team.name, "createdAt": ts(team.created_at)}


# -- environments ------------------------------------------------------------------------

SCHEMAS["Environment"] = obj({
    "id": STRING,
    "name": STRING,
    "teamId": STRING,
    "secretBackend": enum(SecretBackend),
    "secretBackendConfig": ANY_OBJECT,
    "enrollmentTokenHint": nullable(STRING),
    "createdAt": DATETIME,
})


def environment_json(env: Environment) -> dict:
    """Represent an environment (backend credentials are never included)."""
    return {
        "id": env.id,
        "name": env.name,
        "teamId": env.team_id,
        "secretBackend": env.secret_backend.value,
        "secretBackendConfig": env.secret_backend_config or {},
        "enrollmentTokenHint": env.enrollment_token_hint,
        "createdAt": ts(env.created_at),
    }


SCHEMAS["EnrollmentToken"] = obj({"token": STRING, "hint": STRING})

# -- nodes --------------------------------------------------------------------------------

SCHEMAS["NodePipelineStatus"] = obj({
    "pipelineId": STRING,
    "pipelineName": STRING,
    "version": INTEGER,
    "status": enum(ProcessStatus),
    "pid": nullable(INTEGER),
    "uptimeSeconds": nullable(INTEGER),
    "eventsIn": INTEGER,
    "eventsOut": INTEGER,
    "errorsTotal": INTEGER,
    "eventsDiscarded": INTEGER,
    "bytesIn": INTEGER,
    "bytesOut": INTEGER,
    "utilization": nullable(NUMBER),
    "configChecksum": nullable(STRING),
    "lastUpdated": DATETIME,
})


def pipeline_status_json(status: NodePipelineStatus) -> dict:
    """Represent what a node last reported about one pipeline."""
    return {
        "pipelineId": status.pipeline_id,
        "pipelineName": status.pipeline.name,
        "version": status.version,
        "status": status.status.value,
        "pid": status.pid,
        "uptimeSeconds": status.uptime_seconds,
        "eventsIn": status.events_in or 0,
        "eventsOut": status.events_out or 0,
        "errorsTotal": status.errors_total or 0,
        "eventsDiscarded": status.events_discarded or 0,
        "bytesIn": status.bytes_in or 0,
        "bytesOut": status.bytes_out or 0,
        "utilization": status.utilization,
        "configChecksum": status.config_checksum,
        "lastUpdated": ts(status.last_updated),
    }


SCHEMAS["PendingAction"] = obj({
    "type": STRING,
    "targetVersion": STRING,
    "downloadUrl": STRING,
    "checksum": STRING,
}, optional=("targetVersion", "downloadUrl", "checksum"), extra=True)

# The maintenance keys of a node (also part of the full node representation).
NODE_MAINTENANCE_PROPERTIES = {
    "maintenanceMode": BOOLEAN,
    "maintenanceModeAt": nullable(DATETIME),
    "maintenanceReason": nullable(STRING),
    "maintenanceUntil": nullable(DATETIME),
    "maintenanceBy": nullable(STRING),
    "drainState": nullable(enum(DrainState)),
    "drainedAt": nullable(DATETIME),
}


def node_maintenance_json(node: VectorNode) -> dict:
    """Represent a node's maintenance state."""
    return {
        "maintenanceMode": bool(node.maintenance_mode),
        "maintenanceModeAt": ts(node.maintenance_mode_at),
        "maintenanceReason": node.maintenance_reason,
        "maintenanceUntil": ts(node.maintenance_until),
        "maintenanceBy": node.maintenance_by_label if node.maintenance_mode else None,
        "drainState": _value(node.drain_state),
        "drainedAt": ts(node.drained_at),
    }


# What the maintenance endpoints answer for each node they change.
SCHEMAS["NodeMaintenance"] = obj({
    "id": STRING, "name": STRING, "environmentId": STRING, "status": enum(NodeStatus),
    **NODE_MAINTENANCE_PROPERTIES,
})

# Node keys: add a key here and in node_json() together.
NODE_PROPERTIES = {
    "id": STRING,
    "name": STRING,
    "host": STRING,
    "environmentId": STRING,
    "environmentName": STRING,
    "teamId": STRING,
    "status": enum(NodeStatus),
    "labels": STRING_MAP,
    "agentVersion": nullable(STRING),
    "vectorVersion": nullable(STRING),
    "os": nullable(STRING),
    "deploymentMode": enum(DeploymentMode),
    "runningAs": nullable(STRING),
    "lastSeen": nullable(DATETIME),
    "lastHeartbeat": nullable(DATETIME),
    "enrolledAt": nullable(DATETIME),
    "createdAt": DATETIME,
    "pendingAction": nullable(ref("PendingAction")),
    "lastUpdateError": nullable(STRING),
    "pipelineStatuses": array(ref("NodePipelineStatus")),
    **NODE_MAINTENANCE_PROPERTIES,
}
SCHEMAS["Node"] = obj(NODE_PROPERTIES)


def node_json(node: VectorNode, cutoff: datetime | None = None) -> dict:
    """Represent a node with its per-pipeline statuses.

    ``status`` is the effective one (a node silent past the threshold is UNREACHABLE even
    before the sweep notices). Lists pass ``cutoff = unreachable_cutoff()`` computed once and
    load ``environment`` and ``pipeline_statuses.pipeline`` eagerly (api.nodes.NODE_LOAD), so
    a page costs a fixed number of queries.
    """
    cutoff = cutoff or unreachable_cutoff()
    return {
        "id": node.id,
        "name": node.name,
        "host": node.host,
        "environmentId": node.environment_id,
        "environmentName": node.environment.name,
        "teamId": node.environment.team_id,
        "status": effective_status(node, cutoff).value,
        "labels": node.labels or {},
        "agentVersion": node.agent_version,
        "vectorVersion": node.vector_version,
        "os": node.os,
        "deploymentMode": node.deployment_mode.value,
        "runningAs": node.running_as,
        "lastSeen": ts(node.last_seen),
        "lastHeartbeat": ts(node.last_heartbeat),
        "enrolledAt": ts(node.enrolled_at),
        "createdAt": ts(node.created_at),
        "pendingAction": node.pending_action or None,
        "lastUpdateError": node.last_update_error,
        "pipelineStatuses": [
            pipeline_status_json(s)
            for s in sorted(node.pipeline_statuses, key=lambda s: s.pipeline.name)
        ],
        **node_maintenance_json(node),
    }


# -- API tokens ------------------------------------------------------------------------------

TOKEN_PROPERTIES = {
    "id": STRING,
    "name": STRING,
    "kind": enum(["personal", "service"]),
    "owner": STRING,
    "userId": nullable(STRING),
    "teamId": nullable(STRING),
    "role": nullable(enum(Role)),
    "hint": STRING,
    "createdAt": DATETIME,
    "lastUsedAt": nullable(DATETIME),
    "revokedAt": nullable(DATETIME),
}
SCHEMAS["ApiToken"] = obj(TOKEN_PROPERTIES)
SCHEMAS["CreatedApiToken"] = obj({
    **TOKEN_PROPERTIES,
    "token": {"type": "string", "description": "The token itself; shown only in this response."},
})


def token_json(token: ApiToken) -> dict:
    """Represent an API token (never the token itself or its digest)."""
    personal = token.user_id is not None
    return {
        "id": token.id,
        "name": token.name,
        "kind": "personal" if personal else "service",
        "owner": token.user.email if personal else token.team.name,
        "userId": token.user_id,
        "teamId": token.team_id,
        "role": _name(token.role),
        "hint": token.token_hint,
        "createdAt": ts(token.created_at),
        "lastUsedAt": ts(token.last_used_at),
        "revokedAt": ts(token.revoked_at),
    }


# -- audit -------------------------------------------------------------------------------

SCHEMAS["AuditEntry"] = obj({
    "id": INTEGER,
    "createdAt": DATETIME,
    "actor": obj({"type": STRING, "id": nullable(STRING), "label": STRING}),
    "action": STRING,
    "entityType": STRING,
    "entityId": nullable(STRING),
    "teamId": nullable(STRING),
    "environmentId": nullable(STRING),
    "before": nullable(ANY_OBJECT),
    "after": nullable(ANY_OBJECT),
    "details": nullable(ANY_OBJECT),
})


def audit_json(row: AuditLog) -> dict:
    """Represent an audit row."""
    return {
        "id": row.id,
        "createdAt": ts(row.created_at),
        "actor": {"type": row.actor_type, "id": row.actor_id, "label": row.actor_label},
        "action": row.action,
        "entityType": row.entity_type,
        "entityId": row.entity_id,
        "teamId": row.team_id,
        "environmentId": row.environment_id,
        "before": row.before,
        "after": row.after,
        "details": row.details,
    }



# -- pipelines ---------------------------------------------------------------------------------

SCHEMAS["DisruptionBudget"] = obj({
    "minAvailable": {**nullable(INTEGER), "description": "Healthy nodes outside maintenance "
                     "that must keep running it; null with minAvailablePercent null: 1."},
    "minAvailablePercent": {**nullable(INTEGER),
                            "description": "Or this percentage of the environment's nodes."},
    "default": BOOLEAN,
    "requiredNodes": {**INTEGER, "description": "What the budget asks for now."},
    "availableNodes": {**INTEGER, "description": "Healthy nodes outside maintenance running it now."},
})
SCHEMAS["BudgetShortfall"] = obj({
    "pipelineId": STRING,
    "pipelineName": STRING,
    "environmentId": STRING,
    "requiredNodes": INTEGER,
    "availableNodes": INTEGER,
    "remainingNodes": {**INTEGER, "description": "What would remain after the change."},
})


def budget_json(state: BudgetState) -> dict:
    """Represent a pipeline's disruption budget and the counts that hold now."""
    return {**state.budget.as_dict(), "default": state.budget.is_default,
            "requiredNodes": state.required, "availableNodes": state.available}


SCHEMAS["Pipeline"] = obj({
    "id": STRING,
    "environmentId": STRING,
    "name": STRING,
    "description": STRING,
    "configYaml": {"type": "string", "description": "The draft; agents get it only once deployed."},
    "logLevel": nullable(enum(LogLevel)),
    "deployed": BOOLEAN,
    "deployedAt": nullable(DATETIME),
    "latestVersion": nullable(INTEGER),
    "draftDiffers": {"type": "boolean",
                     "description": "The draft differs from the latest version; deploy to ship it."},
    "disruptionBudget": ref("DisruptionBudget"),
    "createdAt": DATETIME,
    "updatedAt": DATETIME,
})


def pipeline_json(pipeline: Pipeline, latest: PipelineVersion | None,
                  budget: BudgetState) -> dict:
    """Represent a pipeline; ``latest`` is its newest version (services.pipelines.latest_versions)
    and ``budget`` its budget state (services.budgets.states)."""
    from ..services.pipelines import draft_differs

    return {
        "id": pipeline.id,
        "environmentId": pipeline.environment_id,
        "name": pipeline.name,
        "description": pipeline.description or "",
        "configYaml": pipeline.draft_yaml or "",
        "logLevel": _value(pipeline.draft_log_level),
        "deployed": bool(pipeline.deployed),
        "deployedAt": ts(pipeline.deployed_at),
        "latestVersion": latest.version if latest else None,
        "draftDiffers": draft_differs(pipeline, latest) if latest else True,
        "disruptionBudget": budget_json(budget),
        "createdAt": ts(pipeline.created_at),
        "updatedAt": ts(pipeline.updated_at),
    }


SCHEMAS["PipelineVersion"] = obj({
    "pipelineId": STRING,
    "version": INTEGER,
    "configYaml": STRING,
    "logLevel": nullable(enum(LogLevel)),
    "author": STRING,
    "createdAt": DATETIME,
})


def pipeline_version_json(version: PipelineVersion) -> dict:
    """Represent one deployed version of a pipeline."""
    return {
        "pipelineId": version.pipeline_id,
        "version": version.version,
        "configYaml": version.config_yaml,
        "logLevel": _value(version.log_level),
        "author": version.author_label or "",
        "createdAt": ts(version.created_at),
    }


SCHEMAS["Deployment"] = obj({
    "pipelineId": STRING,
    "version": INTEGER,
    "deployedAt": nullable(DATETIME),
})

# -- secrets --------------------------------------------------------------------------------------

SCHEMAS["Secret"] = obj({
    "id": STRING,
    "environmentId": STRING,
    "name": STRING,
    "usedBy": {**array(STRING), "description": "Deployed pipelines whose latest version uses it."},
    "createdAt": DATETIME,
    "updatedAt": DATETIME,
})


def secret_json(secret: Secret, used_by: list[str] | None = None) -> dict:
    """Represent a secret by name only; its value never leaves the server this way."""
    return {
        "id": secret.id,
        "environmentId": secret.environment_id,
        "name": secret.name,
        "usedBy": used_by or [],
        "createdAt": ts(secret.created_at),
        "updatedAt": ts(secret.updated_at),
    }


# -- alerts ------------------------------------------------------------------------------------

SCHEMAS["Alert"] = obj({
    "id": INTEGER,
    "rule": STRING,
    "title": STRING,
    "state": enum(["firing", "resolved"]),
    "suppressed": {"type": "boolean",
                   "description": "Fired while its node was in maintenance: notified no one."},
    "teamId": STRING,
    "environmentId": STRING,
    "nodeId": nullable(STRING),
    "pipelineId": nullable(STRING),
    "subject": STRING,
    "message": STRING,
    "since": {**DATETIME, "description": "When the condition began."},
    "startedAt": nullable(DATETIME),
    "endedAt": nullable(DATETIME),
    "acknowledgedAt": nullable(DATETIME),
    "acknowledgedBy": nullable(STRING),
})


def alert_json(alert) -> dict:
    """Represent an alert (the same object webhooks carry)."""
    from ..services.alerts import alert_document

    return alert_document(alert)


SCHEMAS["AlertRule"] = obj({
    "environmentId": STRING,
    "rule": STRING,
    "title": STRING,
    "enabled": BOOLEAN,
    "thresholdMinutes": INTEGER,
    "thresholdMeans": STRING,
    "defaultThresholdMinutes": INTEGER,
    "suppressedInMaintenance": BOOLEAN,
})


def alert_rule_json(setting) -> dict:
    """Represent one rule as set for an environment (services.alerts.RuleSetting)."""
    rule = setting.rule
    return {
        "environmentId": setting.environment_id,
        "rule": rule.name,
        "title": rule.title,
        "enabled": setting.enabled,
        "thresholdMinutes": setting.threshold_minutes,
        "thresholdMeans": rule.threshold_means,
        "defaultThresholdMinutes": rule.default_threshold,
        "suppressedInMaintenance": rule.suppressible,
    }


SCHEMAS["NotificationChannel"] = obj({
    "id": STRING,
    "teamId": STRING,
    "type": enum(["webhook", "slack", "email"]),
    "name": STRING,
    "url": nullable(STRING),
    "to": nullable(STRING),
    "hasSecret": {"type": "boolean", "description": "The signing secret is never returned."},
    "rules": array(STRING),
    "events": array(STRING),
    "enabled": BOOLEAN,
    "createdAt": DATETIME,
})


def channel_json(channel) -> dict:
    """Represent a notification channel (never its secret)."""
    return {
        "id": channel.id,
        "teamId": channel.team_id,
        "type": channel.type,
        "name": channel.name,
        "url": channel.url,
        "to": channel.email_to,
        "hasSecret": channel.encrypted_secret is not None,
        "rules": list(channel.rules or []),
        "events": list(channel.events or []),
        "enabled": bool(channel.enabled),
        "createdAt": ts(channel.created_at),
    }


SCHEMAS["NotificationDelivery"] = obj({
    "id": INTEGER,
    "channelId": STRING,
    "alertId": nullable(INTEGER),
    "kind": STRING,
    "status": enum(["pending", "delivered", "failed"]),
    "attempts": INTEGER,
    "responseCode": nullable(INTEGER),
    "lastError": nullable(STRING),
    "createdAt": DATETIME,
    "lastAttemptAt": nullable(DATETIME),
    "nextAttemptAt": nullable(DATETIME),
    "deliveredAt": nullable(DATETIME),
})


def delivery_json(row) -> dict:
    """Represent one entry of a channel's delivery log."""
    return {
        "id": row.id,
        "channelId": row.channel_id,
        "alertId": row.alert_id,
        "kind": row.kind,
        "status": row.status,
        "attempts": row.attempts,
        "responseCode": row.response_code,
        "lastError": row.last_error,
        "createdAt": ts(row.created_at),
        "lastAttemptAt": ts(row.last_attempt_at),
        "nextAttemptAt": ts(row.next_attempt_at) if row.status == "pending" else None,
        "deliveredAt": ts(row.delivered_at),
    }


# -- maintenance windows ---------------------------------------------------------------------------

SCHEMAS["MaintenanceWindowRun"] = obj({
    "startedAt": {**DATETIME, "description": "The occurrence's start."},
    "endsAt": {**DATETIME, "description": "The occurrence's end."},
    "openedAt": {**DATETIME, "description": "When the sweep opened it (later after a restart)."},
    "endedAt": {**nullable(DATETIME), "description": "null while the window is open."},
    "nodeIds": {**array(STRING), "description": "The nodes it put into maintenance (or took "
                                                "over from another window)."},
    "skipped": array(obj({"nodeId": STRING, "reason": STRING})),
})


def window_run_json(run: MaintenanceWindowRun) -> dict:
    """Represent one occurrence of a window: what it took and what it skipped, and why."""
    return {
        "startedAt": ts(run.started_at),
        "endsAt": ts(run.ends_at),
        "openedAt": ts(run.opened_at),
        "endedAt": ts(run.ended_at),
        "nodeIds": list(run.node_ids or []),
        "skipped": [{"nodeId": s["nodeId"], "reason": s["reason"]} for s in run.skipped or []],
    }


SCHEMAS["MaintenanceWindow"] = obj({
    "id": STRING,
    "environmentId": STRING,
    "name": STRING,
    "nodeIds": nullable(array(STRING)),
    "selector": nullable(obj({"labels": STRING_MAP})),
    "start": {**DATETIME, "description": "The first occurrence, with the window's UTC offset."},
    "durationMinutes": INTEGER,
    "timezone": {**STRING, "description": "IANA time zone of the recurrence."},
    "rrule": nullable(STRING),
    "reason": nullable(STRING),
    "enabled": BOOLEAN,
    "active": {**BOOLEAN, "description": "An occurrence is open now."},
    "nextStart": {**nullable(DATETIME), "description": "The next occurrence not opened yet, "
                                                      "with the window's UTC offset."},
    "lastRun": {**nullable(ref("MaintenanceWindowRun")),
                "description": "The current occurrence, or else the latest."},
    "createdBy": STRING,
    "createdAt": DATETIME,
    "updatedAt": DATETIME,
})


def _in_zone(value: datetime | None, zone: str) -> str | None:
    from ..services.windows import local

    return local(value, zone).isoformat() if value is not None else None


def window_json(window: MaintenanceWindow, run: MaintenanceWindowRun | None) -> dict:
    """Represent a window; ``run`` is its current or latest run (services.windows.last_runs)."""
    return {
        "id": window.id,
        "environmentId": window.environment_id,
        "name": window.name,
        "nodeIds": list(window.node_ids) if window.node_ids is not None else None,
        "selector": ({"labels": dict((window.selector or {}).get("labels") or {})}
                     if window.node_ids is None else None),
        "start": _in_zone(window.start_at, window.timezone),
        "durationMinutes": window.duration_minutes,
        "timezone": window.timezone,
        "rrule": window.rrule,
        "reason": window.reason,
        "enabled": bool(window.enabled),
        "active": run is not None and run.ended_at is None,
        "nextStart": _in_zone(window.next_start_at, window.timezone),
        "lastRun": window_run_json(run) if run is not None else None,
        "createdBy": window.created_by_label or "",
        "createdAt": ts(window.created_at),
        "updatedAt": ts(window.updated_at),
    }


SCHEMAS["MaintenanceWindowPreview"] = obj({
    "windowId": STRING,
    "timezone": STRING,
    "occurrences": array(obj({
        "start": DATETIME,
        "end": DATETIME,
        "shifted": {**BOOLEAN, "description": "Daylight saving moved it off the series' "
                                              "wall-clock time (a start in the spring-forward "
                                              "gap runs later, as RFC 5545 says)."},
    })),
    "nodes": {**array(obj({"id": STRING, "name": STRING})),
              "description": "The nodes it would take into maintenance if it opened now."},
    "skipped": array(obj({"nodeId": STRING, "nodeName": STRING, "reason": STRING})),
})


def window_preview_json(window: MaintenanceWindow, shown) -> dict:
    """Represent a services.windows.Preview of a stored window."""
    return {
        "windowId": window.id,
        "timezone": window.timezone,
        "occurrences": [{"start": _in_zone(start, window.timezone),
                         "end": _in_zone(end, window.timezone), "shifted": shown.shifted(start)}
                        for start, end in shown.occurrences],
        "nodes": [{"id": n.id, "name": n.name} for n in shown.nodes],
        "skipped": [{"nodeId": n.id, "nodeName": n.name, "reason": why}
                    for n, why in shown.skipped],
    }
