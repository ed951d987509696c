"""The models of the agent protocol (shared/agent-protocol.md): strict about types and sizes,
silent about unknown keys.

Newer agents send keys this server does not know; those are ignored, never an error.
The agent is written in Go, whose JSON encoder writes a nil slice or map as ``null``, so
optional keys take ``null`` as absent (the document says so: they are nullable).
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ..models import DeploymentMode, LogLevel, ProcessStatus, SecretBackend
from .base import RequestModel, ResponseModel, absent
from .fields import (
    LOG_LINE_KEPT,
    LOG_LINES_KEPT,
    NODE_NAME_MAX,
    PIPELINE_ID_MAX,
    PIPELINES_MAX,
    REASON_MAX,
    STATUS_CHECKSUM_MAX,
    VERSION_MAX,
    Counter,
    Int32,
    Labels,
    Number,
    Ratio,
    Token,
    Version,
    null_as,
    sanitized,
    text,
)


class PendingAction(ResponseModel):
    """An action the agent takes on its next poll, e.g. a self-update."""

    model_config = ConfigDict(alias_generator=to_camel, extra="allow")
    type: str
    target_version: str = absent()
    download_url: str = absent()
    checksum: str = absent()


class AgentRequest(RequestModel):
    """A body an agent sends: unknown keys ignored, the 400 says only "Invalid input"."""

    model_config = ConfigDict(extra="ignore")
    summarize_errors: ClassVar[bool] = False


def _empty_as_none(value: str | None) -> str | None:
    return value or None


class AgentEnrollRequest(AgentRequest):
    token: Token
    hostname: text(NODE_NAME_MAX, strip=True, required=True)
    os: Version | None = None
    agent_version: Version | None = None
    vector_version: Version | None = None
    labels: Labels | None = None


def _log_tail(lines: list[str]) -> list[str]:
    # Kept only to be shown: the tail, each line cut, unprintable characters replaced.
    return [sanitized(line)[:LOG_LINE_KEPT] for line in lines[-LOG_LINES_KEPT:]]


class AgentPipelineStatus(AgentRequest):
    """What an agent reports about one pipeline; counters are cumulative since that Vector
    process started."""

    pipeline_id: text(PIPELINE_ID_MAX, required=True)
    version: Int32
    status: ProcessStatus
    pid: Int32 | None = None
    uptime_seconds: Counter | None = None
    events_in: Counter | None = None
    events_out: Counter | None = None
    errors_total: Counter | None = None
    bytes_in: Counter | None = None
    bytes_out: Counter | None = None
    events_discarded: Counter | None = None
    component_metrics: list[dict[str, Any]] | None = None
    utilization: Ratio | None = None
    recent_logs: Annotated[list[str], AfterValidator(_log_tail)] | None = Field(
        None, description=f"Stored as the last {LOG_LINES_KEPT} lines of at most "
                          f"{LOG_LINE_KEPT} characters.")
    config_checksum: text(STATUS_CHECKSUM_MAX) | None = None

    COUNTERS: ClassVar[tuple[str, ...]] = (
        "events_in", "events_out", "errors_total", "bytes_in", "bytes_out", "events_discarded")

    @property
    def counters(self) -> dict[str, int]:
        """Return the counters reported, by column name."""
        return {name: getattr(self, name) for name in self.COUNTERS
                if getattr(self, name) is not None}


class AgentHostMetrics(AgentRequest):
    """The host's numbers; others an agent sends are ignored."""

    memory_total_bytes: Number | None = None
    memory_used_bytes: Number | None = None
    memory_free_bytes: Number | None = None
    cpu_seconds_total: Number | None = None
    cpu_seconds_idle: Number | None = None
    load_avg1: Number | None = None
    load_avg5: Number | None = None
    load_avg15: Number | None = None
    fs_total_bytes: Number | None = None
    fs_used_bytes: Number | None = None
    fs_free_bytes: Number | None = None
    disk_read_bytes: Number | None = None
    disk_written_bytes: Number | None = None
    net_rx_bytes: Number | None = None
    net_tx_bytes: Number | None = None

    def sample(self) -> dict[str, float]:
        """Return the metrics given, by their wire names (what services.samples folds in)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class AgentHeartbeat(AgentRequest):
    pipelines: Annotated[Annotated[list[AgentPipelineStatus], Field(max_length=PIPELINES_MAX)]
                         | None, null_as([])]  # required, but null means []
    host_metrics: AgentHostMetrics | None = None
    agent_version: Annotated[Version | None, AfterValidator(_empty_as_none)] = None
    vector_version: Annotated[Version | None, AfterValidator(_empty_as_none)] = None
    deployment_mode: DeploymentMode | None = None
    running_as: text(VERSION_MAX) | None = None
    labels: Labels | None = None
    sample_results: list[dict[str, Any]] | None = None
    update_error: Annotated[text(REASON_MAX) | None, AfterValidator(_empty_as_none)] = None
    agent_health: dict[str, Any] | None = None

    def problems(self) -> dict[str, str]:
        seen, problems = set(), {}
        for i, report in enumerate(self.pipelines):
            if report.pipeline_id in seen:
                problems[f"pipelines[{i}].pipelineId"] = "is reported twice"
            seen.add(report.pipeline_id)
        return problems


# -- responses ------------------------------------------------------------------------------


class AgentEnrollResponse(ResponseModel):
    model_config = ConfigDict(extra="allow")
    node_id: str
    node_token: str
    environment_id: str
    environment_name: str


class AgentCertFile(ResponseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    filename: str
    data: str = Field(description="The certificate, base64.")


class AgentPipeline(ResponseModel):
    """A deployed pipeline at its latest version, as the agent runs it."""

    model_config = ConfigDict(extra="allow")
    pipeline_id: str
    pipeline_name: str
    version: int
    config_yaml: str
    checksum: str = Field(description="Changes whenever the agent must restart the pipeline.")
    log_level: LogLevel = absent()
    secrets: dict[str, str] = absent(description="Environment variable name to value.")
    cert_files: list[AgentCertFile] = absent()


class AgentConfig(ResponseModel):
    model_config = ConfigDict(extra="allow")
    pipelines: list[AgentPipeline] = Field(description="[] when nothing should run "
                                                       "(maintenance included).")
    poll_interval_ms: int
    secret_backend: SecretBackend
    secret_backend_config: dict[str, Any] = absent(
        description="Present whenever the backend is not BUILTIN.")
    sample_requests: list[dict[str, Any]] = absent()
    pending_action: PendingAction = absent()
    push_url: str = absent(json_schema_extra={"format": "uri"})


class Ok(ResponseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool


OK = Ok(ok=True)
