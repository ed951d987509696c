"""The OpenAPI 3.1 document of /api/v1 and /api/agent, served at GET /api/v1/openapi.json.

Documenting a route is one entry in ``PATHS``: the path as Flask spells it with
``<param>`` written ``{param}``, then one ``op(...)`` per method naming the models
(schemas/api.py, schemas/agent.py) the view parses and answers with; their JSON Schemas
become ``components.schemas``. tests/api/test_openapi.py fails, naming the route, when a
registered /api/ route is missing here.
"""
from __future__ import annotations

import re
from functools import cache

from pydantic import BaseModel

from ..schemas import agent, api, samples, telemetry
from ..schemas.base import components, page_of, query_parameters, ref
from ..schemas.fields import ID_PATTERN, INT64_MAX

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


class Operation(dict):
    """One documented operation (an OpenAPI operation object) and the models it names,
    gathered into ``components.schemas``."""

    def __init__(self, spec: dict, models: tuple[type[BaseModel], ...]):
        super().__init__(spec)
        self.models = models


def op(
    summary: str,
    *,
    response: type[BaseModel] | None = None,
    status: int = 200,
    body: type[api.RequestModel] | None = None,
    query: type[api.RequestModel] | None = None,
    errors: tuple[int, ...] = (),
    security: list = TOKEN_AUTH,
    tag: str | None = None,
    description: str = "",
    content_type: str = "application/json",
) -> Operation:
    """Describe one operation; 400/401/413/415 are added where they can happen."""
    operation: dict = {"summary": summary, "security": security}
    if description:
        operation["description"] = description
    if tag:
        operation["tags"] = [tag]
    if query is not None:
        operation["parameters"] = query_parameters(query)
    codes = set(errors)
    if security:
        codes.add(401)
    if body is not None:
        operation["requestBody"] = {
            "required": any(f.is_required() for f in body.model_fields.values()),
            "content": {"application/json": {"schema": ref(body)}},
        }
        codes |= {400, 413, 415}
    if query is not None and query.model_fields:
        codes.add(400)
    if status == 204:
        ok = {"description": "Done; no content."}
    elif content_type != "application/json":
        ok = {"description": "OK", "content": {content_type: {"schema": {"type": "string"}}}}
    else:
        schema = ref(response) if response else {"type": "object"}
        ok = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    operation["responses"] = {str(status): ok}
    for code in sorted(codes):
        operation["responses"][str(code)] = {"$ref": f"#/components/responses/E{code}"}
    return Operation(operation, tuple(m for m in (response, body, query) if m is not None))


# -- the paths ---------------------------------------------------------------------------------

PATHS: dict[str, dict[str, Operation]] = {
    "/api/v1/openapi.json": {
        "get": op("This document", security=PUBLIC, tag="meta"),
    },
    "/api/v1/teams": {
        "get": op("List the teams you belong to (every team for a superadmin)",
                  response=page_of(api.Team), query=api.PageQuery, tag="teams"),
        "post": op("Create a team (superadmin)", response=api.Team, status=201,
                   body=api.CreateTeam, errors=(403, 409), tag="teams"),
    },
    "/api/v1/environments": {
        "get": op("List environments of your teams", response=page_of(api.Environment),
                  query=api.ListEnvironments, errors=(404,), tag="environments"),
        "post": op("Create an environment (EDITOR of the team)", response=api.Environment,
                   status=201, body=api.CreateEnvironment, errors=(403, 404, 409),
                   tag="environments"),
    },
    "/api/v1/environments/{env_id}": {
        "get": op("Show an environment", response=api.Environment, errors=(404,),
                  tag="environments"),
    },
    "/api/v1/environments/{env_id}/enrollment-token": {
        "post": op("Issue a new enrollment token, replacing the old one (ADMIN)",
                   description="The token is in this response only; later only its hint.",
                   response=api.EnrollmentToken, body=api.Empty, errors=(403, 404),
                   tag="environments"),
    },
    "/api/v1/nodes": {
        "get": op("List nodes, filtered", response=page_of(api.Node), query=api.ListNodes,
                  errors=(404,), tag="nodes"),
    },
    "/api/v1/nodes/{node_id}": {
        "get": op("Show a node with its pipeline statuses", response=api.Node,
                  errors=(404,), tag="nodes"),
        "patch": op("Rename a node (ADMIN)", response=api.Node, body=api.RenameNode,
                    errors=(403, 404), tag="nodes"),
        "delete": op("Delete a node; its agent's token stops working at once (ADMIN)",
                     status=204, errors=(403, 404), tag="nodes"),
    },
    "/api/v1/nodes/{node_id}/logs": {
        "get": op("The node's recent log lines, oldest first",
                  description="Vector's own log lines as the agent posted them, kept per node "
                              "and pipeline as a bounded recent window (README: Agent "
                              "telemetry). Follow with `?cursor=<nextCursor>`.",
                  response=page_of(telemetry.LogLineOut), query=telemetry.LogsQuery,
                  errors=(404,), tag="nodes"),
    },
    "/api/v1/nodes/{node_id}/logs/stream": {
        "get": op("Follow the node's new log lines (server-sent events)",
                  description="`event: lines` messages whose `data:` is a JSON array of lines "
                              "(as in /logs items) and whose `id:` is the last line's id: resume "
                              "with Last-Event-ID. `event: dropped` (`{\"count\"}`) says lines "
                              "were skipped because the client read too slowly. Log lines are "
                              "not on /api/v1/events (README: Agent telemetry).",
                  query=telemetry.LogStreamQuery, content_type="text/event-stream",
                  errors=(404,), tag="nodes"),
    },
    "/api/v1/nodes/{node_id}/agent-update": {
        "post": op("Ask the node's agent to update itself on its next poll (ADMIN)",
                   description="Sets the node's pendingAction; it is delivered even during "
                               "maintenance and cleared once the agent reports the new version.",
                   response=api.Node, body=api.AgentUpdate, errors=(403, 404), tag="nodes"),
    },
    "/api/v1/nodes/{node_id}/series": {
        "get": op("A node's chart series: events in/out, errors, CPU, memory, network",
                  description="Closed buckets only (the open one still moves), oldest first; "
                              "rates per second. The event stream's samples.closed events "
                              "carry each newly closed bucket.",
                  response=samples.NodeSeries, query=samples.SeriesQuery, errors=(404,),
                  tag="nodes"),
    },
    "/api/v1/nodes/sparklines": {
        "get": op("Events in per second of many nodes over their last buckets",
                  response=samples.Sparklines, query=samples.SparklinesQuery, tag="nodes"),
    },
    "/api/v1/nodes/{node_id}/maintenance": {
        "post": op("Put a node into maintenance or take it out (ADMIN)",
                   description="A node in maintenance is sent no pipelines; its agent stops them "
                               "on its next poll. Setting the state it has already changes nothing.",
                   response=api.Node, body=api.NodeMaintenance, errors=(403, 404, 409),
                   tag="nodes"),
    },
    "/api/v1/nodes/maintenance": {
        "post": op("Put many nodes into maintenance or take them out (ADMIN)",
                   response=api.BulkMaintenanceResult, body=api.BulkMaintenance,
                   errors=(403, 404, 409), tag="nodes"),
    },
    "/api/v1/nodes/prune": {
        "post": op("Delete nodes unseen for more than N days (ADMIN)",
                   description="Each deleted node is audited as node.pruned; a node seen again "
                               "since is kept. dryRun lists what would be deleted.",
                   response=api.PruneResult, body=api.PruneNodes, errors=(403, 404),
                   tag="nodes"),
    },
    "/api/v1/pipelines": {
        "get": op("List pipelines", response=page_of(api.Pipeline), query=api.ListPipelines,
                  errors=(404,), tag="pipelines"),
        "post": op("Create a pipeline (EDITOR); it runs nowhere until deployed",
                   response=api.Pipeline, status=201, body=api.CreatePipeline,
                   errors=(403, 404, 409), tag="pipelines"),
    },
    "/api/v1/pipelines/{pipeline_id}/series": {
        "get": op("A pipeline's chart series: events in/out and errors summed over its nodes",
                  response=samples.PipelineSeries, query=samples.SeriesQuery, errors=(404,),
                  tag="pipelines"),
    },
    "/api/v1/pipelines/{pipeline_id}": {
        "get": op("Show a pipeline with its draft", response=api.Pipeline, errors=(404,),
                  tag="pipelines"),
        "put": op("Edit the draft (EDITOR); agents see it only after a deploy",
                  response=api.Pipeline, body=api.UpdatePipeline, errors=(403, 404, 409),
                  tag="pipelines"),
        "patch": op("Set the disruption budget (ADMIN)",
                    description="The minimum number of healthy nodes outside maintenance that "
                                "must keep running the deployed pipeline, or a percentage of the "
                                "environment's nodes (rounded up); null restores the default of "
                                "1. Every way into maintenance is refused with 409 when it "
                                "would break a budget, unless forced.",
                    response=api.Pipeline, body=api.PatchPipeline, errors=(403, 404),
                    tag="pipelines"),
        "delete": op("Delete an undeployed pipeline and its versions (EDITOR)", status=204,
                     errors=(403, 404, 409), tag="pipelines"),
    },
    "/api/v1/pipelines/{pipeline_id}/deploy": {
        "post": op("Deploy the draft as the next version (EDITOR)",
                   description="Deploying an unchanged, deployed draft changes nothing and "
                               "answers the current version.",
                   response=api.Deployment, body=api.Empty, errors=(403, 404, 409),
                   tag="pipelines"),
    },
    "/api/v1/pipelines/{pipeline_id}/undeploy": {
        "post": op("Stop delivering the pipeline to agents (EDITOR)", response=api.Pipeline,
                   body=api.Empty, errors=(403, 404, 409), tag="pipelines"),
    },
    "/api/v1/pipelines/{pipeline_id}/versions": {
        "get": op("List deployed versions, newest first", response=page_of(api.PipelineVersion),
                  query=api.PageQuery, errors=(404,), tag="pipelines"),
    },
    "/api/v1/maintenance-windows": {
        "get": op("List maintenance windows of your teams' environments",
                  response=page_of(api.MaintenanceWindow), query=api.ListWindows, errors=(404,),
                  tag="maintenance-windows"),
        "post": op("Create a maintenance window (ADMIN)",
                   description="Give nodeIds or a selector, the first start (ISO 8601 with an "
                               "offset), durationMinutes and optionally an IANA timezone and an "
                               "RRULE. The sweep puts the targeted nodes into maintenance at "
                               "each start (as the system) and takes them out at the end, "
                               "skipping nodes already in maintenance and nodes a disruption "
                               "budget protects (never forcing). If an occurrence is going on, "
                               "it opens at once. Create it disabled to preview it first.",
                   response=api.MaintenanceWindow, status=201, body=api.CreateWindow,
                   errors=(403, 404, 409), tag="maintenance-windows"),
    },
    "/api/v1/maintenance-windows/{window_id}": {
        "get": op("Show a maintenance window with its current or last run",
                  response=api.MaintenanceWindow, errors=(404,), tag="maintenance-windows"),
        "patch": op("Change a maintenance window (ADMIN)",
                    description="Any of the creation fields but environmentId. enabled=false "
                                "ends an open occurrence at once; a new durationMinutes moves "
                                "its end; a new target applies from the next sweep.",
                    response=api.MaintenanceWindow, body=api.UpdateWindow,
                    errors=(403, 404, 409), tag="maintenance-windows"),
        "delete": op("Delete a maintenance window (ADMIN); an open occurrence ends first",
                     status=204, errors=(403, 404), tag="maintenance-windows"),
    },
    "/api/v1/maintenance-windows/{window_id}/preview": {
        "get": op("The next occurrences and the nodes the window would take now",
                  response=api.MaintenanceWindowPreview, query=api.PreviewQuery,
                  errors=(404,), tag="maintenance-windows"),
    },
    "/api/v1/secrets": {
        "get": op("List an environment's secrets (names only)", response=page_of(api.Secret),
                  query=api.ListSecrets, errors=(404,), tag="secrets"),
        "post": op("Store a secret, encrypted (EDITOR)", response=api.Secret, status=201,
                   body=api.CreateSecret, errors=(403, 404, 409), tag="secrets"),
    },
    "/api/v1/secrets/{secret_id}": {
        "put": op("Rotate a secret's value (EDITOR); pipelines using it restart",
                  response=api.Secret, body=api.RotateSecret, errors=(403, 404),
                  tag="secrets"),
        "delete": op("Delete a secret no deployed pipeline uses (EDITOR)", status=204,
                     errors=(403, 404, 409), tag="secrets"),
    },
    "/api/v1/tokens": {
        "get": op("List the API tokens you may manage", response=page_of(api.ApiToken),
                  query=api.ListTokens, tag="tokens"),
        "post": op("Create a personal token, or a team service token (ADMIN of the team)",
                   response=api.CreatedApiToken, status=201, body=api.CreateToken,
                   errors=(403, 404), tag="tokens"),
    },
    "/api/v1/tokens/{token_id}": {
        "delete": op("Revoke a token", status=204, errors=(404,), tag="tokens"),
    },
    "/api/v1/audit": {
        "get": op("List audit rows of the teams where you are ADMIN, newest first",
                  response=page_of(api.AuditEntry), query=api.ListAudit, errors=(403, 404),
                  tag="audit"),
    },
    "/api/v1/alerts": {
        "get": op("List alerts of your teams, newest first",
                  description="`state` is `firing` or `resolved`; a firing alert with "
                              "`suppressed: true` fired while its node was in maintenance and "
                              "notified no one.",
                  response=page_of(api.Alert), query=api.ListAlerts, errors=(404,),
                  tag="alerts"),
    },
    "/api/v1/alerts/{alert_id}/ack": {
        "post": op("Acknowledge an alert (EDITOR)", response=api.Alert, body=api.Empty,
                   errors=(403, 404), tag="alerts"),
    },
    "/api/v1/alert-rules": {
        "get": op("List the built-in alert rules as set for an environment",
                  response=page_of(api.AlertRule), query=api.ListRules, errors=(404,),
                  tag="alerts"),
        "patch": op("Enable or disable a rule, or change its threshold (ADMIN)",
                    response=api.AlertRule, body=api.AlertRuleChange, errors=(403, 404),
                    tag="alerts"),
    },
    "/api/v1/notification-channels": {
        "get": op("List the notification channels of the teams where you are ADMIN",
                  response=page_of(api.NotificationChannel), query=api.ListChannels,
                  errors=(403, 404), tag="alerts"),
        "post": op("Add a webhook, Slack or email channel to a team (ADMIN)",
                   description="Webhooks are signed: `X-VectorFlow-Signature: sha256=<hex "
                               "HMAC-SHA256 of \"<X-VectorFlow-Timestamp>.<body>\">` with the "
                               "channel's secret. URLs resolving to loopback, link-local or "
                               "private addresses are refused unless the server allows them.",
                   response=api.NotificationChannel, status=201, body=api.CreateChannel,
                   errors=(403, 404, 409), tag="alerts"),
    },
    "/api/v1/notification-channels/{channel_id}/test": {
        "post": op("Send a test message now (ADMIN); answers its delivery-log entry",
                   response=api.NotificationDelivery, body=api.Empty, errors=(403, 404),
                   tag="alerts"),
    },
    "/api/v1/notification-channels/{channel_id}/deliveries": {
        "get": op("The channel's delivery log, newest first (ADMIN)",
                  response=page_of(api.NotificationDelivery), query=api.PageQuery,
                  errors=(403, 404), tag="alerts"),
    },
    "/api/v1/events": {
        "get": op("Stream your teams' events (server-sent events)",
                  description="Each event arrives as `event: <type>` (and, for a node's events, "
                              "again as `event: node-<nodeId>`) with `id:` the event id and "
                              "`data:` its JSON. Resume with the Last-Event-ID header; a "
                              "`resync` event means the missed events are gone: reload state.",
                  query=api.StreamQuery, content_type="text/event-stream", errors=(404,),
                  tag="events"),
    },
    "/api/agent/enroll": {
        "post": op("Enroll a node with an environment's enrollment token",
                   description="Answers 200 (never 201): the agent accepts no other status.",
                   response=agent.AgentEnrollResponse, body=agent.AgentEnrollRequest,
                   security=PUBLIC, errors=(401,), tag="agent"),
    },
    "/api/agent/config": {
        "get": op("The pipelines this node should run", response=agent.AgentConfig,
                  security=NODE_AUTH, tag="agent"),
    },
    "/api/agent/heartbeat": {
        "post": op("Report pipeline statuses and host metrics", response=agent.Ok,
                   body=agent.AgentHeartbeat, security=NODE_AUTH, tag="agent"),
    },
    "/api/agent/logs": {
        "post": op("Post Vector's own log lines, per pipeline",
                   description="The body is a JSON **array** of batches "
                               "(`[{\"pipelineId\", \"lines\": [...]}]`), documented here as "
                               "the `batches` of its model. Lines of pipelines outside the "
                               "node's environment are dropped; still 200.",
                   response=agent.Ok, body=telemetry.AgentLogBatches, security=NODE_AUTH,
                   tag="agent"),
    },
    "/api/agent/samples": {
        "post": op("Answer sample requests with events and the fields inferred from them",
                   description="Answers to unknown, finished or other environments' "
                               "requests are dropped; still 200.",
                   response=agent.Ok, body=telemetry.AgentSampleResults, security=NODE_AUTH,
                   tag="agent"),
    },
    "/api/agent/tap-events": {
        "post": op("Post a batch of a live tap's events, or its end (status stopped)",
                   description="Batches for a tap that is not running on this node are "
                               "dropped; still 200.",
                   response=agent.Ok, body=telemetry.AgentTapEvents, security=NODE_AUTH,
                   tag="agent"),
    },
    "/api/agent/push": {
        "get": op("Server-sent events telling the agent to poll now",
                  description="`data: <json>` messages such as "
                              '`{"type": "config_changed", "reason": "deploy"}`; '
                              "lines starting with `:` are keep-alives.",
                  content_type="text/event-stream", security=NODE_AUTH, tag="agent"),
    },
}


ID_PARAMETER = {"type": "string", "pattern": f"^{ID_PATTERN}$"}
# Path parameters that are numbered ids (<serial:...>); every other one is an <id:...>.
SERIAL_PARAMETERS = {"alert_id": {"type": "integer", "minimum": 1, "maximum": INT64_MAX}}


def _path_parameters(path: str) -> list[dict]:
    return [{"name": name, "in": "path", "required": True,
             "schema": SERIAL_PARAMETERS.get(name, ID_PARAMETER)}
            for name in re.findall(r"{(\w+)}", path)]


@cache
def document() -> dict:
    """Build the OpenAPI document (once per process)."""
    paths, models = {}, [api.Error]
    for path, operations in PATHS.items():
        entry = {method: dict(operation) for method, operation in operations.items()}
        models += [m for operation in operations.values() for m in operation.models]
        params = _path_parameters(path)
        paths[path] = {"parameters": params, **entry} if params else entry
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
            "schemas": components(models),
            "responses": {
                f"E{code}": {
                    "description": text,
                    "content": {"application/json": {"schema": ref(api.Error)}},
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
