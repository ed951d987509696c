"""The models of agent telemetry (logs, samples, taps) on the wire and in /api/v1.

Agent bodies follow the rules of schemas/agent.py: unknown keys ignored, ``null`` read as an
empty list where Go sends one, identifiers refused (400) when they are not clean text. Text
kept only to be shown (log lines) is cut and cleaned instead of refused: one odd byte in
Vector's output must not lose a whole batch. Free-form JSON (events, samples) must be clean
JSON (``JsonObject``); the 1 MB body limit bounds the rest.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from .agent import AgentRequest
from .base import RequestModel, ResponseModel, absent
from .fields import (
    ID_MAX,
    PIPELINE_ID_MAX,
    REASON_MAX,
    Cursor,
    Id,
    JsonObject,
    Timestamp,
    json_problem,
    null_as,
    sanitized,
    text,
)

# -- limits (see README "Agent telemetry") ---------------------------------------------------

LOG_BATCHES_MAX = 100  # pipelines in one POST /api/agent/logs
LOG_BATCH_LINES_MAX = 2000  # lines of one pipeline in one post (2 s of a chatty Vector)
LOG_LINE_MAX = 4000  # characters kept of a line; the rest is cut
COMPONENT_KEY_MAX = 100
COMPONENT_KEYS_MAX = 20
SAMPLE_LIMIT_DEFAULT = 25
SAMPLE_LIMIT_MAX = 100  # events of one component in one sample
SAMPLE_RESULTS_MAX = 50  # results (components) in one POST /api/agent/samples
SAMPLE_FIELDS_MAX = 500  # inferred fields of one result
FIELD_PATH_MAX = 500
FIELD_TYPE_MAX = 50
TAP_BATCH_MAX = 500  # events in one POST /api/agent/tap-events
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
Level = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]


def _log_lines(lines: list[Any]) -> list[str]:
    return [sanitized(line)[:LOG_LINE_MAX] for line in lines]


def _any_text(value: Any) -> Any:
    # A line is kept to be shown: lone surrogates and NUL are replaced, not refused.
    if isinstance(value, str):
        return sanitized(value)
    return value


LogLineText = Annotated[str, BeforeValidator(_any_text)]


class AgentLogBatch(AgentRequest):
    """Lines of one pipeline's Vector process, oldest first."""

    pipeline_id: text(PIPELINE_ID_MAX, required=True)
    lines: Annotated[Annotated[list[LogLineText], Field(max_length=LOG_BATCH_LINES_MAX),
                               AfterValidator(_log_lines)] | None, null_as([])] = Field(
        default_factory=list,
        description=f"Each line is kept cut to {LOG_LINE_MAX} characters, NUL and lone "
                    "surrogates replaced by U+FFFD.")


class AgentLogBatches(AgentRequest):
    """The body of POST /api/agent/logs is a JSON array of batches; read as ``batches``."""

    batches: Annotated[list[AgentLogBatch], Field(max_length=LOG_BATCHES_MAX)]


def _clean_value(value: Any) -> Any:
    problem = json_problem(value)
    if problem:
        raise PydanticCustomError("text", problem)
    return value


class AgentSampleField(AgentRequest):
    """One field the agent inferred from the sampled events."""

    path: text(FIELD_PATH_MAX, required=True)
    type: text(FIELD_TYPE_MAX)
    sample: Annotated[Any, AfterValidator(_clean_value)] = None


class AgentSampleResult(AgentRequest):
    request_id: text(ID_MAX, required=True)
    component_key: text(COMPONENT_KEY_MAX, required=True)
    events: Annotated[Annotated[list[JsonObject], Field(max_length=SAMPLE_LIMIT_MAX)] | None,
                      null_as([])] = Field(default_factory=list)
    schema_: Annotated[Annotated[list[AgentSampleField], Field(max_length=SAMPLE_FIELDS_MAX)]
                       | None, null_as([])] = Field(default_factory=list, alias="schema")
    error: text(REASON_MAX) | None = None


class AgentSampleResults(AgentRequest):
    results: Annotated[Annotated[list[AgentSampleResult], Field(max_length=SAMPLE_RESULTS_MAX)]
                       | None, null_as([])]


class AgentTapEvents(AgentRequest):
    """A batch of a tap's events, or (``status`` "stopped") the agent's word that it ended."""

    request_id: text(ID_MAX, required=True)
    pipeline_id: text(PIPELINE_ID_MAX) | None = None
    component_id: text(COMPONENT_KEY_MAX) | None = None
    events: Annotated[Annotated[list[JsonObject], Field(max_length=TAP_BATCH_MAX)] | None,
                      null_as([])] = Field(default_factory=list)
    status: Literal["stopped"] | None = None
    reason: text(REASON_MAX) | None = None


# -- browser and /api/v1 -------------------------------------------------------------------


class LogsQuery(RequestModel):
    """Filters of a node's log lines: GET /api/v1/nodes/<id>/logs."""

    pipeline_id: Id | None = Field(None, description="Only this pipeline's lines.")
    level: Level | None = Field(None, description="This level and the more severe ones "
                                                  "(WARN: WARN and ERROR).")
    since: Timestamp | None = Field(None, description="Lines received at or after this time.")
    q: text(200) | None = Field(None, description="Lines containing this text.")
    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 200

    def problems(self) -> dict[str, str]:
        if self.cursor is not None and not (self.cursor.isdigit() and len(self.cursor) <= 19):
            return {"cursor": "must be a nextCursor this endpoint returned"}
        return {}


class LogStreamQuery(RequestModel):
    """Filters of a node's live tail: GET /api/v1/nodes/<id>/logs/stream."""

    pipeline_id: Id | None = Field(None, description="Only this pipeline's lines.")
    level: Level | None = Field(None, description="This level and the more severe ones.")
    q: text(200) | None = Field(None, description="Lines containing this text.")
    after: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = Field(
        None, description="Start after this line id (an `id` seen before); default: now. "
                          "The Last-Event-ID header wins.")


class LogLineOut(ResponseModel):
    """One of Vector's log lines, oldest first; ``id`` grows with every line stored."""

    id: int
    node_id: str
    pipeline_id: str
    time: datetime = Field(validation_alias="logged_at",
                           description="The time the line starts with (else when received).")
    level: str | None = Field(description="TRACE, DEBUG, INFO, WARN, ERROR, or null when the "
                                          "line names none.")
    message: str
    received_at: datetime


class StartTap(RequestModel):
    node_id: Id
    component_id: text(COMPONENT_KEY_MAX, strip=True, required=True)


class RequestSample(RequestModel):
    component_key: text(COMPONENT_KEY_MAX, strip=True, required=True)
    limit: Annotated[int, Field(ge=1, le=SAMPLE_LIMIT_MAX)] = SAMPLE_LIMIT_DEFAULT


class SampleRequestOut(ResponseModel):
    id: str
    pipeline_id: str
    component_keys: list[str]
    limit: int
    status: str
    results: list[dict[str, Any]] = absent()
