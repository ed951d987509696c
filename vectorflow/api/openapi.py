"""The OpenAPI 3.1 document of /api/v1 and /api/agent, served at GET /api/v1/openapi.json.

Documenting a route is one entry in ``PATHS``: the path as Flask spells it with
``<param>`` written ``{param}``, then one ``op(...)`` per method. Request bodies and
query strings reuse the ``Body``/``Query`` declarations the views validate with, and
responses refer to the schemas in ``serializers.SCHEMAS``. tests/api/test_openapi.py
fails, naming the route, when a registered /api/ route is missing here.
"""
from __future__ import annotations

import re
from functools import cache

from .. import models
from ..events.views import STREAM_QUERY
from . import alerts, maintenance, nodes, pipelines, secrets, views, windows
from .schema import (
    ANY_OBJECT,
    BOOLEAN,
    INTEGER,
    NUMBER,
    STRING,
    STRING_MAP,
    array,
    enum,
    obj,
    page_of,
    ref,
)
from .serializers import SCHEMAS
from .validation import Body, Query

TOKEN_AUTH = [{"apiToken": []}, {"session": []}]
NODE_AUTH = [{"nodeToken": []}]
PUBLIC: list = []

ERROR_TEXT = {
    400: "Invalid input; `details` says which field and why. Nothing was changed.",
    401: "Missing, unknown or revoked token.",
    403: "Authenticated, but the role is too low.",
    404: "No such object, or it belongs to another team.",
    409: "Conflicts with the current state.",
    413: "Body too large.",
    415: "Body is not JSON.",
    422: "Understood but refused.",
}


def op(
    summary: str,
    *,
    response: dict | None = None,
    status: int = 200,
    body: Body | dict | None = None,
    query: Query | None = None,
    errors: tuple[int, ...] = (),
    security: list = TOKEN_AUTH,
    tag: str | None = None,
    description: str = "",
    content_type: str = "application/json",
) -> dict:
    """Describe one operation; 400/401/413/415 are added where they can happen."""
    operation: dict = {"summary": summary, "security": security}
    if description:
        operation["description"] = description
    if tag:
        operation["tags"] = [tag]
    if query is not None:
        operation["parameters"] = query.parameters()
    codes = set(errors)
    if security:
        codes.add(401)
    if body is not None:
        schema = body.schema() if isinstance(body, Body) else body
        operation["requestBody"] = {
            "required": bool(schema.get("required")),
            "content": {"application/json": {"schema": schema}},
        }
        codes |= {400, 413, 415}
    if query is not None and query.fields:
        codes.add(400)
    if status == 204:
        ok = {"description": "Done; no content."}
    elif content_type != "application/json":
        ok = {"description": "OK", "content": {content_type: {"schema": response or STRING}}}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": response or ANY_OBJECT}}}
    operation["responses"] = {str(status): ok}
    for code in sorted(codes):
        operation["responses"][str(code)] = {"$ref": f"#/components/responses/E{code}"}
    return operation


def page(name: str) -> dict:
    return page_of(ref(name))


# -- agent protocol (see shared/agent-protocol.md); open objects: unknown keys are ignored --

AGENT_SCHEMAS = {
    "AgentEnrollRequest": obj({
        "token": STRING,
        "hostname": {"type": "string", "minLength": 1, "maxLength": 253},
        "os": {"type": "string", "maxLength": 100},
        "agentVersion": {"type": "string", "maxLength": 100},
        "vectorVersion": {"type": "string", "maxLength": 100},
        "labels": STRING_MAP,
    }, optional=("os", "agentVersion", "vectorVersion", "labels"), extra=True),
    "AgentEnrollResponse": obj({
        "nodeId": STRING, "nodeToken": STRING, "environmentId": STRING, "environmentName": STRING,
    }, extra=True),
    "AgentPipeline": obj({
        "pipelineId": STRING,
        "pipelineName": STRING,
        "version": INTEGER,
        "configYaml": STRING,
        "checksum": STRING,
        "logLevel": enum(models.LogLevel),
        "secrets": STRING_MAP,
        "certFiles": array(obj({"name": STRING, "filename": STRING, "data": STRING}, extra=True)),
    }, optional=("logLevel", "secrets", "certFiles"), extra=True),
    "AgentConfig": obj({
        "pipelines": array(ref("AgentPipeline")),
        "pollIntervalMs": INTEGER,
        "secretBackend": enum(models.SecretBackend),
        "secretBackendConfig": ANY_OBJECT,
        "sampleRequests": array(ANY_OBJECT),
        "pendingAction": ref("PendingAction"),
        "pushUrl": {"type": "string", "format": "uri"},
    }, optional=("secretBackendConfig", "sampleRequests", "pendingAction", "pushUrl"), extra=True),
    "AgentPipelineStatus": obj({
        "pipelineId": STRING,
        "version": INTEGER,
        "status": enum(models.ProcessStatus),
        "pid": {"type": ["integer", "null"]},
        "uptimeSeconds": NUMBER,
        "eventsIn": NUMBER,
        "eventsOut": NUMBER,
        "errorsTotal": NUMBER,
        "bytesIn": NUMBER,
        "bytesOut": NUMBER,
        "eventsDiscarded": NUMBER,
        "componentMetrics": array(ANY_OBJECT),
        "utilization": NUMBER,
        "recentLogs": array(STRING),
        "configChecksum": STRING,
    }, optional=("pid", "uptimeSeconds", "eventsIn", "eventsOut", "errorsTotal", "bytesIn",
                 "bytesOut", "eventsDiscarded", "componentMetrics", "utilization", "recentLogs",
                 "configChecksum"), extra=True),
    "AgentHeartbeat": obj({
        "pipelines": array(ref("AgentPipelineStatus")),
        "hostMetrics": ANY_OBJECT,
        "agentVersion": STRING,
        "vectorVersion": STRING,
        "deploymentMode": enum(models.DeploymentMode),
        "runningAs": STRING,
        "labels": STRING_MAP,
        "sampleResults": array(ANY_OBJECT),
        "updateError": {"type": "string", "maxLength": 500},
        "agentHealth": ANY_OBJECT,
    }, optional=("hostMetrics", "agentVersion", "vectorVersion", "deploymentMode", "runningAs",
                 "labels", "sampleResults", "updateError", "agentHealth"), extra=True),
    "Ok": obj({"ok": BOOLEAN}, extra=True),
}

# -- the paths ---------------------------------------------------------------------------------

PATHS: dict[str, dict[str, dict]] = {
    "/api/v1/openapi.json": {
        "get": op("This document", security=PUBLIC, tag="meta"),
    },
    "/api/v1/teams": {
        "get": op("List the teams you belong to (every team for a superadmin)",
                  response=page("Team"), query=views.LIST_TEAMS, tag="teams"),
        "post": op("Create a team (superadmin)", response=ref("Team"), status=201,
                   body=views.CREATE_TEAM, errors=(403, 409), tag="teams"),
    },
    "/api/v1/environments": {
        "get": op("List environments of your teams", response=page("Environment"),
                  query=views.LIST_ENVIRONMENTS, errors=(404,), tag="environments"),
        "post": op("Create an environment (EDITOR of the team)", response=ref("Environment"),
                   status=201, body=views.CREATE_ENVIRONMENT, errors=(403, 404, 409),
                   tag="environments"),
    },
    "/api/v1/environments/{env_id}": {
        "get": op("Show an environment", response=ref("Environment"), errors=(404,),
                  tag="environments"),
    },
    "/api/v1/environments/{env_id}/enrollment-token": {
        "post": op("Issue a new enrollment token, replacing the old one (ADMIN)",
                   description="The token is in this response only; later only its hint.",
                   response=ref("EnrollmentToken"), body=Body(), errors=(403, 404),
                   tag="environments"),
    },
    "/api/v1/nodes": {
        "get": op("List nodes, filtered", response=page("Node"), query=nodes.LIST_NODES,
                  errors=(404,), tag="nodes"),
    },
    "/api/v1/nodes/{node_id}": {
        "get": op("Show a node with its pipeline statuses", response=ref("Node"),
                  errors=(404,), tag="nodes"),
        "patch": op("Rename a node (ADMIN)", response=ref("Node"), body=nodes.UPDATE_NODE,
                    errors=(403, 404), tag="nodes"),
        "delete": op("Delete a node; its agent's token stops working at once (ADMIN)",
                     status=204, errors=(403, 404), tag="nodes"),
    },
    "/api/v1/nodes/{node_id}/agent-update": {
        "post": op("Ask the node's agent to update itself on its next poll (ADMIN)",
                   description="Sets the node's pendingAction; it is delivered even during "
                               "maintenance and cleared once the agent reports the new version.",
                   response=ref("Node"), body=nodes.AGENT_UPDATE, errors=(403, 404),
                   tag="nodes"),
    },
    "/api/v1/nodes/{node_id}/maintenance": {
        "post": op("Put a node into maintenance or take it out (ADMIN)",
                   description="A node in maintenance is sent no pipelines; its agent stops them "
                               "on its next poll. Setting the state it has already changes nothing.",
                   response=ref("Node"), body=maintenance.NODE_MAINTENANCE, errors=(403, 404, 409),
                   tag="nodes"),
    },
    "/api/v1/nodes/maintenance": {
        "post": op("Put many nodes into maintenance or take them out (ADMIN)",
                   response=obj({
                       "dryRun": BOOLEAN,
                       "enabled": BOOLEAN,
                       "nodes": array(ref("NodeMaintenance")),
                       "unchangedNodeIds": array(STRING),
                       "coverageWarnings": array(ref("BudgetShortfall")),
                   }),
                   body=maintenance.BULK_MAINTENANCE, errors=(403, 404, 409), tag="nodes"),
    },
    "/api/v1/pipelines": {
        "get": op("List pipelines", response=page("Pipeline"), query=pipelines.LIST_PIPELINES,
                  errors=(404,), tag="pipelines"),
        "post": op("Create a pipeline (EDITOR); it runs nowhere until deployed",
                   response=ref("Pipeline"), status=201, body=pipelines.CREATE_PIPELINE,
                   errors=(403, 404, 409), tag="pipelines"),
    },
    "/api/v1/pipelines/{pipeline_id}": {
        "get": op("Show a pipeline with its draft", response=ref("Pipeline"), errors=(404,),
                  tag="pipelines"),
        "put": op("Edit the draft (EDITOR); agents see it only after a deploy",
                  response=ref("Pipeline"), body=pipelines.UPDATE_PIPELINE,
                  errors=(403, 404, 409), tag="pipelines"),
        "patch": op("Set the disruption budget (ADMIN)",
                    description="The minimum number of healthy nodes outside maintenance that "
                                "must keep running the deployed pipeline, or a percentage of the "
                                "environment's nodes (rounded up); null restores the default of "
                                "1. Every way into maintenance is refused with 409 when it "
                                "would break a budget, unless forced.",
                    response=ref("Pipeline"), body=pipelines.PATCH_PIPELINE,
                    errors=(403, 404), tag="pipelines"),
        "delete": op("Delete an undeployed pipeline and its versions (EDITOR)", status=204,
                     errors=(403, 404, 409), tag="pipelines"),
    },
    "/api/v1/pipelines/{pipeline_id}/deploy": {
        "post": op("Deploy the draft as the next version (EDITOR)",
                   description="Deploying an unchanged, deployed draft changes nothing and "
                               "answers the current version.",
                   response=ref("Deployment"), body=Body(), errors=(403, 404, 409),
                   tag="pipelines"),
    },
    "/api/v1/pipelines/{pipeline_id}/undeploy": {
        "post": op("Stop delivering the pipeline to agents (EDITOR)", response=ref("Pipeline"),
                   body=Body(), errors=(403, 404, 409), tag="pipelines"),
    },
    "/api/v1/pipelines/{pipeline_id}/versions": {
        "get": op("List deployed versions, newest first", response=page("PipelineVersion"),
                  query=pipelines.LIST_VERSIONS, errors=(404,), tag="pipelines"),
    },
    "/api/v1/maintenance-windows": {
        "get": op("List maintenance windows of your teams' environments",
                  response=page("MaintenanceWindow"), query=windows.LIST_WINDOWS, errors=(404,),
                  tag="maintenance-windows"),
        "post": op("Create a maintenance window (ADMIN)",
                   description="Give nodeIds or a selector, the first start (ISO 8601 with an "
                               "offset), durationMinutes and optionally an IANA timezone and an "
                               "RRULE. The sweep puts the targeted nodes into maintenance at "
                               "each start (as the system) and takes them out at the end, "
                               "skipping nodes already in maintenance and nodes a disruption "
                               "budget protects (never forcing). If an occurrence is going on, "
                               "it opens at once. Create it disabled to preview it first.",
                   response=ref("MaintenanceWindow"), status=201, body=windows.CREATE_WINDOW,
                   errors=(403, 404, 409), tag="maintenance-windows"),
    },
    "/api/v1/maintenance-windows/{window_id}": {
        "get": op("Show a maintenance window with its current or last run",
                  response=ref("MaintenanceWindow"), errors=(404,), tag="maintenance-windows"),
        "patch": op("Change a maintenance window (ADMIN)",
                    description="Any of the creation fields but environmentId. enabled=false "
                                "ends an open occurrence at once; a new durationMinutes moves "
                                "its end; a new target applies from the next sweep.",
                    response=ref("MaintenanceWindow"), body=windows.UPDATE_WINDOW,
                    errors=(403, 404, 409), tag="maintenance-windows"),
        "delete": op("Delete a maintenance window (ADMIN); an open occurrence ends first",
                     status=204, errors=(403, 404), tag="maintenance-windows"),
    },
    "/api/v1/maintenance-windows/{window_id}/preview": {
        "get": op("The next occurrences and the nodes the window would take now",
                  response=ref("MaintenanceWindowPreview"), query=windows.PREVIEW_WINDOW,
                  errors=(404,), tag="maintenance-windows"),
    },
    "/api/v1/secrets": {
        "get": op("List an environment's secrets (names only)", response=page("Secret"),
                  query=secrets.LIST_SECRETS, errors=(404,), tag="secrets"),
        "post": op("Store a secret, encrypted (EDITOR)", response=ref("Secret"), status=201,
                   body=secrets.CREATE_SECRET, errors=(403, 404, 409), tag="secrets"),
    },
    "/api/v1/secrets/{secret_id}": {
        "put": op("Rotate a secret's value (EDITOR); pipelines using it restart",
                  response=ref("Secret"), body=secrets.ROTATE_SECRET, errors=(403, 404),
                  tag="secrets"),
        "delete": op("Delete a secret no deployed pipeline uses (EDITOR)", status=204,
                     errors=(403, 404, 409), tag="secrets"),
    },
    "/api/v1/tokens": {
        "get": op("List the API tokens you may manage", response=page("ApiToken"),
                  query=views.LIST_TOKENS, tag="tokens"),
        "post": op("Create a personal token, or a team service token (ADMIN of the team)",
                   response=ref("CreatedApiToken"), status=201, body=views.CREATE_TOKEN,
                   errors=(403, 404), tag="tokens"),
    },
    "/api/v1/tokens/{token_id}": {
        "delete": op("Revoke a token", status=204, errors=(404,), tag="tokens"),
    },
    "/api/v1/audit": {
        "get": op("List audit rows of the teams where you are ADMIN, newest first",
                  response=page("AuditEntry"), query=views.LIST_AUDIT, errors=(403, 404),
                  tag="audit"),
    },
    "/api/v1/alerts": {
        "get": op("List alerts of your teams, newest first",
                  description="`state` is `firing` or `resolved`; a firing alert with "
                              "`suppressed: true` fired while its node was in maintenance and "
                              "notified no one.",
                  response=page("Alert"), query=alerts.LIST_ALERTS, errors=(404,), tag="alerts"),
    },
    "/api/v1/alerts/{alert_id}/ack": {
        "post": op("Acknowledge an alert (EDITOR)", response=ref("Alert"), body=Body(),
                   errors=(403, 404), tag="alerts"),
    },
    "/api/v1/alert-rules": {
        "get": op("List the built-in alert rules as set for an environment",
                  response=page("AlertRule"), query=alerts.LIST_RULES, errors=(404,),
                  tag="alerts"),
        "patch": op("Enable or disable a rule, or change its threshold (ADMIN)",
                    response=ref("AlertRule"), body=alerts.UPDATE_RULE, errors=(403, 404),
                    tag="alerts"),
    },
    "/api/v1/notification-channels": {
        "get": op("List the notification channels of the teams where you are ADMIN",
                  response=page("NotificationChannel"), query=alerts.LIST_CHANNELS,
                  errors=(403, 404), tag="alerts"),
        "post": op("Add a webhook, Slack or email channel to a team (ADMIN)",
                   description="Webhooks are signed: `X-VectorFlow-Signature: sha256=<hex "
                               "HMAC-SHA256 of \"<X-VectorFlow-Timestamp>.<body>\">` with the "
                               "channel's secret. URLs resolving to loopback, link-local or "
                               "private addresses are refused unless the server allows them.",
                   response=ref("NotificationChannel"), status=201, body=alerts.CREATE_CHANNEL,
                   errors=(403, 404, 409), tag="alerts"),
    },
    "/api/v1/notification-channels/{channel_id}/test": {
        "post": op("Send a test message now (ADMIN); answers its delivery-log entry",
                   response=ref("NotificationDelivery"), body=Body(), errors=(403, 404),
                   tag="alerts"),
    },
    "/api/v1/notification-channels/{channel_id}/deliveries": {
        "get": op("The channel's delivery log, newest first (ADMIN)",
                  response=page("NotificationDelivery"), query=alerts.LIST_DELIVERIES,
                  errors=(403, 404), tag="alerts"),
    },
    "/api/v1/events": {
        "get": op("Stream your teams' events (server-sent events)",
                  description="Each event arrives as `event: <type>` (and, for a node's events, "
                              "again as `event: node-<nodeId>`) with `id:` the event id and "
                              "`data:` its JSON. Resume with the Last-Event-ID header; a "
                              "`resync` event means the missed events are gone: reload state.",
                  query=STREAM_QUERY, content_type="text/event-stream", errors=(404,),
                  tag="events"),
    },
    "/api/agent/enroll": {
        "post": op("Enroll a node with an environment's enrollment token",
                   description="Answers 200 (never 201): the agent accepts no other status.",
                   response=ref("AgentEnrollResponse"), body=ref("AgentEnrollRequest"),
                   security=PUBLIC, errors=(401,), tag="agent"),
    },
    "/api/agent/config": {
        "get": op("The pipelines this node should run", response=ref("AgentConfig"),
                  security=NODE_AUTH, tag="agent"),
    },
    "/api/agent/heartbeat": {
        "post": op("Report pipeline statuses and host metrics", response=ref("Ok"),
                   body=ref("AgentHeartbeat"), security=NODE_AUTH, tag="agent"),
    },
    "/api/agent/push": {
        "get": op("Server-sent events telling the agent to poll now",
                  description="`data: <json>` messages such as "
                              '`{"type": "config_changed", "reason": "deploy"}`; '
                              "lines starting with `:` are keep-alives.",
                  content_type="text/event-stream", security=NODE_AUTH, tag="agent"),
    },
}


def _path_parameters(path: str) -> list[dict]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)]


@cache
def document() -> dict:
    """Build the OpenAPI document (once per process)."""
    paths = {}
    for path, operations in PATHS.items():
        params = _path_parameters(path)
        entry = {method: dict(operation) for method, operation in operations.items()}
        if params:
            entry = {"parameters": params, **entry}
        paths[path] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "VectorFlow API",
            "version": "1",
            "description": "Automation API (/api/v1, API tokens) and agent protocol "
                           "(/api/agent, node tokens). JSON with camelCase keys. Lists are "
                           '`{"items": [...], "nextCursor": ...}`; pass `?cursor=` for the next '
                           'page. Errors are `{"error": "...", "details": {...}}`.',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, **AGENT_SCHEMAS},
            "responses": {
                f"E{code}": {
                    "description": text,
                    "content": {"application/json": {"schema": ref("Error")}},
                }
                for code, text in ERROR_TEXT.items()
            },
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer",
                             "description": "An API token, `vf_api_...`."},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "A browser session; writes need the X-CSRFToken header."},
                "nodeToken": {"type": "http", "scheme": "bearer",
                              "description": "The node token returned by enrollment."},
            },
        },
    }

