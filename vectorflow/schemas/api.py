"""The models of /api/v1: each request body, query string and response, declared once.

Views parse with ``parse_body``/``parse_query`` and answer with ``respond(Model.of(obj))``;
api/openapi.py names the model of each operation. Keys are camelCase on the wire and
snake_case here; response models read the ORM objects' attributes of the same names.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasPath, Field, model_validator

from ..models import (
    DeploymentMode,
    DrainState,
    LogLevel,
    NodeStatus,
    ProcessStatus,
    SecretBackend,
)
from ..services.alerts import RULES
from ..services.nodes import effective_status
from ..services.notifications import EVENTS, TYPES
from .agent import PendingAction
from .base import Computed, RequestModel, ResponseModel, absent
from .fields import (
    ACTION_MAX,
    BULK_MAX,
    CHECKSUM_MAX,
    INT64_MAX,
    LABEL_SELECTOR_MAX,
    PAGE_DEFAULT,
    PAGE_MAX,
    PREVIEW_DEFAULT,
    PREVIEW_MAX,
    URL_MAX,
    VERSION_MAX,
    WINDOW_LABELS_MAX,
    WINDOW_NODES_MAX,
    BudgetNodes,
    ConfigYaml,
    Cursor,
    Description,
    DurationMinutes,
    EmailTo,
    Id,
    JsonObject,
    LabelKey,
    Labels,
    LabelValue,
    Name,
    NodeName,
    Percent,
    PruneDays,
    Reason,
    RoleName,
    Rrule,
    SecretValue,
    ThresholdMinutes,
    Timestamp,
    TimeZone,
    Url,
    WebhookSecret,
    text,
)

RuleName = Literal[tuple(RULES)]
ChannelType = Literal[TYPES]
EventName = Literal[EVENTS]

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
    force: bool = absent(strict=True, description="Enter even if it breaks a deployed "
                                                  "pipeline's disruption budget (otherwise "
                                                  "409); audited as forced.")


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


class PruneNodes(RequestModel):
    older_than_days: PruneDays = Field(description="Delete nodes unseen for more than this many "
                                                   "days (never seen: enrolled before then).")
    selector: Selector = absent(
        description="Nodes of one environment with all these labels (none: the whole "
                    "environment); or give nodeIds.")
    node_ids: list[Id] = absent(min_length=1, max_length=BULK_MAX)
    dry_run: bool = absent(strict=True, description="Report what would be deleted, delete "
                                                    "nothing.")

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


class DisruptionBudgetInput(RequestModel):
    """``{"minAvailable": N}`` or ``{"minAvailablePercent": P}``."""

    min_available: BudgetNodes | None = Field(
        None, description="Healthy nodes outside maintenance that must keep running it.")
    min_available_percent: Percent | None = Field(
        None, description="Or this percentage of the environment's nodes (rounded up).")


class PatchPipeline(RequestModel):
    disruption_budget: DisruptionBudgetInput | None = Field(
        description='{"minAvailable": N} or {"minAvailablePercent": P}; null: the default (1).')

    def problems(self) -> dict[str, str]:
        given = self.disruption_budget
        if given and given.min_available is not None and given.min_available_percent is not None:
            return {"disruptionBudget": "give either minAvailable or minAvailablePercent"}
        return {}

    def budget(self):
        """Return the services.budgets.Budget asked for."""
        from ..services.budgets import Budget

        given = self.disruption_budget
        return Budget(given.min_available, given.min_available_percent) if given else Budget()


class AlertRuleChange(RequestModel):
    environment_id: Id
    rule: RuleName
    enabled: bool = absent(strict=True)
    threshold_minutes: ThresholdMinutes = absent()


class CreateChannel(RequestModel):
    team_id: Id
    type: ChannelType
    name: Name
    url: Url = absent(description="webhook and slack: where to POST (public addresses only, "
                                  "unless the server allows private ones).")
    to: EmailTo = absent(description="email: addresses, comma-separated.")
    secret: WebhookSecret = absent(description="webhook: the HMAC-SHA256 signing key (16+ "
                                               "characters); stored encrypted, never returned.")
    rules: list[RuleName] = absent(description="Rules whose alerts it receives (default: all).")
    events: list[EventName] = absent(
        description="Maintenance events it receives (default: none).")
    enabled: bool = absent(strict=True)


class WindowSelector(RequestModel):
    labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=WINDOW_LABELS_MAX)] = absent()


class UpdateWindow(RequestModel):
    """Any of a window's settings; those left out keep their value."""

    name: Name = absent()
    node_ids: list[Id] | None = absent(
        min_length=1, max_length=WINDOW_NODES_MAX,
        description="These nodes of the environment; or give selector.")
    selector: WindowSelector | None = absent(
        description="Nodes of the environment with all these labels, also those enrolled or "
                    "relabelled while the window is open; or give nodeIds.")
    start: Timestamp = absent(description="The first occurrence, ISO 8601 with an offset; "
                                          "recurrences repeat its wall-clock time in timezone.")
    duration_minutes: DurationMinutes = absent()
    timezone: TimeZone = absent(description="IANA time zone such as Europe/Berlin (default UTC).")
    rrule: Rrule | None = absent(
        description="RFC 5545 recurrence such as FREQ=WEEKLY;BYDAY=TU (at most hourly); null: "
                    "once.")
    reason: Reason | None = absent(description="Shown as the nodes' maintenance reason.")
    enabled: bool = absent(strict=True,
                           description="Default true; false ends an open occurrence at once.")

    def settings(self) -> dict:
        """Return the settings given, by their API names (services.windows.FIELDS)."""
        return self.model_dump(by_alias=True, exclude_unset=True, exclude={"environment_id"})


class CreateWindow(UpdateWindow):
    environment_id: Id
    name: Name
    start: Timestamp = Field(description="The first occurrence, ISO 8601 with an offset; "
                                         "recurrences repeat its wall-clock time in timezone.")
    duration_minutes: DurationMinutes


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


class ListWindows(PageQuery):
    environment_id: Id = absent()


class PreviewQuery(RequestModel):
    count: int = absent(ge=1, le=PREVIEW_MAX,
                        description=f"Occurrences to list (default {PREVIEW_DEFAULT}).")


class ListAlerts(PageQuery):
    state: Literal["firing", "resolved"] = absent()
    suppressed: bool = absent(description="true: only alerts recorded during maintenance.")
    environment_id: Id = absent()
    node_id: Id = absent()


class ListRules(RequestModel):
    environment_id: Id


class ListChannels(PageQuery):
    team_id: Id = absent()


class StreamQuery(RequestModel):
    environment_id: Id = absent(description="only this environment's events")
    node_id: Id = absent(description="only this node's events")
    last_event_id: int = absent(ge=0, le=INT64_MAX, description="resume after this event id "
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


class DisruptionBudget(ResponseModel):
    """A pipeline's disruption budget and the counts that hold now."""

    min_available: int | None = Field(
        description="Healthy nodes outside maintenance that must keep running it; null with "
                    "minAvailablePercent null: 1.")
    min_available_percent: int | None = Field(
        description="Or this percentage of the environment's nodes.")
    default: bool
    required_nodes: int = Field(description="What the budget asks for now.")
    available_nodes: int = Field(
        description="Healthy nodes outside maintenance running it now.")

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, state: Any) -> Any:  # a services.budgets.BudgetState
        return Computed(state, min_available=state.budget.min_available,
                        min_available_percent=state.budget.min_available_percent,
                        default=state.budget.is_default, required_nodes=state.required,
                        available_nodes=state.available)


class Pipeline(ResponseModel):
    """A pipeline and its draft."""

    # of(pipeline, latest=..., budget=...) takes its newest version
    # (services.pipelines.latest_versions) and its budget state (services.budgets.states).

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
    disruption_budget: DisruptionBudget
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, pipeline: Any, info) -> Any:
        from ..services.pipelines import draft_differs

        context = info.context or {}
        latest = context.get("latest")
        return Computed(pipeline, description=pipeline.description or "",
                        config_yaml=pipeline.draft_yaml or "",
                        log_level=pipeline.draft_log_level, deployed=bool(pipeline.deployed),
                        latest_version=latest.version if latest else None,
                        draft_differs=draft_differs(pipeline, latest) if latest else True,
                        disruption_budget=DisruptionBudget.of(context["budget"]))


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


class BudgetShortfall(ResponseModel):
    """A deployed pipeline whose disruption budget the change would break."""

    pipeline_id: str = Field(validation_alias=AliasPath("pipeline", "id"))
    pipeline_name: str = Field(validation_alias=AliasPath("pipeline", "name"))
    environment_id: str = Field(validation_alias=AliasPath("pipeline", "environment_id"))
    required_nodes: int = Field(validation_alias="required")
    available_nodes: int = Field(validation_alias="available")
    remaining_nodes: int = Field(validation_alias="remaining",
                                 description="What would remain after the change.")


class BulkMaintenanceResult(ResponseModel):
    dry_run: bool
    enabled: bool
    nodes: list[NodeSummary]
    unchanged_node_ids: list[str]
    coverage_warnings: list[BudgetShortfall]


class PruneResult(ResponseModel):
    dry_run: bool
    older_than_days: int
    nodes: list[NodeSummary] = Field(description="Deleted (or, on a dry run, to be deleted).")
    kept_node_ids: list[str] = Field(description="Selected but seen within the period.")


class Alert(ResponseModel):
    """An alert (webhooks carry the same object)."""

    id: int
    rule: str
    title: str
    state: Literal["firing", "resolved"]
    suppressed: bool = Field(description="Fired while its node was in maintenance: notified "
                                         "no one.")
    team_id: str = Field(validation_alias=AliasPath("environment", "team_id"))
    environment_id: str
    node_id: str | None
    pipeline_id: str | None
    subject: str
    message: str
    since: datetime = Field(description="When the condition began.")
    started_at: datetime | None = Field(validation_alias="fired_at")
    ended_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None = Field(validation_alias="acknowledged_by_label")

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, alert: Any) -> Any:
        rule = RULES.get(alert.rule)
        return Computed(alert, title=rule.title if rule else alert.rule,
                        suppressed=bool(alert.suppressed))


class AlertRule(ResponseModel):
    """A built-in rule as set for an environment."""

    environment_id: str
    rule: str = Field(validation_alias=AliasPath("rule", "name"))
    title: str = Field(validation_alias=AliasPath("rule", "title"))
    enabled: bool
    threshold_minutes: int
    threshold_means: str = Field(validation_alias=AliasPath("rule", "threshold_means"))
    default_threshold_minutes: int = Field(
        validation_alias=AliasPath("rule", "default_threshold"))
    suppressed_in_maintenance: bool = Field(validation_alias=AliasPath("rule", "suppressible"))


class NotificationChannel(ResponseModel):
    """A notification channel (never its secret)."""

    id: str
    team_id: str
    type: ChannelType
    name: str
    url: str | None
    to: str | None = Field(validation_alias="email_to")
    has_secret: bool = Field(description="The signing secret is never returned.")
    rules: list[str]
    events: list[str]
    enabled: bool
    created_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, channel: Any) -> Any:
        return Computed(channel, has_secret=channel.encrypted_secret is not None,
                        rules=list(channel.rules or []), events=list(channel.events or []),
                        enabled=bool(channel.enabled))


class NotificationDelivery(ResponseModel):
    """One entry of a channel's delivery log."""

    id: int
    channel_id: str
    alert_id: int | None
    kind: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="null unless pending.")
    delivered_at: datetime | None

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, row: Any) -> Any:
        return Computed(row, next_attempt_at=row.next_attempt_at if row.status == "pending"
                        else None)


class SkippedNode(ResponseModel):
    node_id: str
    reason: str


class MaintenanceWindowRun(ResponseModel):
    """One occurrence of a window: what it took and what it skipped, and why."""

    started_at: datetime = Field(description="The occurrence's start.")
    ends_at: datetime = Field(description="The occurrence's end.")
    opened_at: datetime = Field(description="When the sweep opened it (later after a restart).")
    ended_at: datetime | None = Field(description="null while the window is open.")
    node_ids: list[str] = Field(description="The nodes it put into maintenance (or took over "
                                            "from another window).")
    skipped: list[SkippedNode]

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, run: Any) -> Any:
        return Computed(run, node_ids=list(run.node_ids or []),
                        skipped=[SkippedNode(node_id=s["nodeId"], reason=s["reason"])
                                 for s in run.skipped or []])


class WindowTarget(ResponseModel):
    labels: dict[str, str]


def _in_zone(value: datetime | None, zone: str) -> datetime | None:
    from ..services.windows import local

    return local(value, zone) if value is not None else None


class MaintenanceWindow(ResponseModel):
    """A maintenance window with its current or last run."""

    # of(window, run=...) takes its current or latest run (services.windows.last_runs).

    id: str
    environment_id: str
    name: str
    node_ids: list[str] | None
    selector: WindowTarget | None
    start: datetime = Field(description="The first occurrence, with the window's UTC offset.")
    duration_minutes: int
    timezone: str = Field(description="IANA time zone of the recurrence.")
    rrule: str | None
    reason: str | None
    enabled: bool
    active: bool = Field(description="An occurrence is open now.")
    next_start: datetime | None = Field(
        description="The next occurrence not opened yet, with the window's UTC offset.")
    last_run: MaintenanceWindowRun | None = Field(
        description="The current occurrence, or else the latest.")
    created_by: str = Field(validation_alias="created_by_label")
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, window: Any, info) -> Any:
        run = (info.context or {}).get("run")
        by_ids = window.node_ids is not None
        return Computed(
            window, node_ids=list(window.node_ids) if by_ids else None,
            selector=None if by_ids else {"labels": dict((window.selector or {}).get("labels")
                                                         or {})},
            start=_in_zone(window.start_at, window.timezone), enabled=bool(window.enabled),
            active=run is not None and run.ended_at is None,
            next_start=_in_zone(window.next_start_at, window.timezone),
            last_run=MaintenanceWindowRun.of(run) if run is not None else None,
            created_by_label=window.created_by_label or "")


class Occurrence(ResponseModel):
    start: datetime
    end: datetime
    shifted: bool = Field(description="Daylight saving moved it off the series' wall-clock "
                                      "time (a start in the spring-forward gap runs later, as "
                                      "RFC 5545 says).")


class NodeRef(ResponseModel):
    id: str
    name: str


class PreviewSkippedNode(ResponseModel):
    node_id: str
    node_name: str
    reason: str


class MaintenanceWindowPreview(ResponseModel):
    """A window's next occurrences and what it would do if it opened now."""

    # of(window, shown=...) reads a services.windows.Preview of the stored window.

    window_id: str = Field(validation_alias="id")
    timezone: str
    occurrences: list[Occurrence]
    nodes: list[NodeRef] = Field(
        description="The nodes it would take into maintenance if it opened now.")
    skipped: list[PreviewSkippedNode]

    @model_validator(mode="before")
    @classmethod
    def _computed(cls, window: Any, info) -> Any:
        shown, zone = info.context["shown"], window.timezone
        return Computed(
            window,
            occurrences=[Occurrence(start=_in_zone(start, zone), end=_in_zone(end, zone),
                                    shifted=shown.shifted(start))
                         for start, end in shown.occurrences],
            nodes=[NodeRef.of(n) for n in shown.nodes],
            skipped=[PreviewSkippedNode(node_id=n.id, node_name=n.name, reason=why)
                     for n, why in shown.skipped])
