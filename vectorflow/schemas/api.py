"""The models of /api/v1: each request body, query string and response, declared once.

Views parse with ``parse_body``/``parse_query`` and answer with ``respond(Model.of(obj))``;
api/openapi.py names the model of each operation. Keys are camelCase on the wire and
snake_case here; response models read the ORM objects' attributes of the same names.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasPath, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from ..models import (
    DeploymentMode,
    DrainState,
    LogLevel,
    NodeStatus,
    ProcessStatus,
    SecretBackend,
)
from ..services.nodes import effective_status
from .base import Computed, RequestModel, ResponseModel, absent
from .fields import (
    ACTION_MAX,
    BULK_MAX,
    CHECKSUM_MAX,
    LABEL_SELECTOR_MAX,
    PAGE_DEFAULT,
    PAGE_MAX,
    URL_MAX,
    VERSION_MAX,
    ConfigYaml,
    Cursor,
    Description,
    Id,
    JsonObject,
    Labels,
    Name,
    NodeName,
    Reason,
    RoleName,
    SecretValue,
    Timestamp,
    text,
)

# == requests =============================================================================


class Empty(RequestModel):
    """No body, or an empty object."""


class CreateTeam(RequestModel):
    name: Name


class CreateEnvironment(RequestModel):
    name: Name
    team_id: Id
    secret_backend: SecretBackend = absent()
    secret_backend_config: JsonObject = absent(
        description="Non-secret backend settings sent to agents.")


class CreateToken(RequestModel):
    name: Name
    team_id: Id = absent(description="Create a service token of this team (you must be its "
                                     "ADMIN); omit for a personal token that acts as you.")
    role: RoleName = absent(description="The service token's fixed role; required with teamId.")

    def problems(self) -> dict[str, str]:
        if self.team_id and not self.role:
            return {"role": "required with teamId"}
        if self.role and not self.team_id:
            return {"role": "only service tokens (with teamId) have a role"}
        return {}


class RenameNode(RequestModel):
    name: NodeName


class AgentUpdate(RequestModel):
    target_version: text(VERSION_MAX, strip=True, required=True)
    download_url: text(URL_MAX, strip=True, required=True) = Field(
        description="https:// URL of the new agent binary.")
    checksum: text(CHECKSUM_MAX, strip=True, required=True) = Field(description="sha256:<64 hex>")


class NodeMaintenance(RequestModel):
    enabled: bool = Field(strict=True)
    reason: Reason | None = None
    until: Timestamp | None = Field(None, description="Scheduled end; must be in the future.")
    force: bool = absent(strict=True, description="Enter even if a deployed pipeline would be "
                                                  "left on no healthy node (otherwise 409).")


class Selector(RequestModel):
    environment_id: Id
    labels: Labels = absent()


class BulkMaintenance(NodeMaintenance):
    selector: Selector = absent(
        description="Nodes of one environment with all these labels; or give nodeIds.")
    node_ids: list[Id] = absent(min_length=1, max_length=BULK_MAX)
    dry_run: bool = absent(strict=True, description="Report what would change, change nothing.")

    def problems(self) -> dict[str, str]:
        if (self.selector is None) == (self.node_ids is None):
            return {"selector": "give either selector or nodeIds"}
        return {}


class CreatePipeline(RequestModel):
    environment_id: Id
    name: Name
    config_yaml: ConfigYaml = Field(
        description="The Vector config (YAML); SECRET[name] and CERT[name] refer to secrets.")
    description: Description = absent()
    log_level: LogLevel | None = None


class UpdatePipeline(RequestModel):
    name: Name = absent()
    config_yaml: ConfigYaml = absent(description="The new draft; agents get it once deployed.")
    description: Description = absent()
    log_level: LogLevel | None = absent(description="null resets it to the agent's default.")


class CreateSecret(RequestModel):
    environment_id: Id
    name: Name
    value: SecretValue = Field(description="Stored encrypted; never returned.")


class RotateSecret(RequestModel):
    value: SecretValue = Field(description="Stored encrypted; never returned.")


# == query strings ========================================================================


class PageQuery(RequestModel):
    cursor: Cursor = absent(description="The nextCursor of the previous page.")
    limit: int = absent(ge=1, le=PAGE_MAX, description=f"Items per page (default {PAGE_DEFAULT}).")


class ListEnvironments(PageQuery):
    team_id: Id = absent()


class ListTokens(PageQuery):
    include_revoked: bool = absent()


class ListAudit(PageQuery):
    action: text(ACTION_MAX, strip=True) = absent(
        description="Exact action, e.g. node.maintenance_entered.")
    node_id: Id = absent(description="Rows about this node.")
    team_id: Id = absent()
    since: Timestamp = absent(description="Rows at or after this time (ISO 8601).")


class ListNodes(PageQuery):
    environment_id: Id = absent()
    status: NodeStatus = absent()
    maintenance: bool = absent(description="true: only nodes in maintenance; false: only others.")
    label: list[text(LABEL_SELECTOR_MAX)] = absent(
        description="key=value; repeat for several labels (all must match).")


class ListPipelines(PageQuery):
    environment_id: Id = absent()
    name: Name = absent(description="Exact name.")


class ListSecrets(PageQuery):
    environment_id: Id


class StreamQuery(RequestModel):
    environment_id: Id = absent(description="only this environment's events")
    node_id: Id = absent(description="only this node's events")
    last_event_id: int = absent(ge=0, le=2**63 - 1, description="resume after this event id "
                                                                "(when no Last-Event-ID header)")


# == responses ============================================================================


class Error(ResponseModel):
    error: str
    details: dict[str, Any] = absent()


class Team(ResponseModel):
    id: str
    name: str
    created_at: datetime


class Environment(ResponseModel):
    """An environment (backend credentials are never included)."""

    id: str
    name: str
    team_id: str
    secret_backend: SecretBackend
    secret_backend_config: dict[str, Any]
    enrollment_token_hint: str | None
    created_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, env: Any) -> Any:
        return Computed(env, secret_backend_config=env.secret_backend_config or {})


class EnrollmentToken(ResponseModel):
    token: str = Field(description="Shown only in this response.")
    hint: str


class NodePipelineStatus(ResponseModel):
    """What a node last reported about one pipeline."""

    pipeline_id: str
    pipeline_name: str = Field(validation_alias=AliasPath("pipeline", "name"))
    version: int
    status: ProcessStatus
    pid: int | None
    uptime_seconds: int | None
    events_in: int
    events_out: int
    errors_total: int
    events_discarded: int
    bytes_in: int
    bytes_out: int
    utilization: float | None
    config_checksum: str | None
    last_updated: datetime

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, row: Any) -> Any:
        counters = ("events_in", "events_out", "errors_total", "events_discarded", "bytes_in",
                    "bytes_out")
        return Computed(row, **{name: getattr(row, name) or 0 for name in counters})


class PendingAction(ResponseModel):
    """An action the agent takes on its next poll, e.g. a self-update."""

    model_config = ConfigDict(alias_generator=to_camel, extra="allow")
    type: str
    target_version: str = absent()
    download_url: str = absent()
    checksum: str = absent()


def _maintenance_values(node: Any) -> dict:
    on = bool(node.maintenance_mode)
    return {"maintenance_mode": on, "maintenance_by": node.maintenance_by_label if on else None}


class MaintenanceState(ResponseModel):
    """A node's maintenance state."""

    maintenance_mode: bool
    maintenance_mode_at: datetime | None
    maintenance_reason: str | None
    maintenance_until: datetime | None
    maintenance_by: str | None
    drain_state: DrainState | None
    drained_at: datetime | None

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, node: Any) -> Any:
        return Computed(node, **_maintenance_values(node))


class NodeSummary(MaintenanceState):
    """What the maintenance endpoints answer for each node they change."""

    id: str
    name: str
    environment_id: str
    status: NodeStatus


class Node(MaintenanceState):
    """A node with its per-pipeline statuses. ``status`` is the effective one: a node silent
    for longer than the threshold is UNREACHABLE."""

    # Lists pass of(node, cutoff=unreachable_cutoff()) computed once, and load environment
    # and pipeline_statuses.pipeline eagerly (api.nodes.NODE_LOAD): a page costs a fixed
    # number of queries.

    id: str
    name: str
    host: str
    environment_id: str
    environment_name: str = Field(validation_alias=AliasPath("environment", "name"))
    team_id: str = Field(validation_alias=AliasPath("environment", "team_id"))
    status: NodeStatus
    labels: dict[str, str]
    agent_version: str | None
    vector_version: str | None
    os: str | None
    deployment_mode: DeploymentMode
    running_as: str | None
    last_seen: datetime | None
    last_heartbeat: datetime | None
    enrolled_at: datetime | None
    created_at: datetime
    pending_action: PendingAction | None
    last_update_error: str | None
    pipeline_statuses: list[NodePipelineStatus]

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, node: Any, info) -> Any:  # replaces MaintenanceState's
        return Computed(
            node, **_maintenance_values(node),
            status=effective_status(node, (info.context or {}).get("cutoff")),
            labels=node.labels or {},
            pending_action=node.pending_action or None,
            pipeline_statuses=sorted(node.pipeline_statuses, key=lambda s: s.pipeline.name),
        )


def _token_values(token: Any) -> dict:
    personal = token.user_id is not None
    return {"kind": "personal" if personal else "service",
            "owner": token.user.email if personal else token.team.name}


class ApiToken(ResponseModel):
    """An API token (never the token itself or its digest)."""

    id: str
    name: str
    kind: Literal["personal", "service"]
    owner: str
    user_id: str | None
    team_id: str | None
    role: RoleName | None
    hint: str = Field(validation_alias="token_hint")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, token: Any) -> Any:
        return Computed(token, **_token_values(token))


class CreatedApiToken(ApiToken):
    """A token just created: the only time the token itself is shown."""

    token: str = Field(description="The token itself; shown only in this response.")

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, token: Any, info) -> Any:  # replaces ApiToken's
        return Computed(token, **_token_values(token), token=info.context["raw"])


class AuditActor(ResponseModel):
    type: str
    id: str | None
    label: str


class AuditEntry(ResponseModel):
    id: int
    created_at: datetime
    actor: AuditActor
    action: str
    entity_type: str
    entity_id: str | None
    team_id: str | None
    environment_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    details: dict[str, Any] | None

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, row: Any) -> Any:
        return Computed(row, actor=AuditActor(type=row.actor_type, id=row.actor_id,
                                              label=row.actor_label))


class Pipeline(ResponseModel):
    """A pipeline and its draft."""

    # of(pipeline, latest=...) takes its newest version (services.pipelines.latest_versions).

    id: str
    environment_id: str
    name: str
    description: str
    config_yaml: str = Field(description="The draft; agents get it only once deployed.")
    log_level: LogLevel | None
    deployed: bool
    deployed_at: datetime | None
    latest_version: int | None
    draft_differs: bool = Field(
        description="The draft differs from the latest version; deploy to ship it.")
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, pipeline: Any, info) -> Any:
        from ..services.pipelines import draft_differs

        latest = (info.context or {}).get("latest")
        return Computed(pipeline, description=pipeline.description or "",
                        config_yaml=pipeline.draft_yaml or "",
                        log_level=pipeline.draft_log_level, deployed=bool(pipeline.deployed),
                        latest_version=latest.version if latest else None,
                        draft_differs=draft_differs(pipeline, latest) if latest else True)


class PipelineVersion(ResponseModel):
    """One deployed version of a pipeline."""

    pipeline_id: str
    version: int
    config_yaml: str
    log_level: LogLevel | None
    author: str = Field(validation_alias="author_label")
    created_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, version: Any) -> Any:
        return Computed(version, author_label=version.author_label or "")


class Deployment(ResponseModel):
    pipeline_id: str
    version: int
    deployed_at: datetime | None


class Secret(ResponseModel):
    """A secret by name only; its value never leaves the server this way."""

    id: str
    environment_id: str
    name: str
    used_by: list[str] = Field(description="Deployed pipelines whose latest version uses it.")
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, secret: Any, info) -> Any:
        return Computed(secret, used_by=(info.context or {}).get("used_by") or [])


class CoverageWarning(ResponseModel):
    """A deployed pipeline the change would leave on no healthy node."""

    pipeline_id: str = Field(validation_alias="id")
    pipeline_name: str = Field(validation_alias="name")
    environment_id: str


class BulkMaintenanceResult(ResponseModel):
    dry_run: bool
    enabled: bool
    nodes: list[NodeSummary]
    unchanged_node_ids: list[str]
    coverage_warnings: list[CoverageWarning]
