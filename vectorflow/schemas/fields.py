"""Limits and constrained types: the one place each limit of what enters is written.

The request models (schemas/api.py, schemas/agent.py) are made of these types; forms and
services read the same constants, and the database columns in models/ are sized to hold
what they let through. Every string that enters is clean text: no NUL character
(PostgreSQL text cannot hold one) and no lone surrogate (it cannot be encoded to UTF-8,
so a page showing it would fail).
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from ..models import Role
from ..text import NUL_PROBLEM, SURROGATE_PROBLEM, text_problem  # noqa: F401  (re-exported)

# -- limits ------------------------------------------------------------------------------

NAME_MAX = 100  # teams, environments, pipelines, secrets, API tokens
NODE_NAME_MAX = 253  # node names and agent hostnames (a DNS name)
ID_MAX = 40  # an id given in a body or query string (ours are 20 hex digits)
ID_PATTERN = r"[0-9a-f]{1,40}"  # an id in a URL path (models.base.new_id() gives 20 hex digits)
SERIAL_PATTERN = r"[0-9]{1,19}"  # a numbered id (alerts) in a URL path; at most INT64_MAX
VERSION_MAX = 100  # agent and Vector versions, os, runningAs
URL_MAX = 2000
CHECKSUM_MAX = 71  # "sha256:" and 64 hex digits
STATUS_CHECKSUM_MAX = 128  # the config checksum an agent reports
REASON_MAX = 500  # maintenance reasons, agent update errors
DESCRIPTION_MAX = 2000
CONFIG_MAX = 256 * 1024  # a pipeline's YAML
CONFIG_DEPTH_MAX = 32  # YAML mappings and lists inside each other
# What deployed pipelines add to each config poll of their environment's agents: the YAML as
# delivered with the secrets and certificates it references (JSON bytes).
RENDERED_PIPELINE_MAX = 512 * 1024
RENDERED_ENVIRONMENT_MAX = 2 * 1024 * 1024
SECRET_VALUE_MAX = 64 * 1024
TOKEN_MAX = 512  # any bearer or enrollment token
ACTION_MAX = 80  # an audit action name
LABEL_SELECTOR_MAX = 300
LABELS_MAX = 100
LABEL_KEY_MAX = 253
LABEL_VALUE_MAX = 1024
PIPELINE_ID_MAX = 100  # as an agent reports it
PIPELINES_MAX = 1000  # statuses in one heartbeat
BULK_MAX = 1000  # node ids in one bulk call
LOG_LINES_KEPT = 50  # an agent's recent logs are stored as a short tail
LOG_LINE_KEPT = 1000
CURSOR_MAX = 1000  # a signed sort key: a 100-character name in UTF-8, base64
PAGE_DEFAULT = 100
PAGE_MAX = 500
JSON_DEPTH_MAX = 32  # arrays and objects inside each other in any JSON body (wrappers.py)
BUDGET_MIN_AVAILABLE_MAX = 100_000  # a disruption budget's minAvailable
# Maintenance windows
TIMEZONE_MAX = 64  # an IANA time zone name
RRULE_MAX = 500
WINDOW_DURATION_MAX = 31 * 24 * 60  # minutes
WINDOW_NODES_MAX = 1000  # nodeIds of one window
WINDOW_LABELS_MAX = 20  # labels of one window's selector
PREVIEW_DEFAULT = 5  # occurrences a preview lists
PREVIEW_MAX = 50
# Alerts and notification channels
THRESHOLD_MAX = 7 * 24 * 60  # an alert rule's threshold, in minutes (a week)
EMAIL_TO_MAX = 1000  # an email channel's recipients, as typed
RECIPIENTS_MAX = 20
WEBHOOK_SECRET_MIN, WEBHOOK_SECRET_MAX = 16, 200

INT32_MAX = 2**31 - 1  # INTEGER columns
INT64_MAX = 2**63 - 1  # BIGINT columns; also the bound of every stored JSON number
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)
EXAMPLE_TIME = "2026-05-03T15:00:00Z"


# -- clean text --------------------------------------------------------------------------


def ensure_text(value: str | None, field: str, what: str) -> None:
    """Refuse (a ServiceError, 400) a value a service was given that is not clean text, for
    callers that bypass the models (forms, the CLI)."""
    from ..services import ServiceError

    problem = value and text_problem(value)
    if problem:
        raise ServiceError(f"{what} {problem}", {field: problem})


def _clean(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise PydanticCustomError("text", problem)
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value


class _SaysSomething:
    """Document what ``_not_blank`` checks: at least one character that is not a space."""

    def __get_pydantic_json_schema__(self, core_schema, handler):
        return {**handler(core_schema), "pattern": r"\S"}


def text(max_length: int, *, strip: bool = False, required: bool = False) -> Any:
    """A string of clean text of at most ``max_length`` characters as sent.

    ``strip`` trims it (names); ``required`` refuses an empty or blank one.
    """
    checks = [AfterValidator(_clean)]
    if strip:
        checks.append(AfterValidator(str.strip))
    if required:
        checks += [AfterValidator(_not_blank), _SaysSomething()]
    return Annotated[str, StringConstraints(max_length=max_length,
                                            min_length=1 if required else None), *checks]


_UNCLEAN = re.compile("[\x00\ud800-\udfff]")


def sanitized(value: Any) -> Any:
    """Replace NUL characters and lone surrogates by U+FFFD (for text kept only to be shown)."""
    if isinstance(value, str) and text_problem(value):
        return _UNCLEAN.sub("\ufffd", value)
    return value


Name = text(NAME_MAX, strip=True, required=True)
NodeName = text(NODE_NAME_MAX, strip=True, required=True)
Id = text(ID_MAX, strip=True, required=True)
Version = text(VERSION_MAX)
Reason = text(REASON_MAX)
Description = text(DESCRIPTION_MAX)
ConfigYaml = text(CONFIG_MAX, required=True)
SecretValue = text(SECRET_VALUE_MAX, required=True)
Token = text(TOKEN_MAX, required=True)
Cursor = text(CURSOR_MAX)
LabelKey = text(LABEL_KEY_MAX, required=True)
LabelValue = text(LABEL_VALUE_MAX)
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=LABELS_MAX)]
Url = text(URL_MAX, strip=True)
TimeZone = text(TIMEZONE_MAX, strip=True, required=True)
Rrule = text(RRULE_MAX)
EmailTo = text(EMAIL_TO_MAX)
WebhookSecret = text(WEBHOOK_SECRET_MAX)


def json_problem(value: Any, path: str = "") -> str | None:
    """Return where and why a free-form JSON value holds unclean text (keys included) or a
    number a JSON column cannot hold (NaN, infinities, beyond the BIGINT range)."""
    problem = None
    if isinstance(value, str):
        problem = text_problem(value)
    elif (isinstance(value, (int, float)) and not isinstance(value, bool)
          and not -INT64_MAX <= value <= INT64_MAX):  # NaN compares false too
        problem = f"must be a finite number of at most {INT64_MAX} in size"
    if problem:
        return f"{path}: {problem}" if path else problem
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}".lstrip(".")
        problem = (isinstance(key, str) and text_problem(key) and f"{where}: key "
                   f"{text_problem(key)}") or json_problem(item, where)
        if problem:
            return problem
    return None


def _clean_json(value: Any) -> Any:
    problem = json_problem(value)
    if problem:
        raise PydanticCustomError("text", problem)
    return value


# A free-form JSON object that is stored: its keys and strings must be clean text too.
JsonObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]


# -- numbers -----------------------------------------------------------------------------


def _number(minimum: int, maximum: int, *, integer: bool = False, truncate: bool = False):
    """A JSON number within [minimum, maximum]; ``integer`` also takes 7.0 for 7, and
    ``truncate`` any finite number (cut to an integer)."""

    def check(value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PydanticCustomError("number", "must be an integer" if integer and not truncate
                                      else "must be a number")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise PydanticCustomError("number", "must be a finite number")
            if integer:
                if not (truncate or value.is_integer()):
                    raise PydanticCustomError("number", "must be an integer")
                if minimum <= value <= maximum:
                    value = int(value)
        if value < minimum:
            raise PydanticCustomError("number", "must be at least {minimum}", {"minimum": minimum})
        if value > maximum:
            raise PydanticCustomError("number", "must be at most {maximum}", {"maximum": maximum})
        return value

    kind = "integer" if integer and not truncate else "number"
    return Annotated[int if integer else float, PlainValidator(check),
                     WithJsonSchema({"type": kind, "minimum": minimum, "maximum": maximum})]


Int32 = _number(0, INT32_MAX, integer=True)  # versions, pids (INTEGER columns)
Counter = _number(0, INT64_MAX, integer=True, truncate=True)  # cumulative counters (BIGINT)
Number = _number(-INT64_MAX, INT64_MAX)  # host metrics (into the chart samples, shown on pages)
Ratio = _number(0, INT64_MAX)  # utilization (FLOAT)
BudgetNodes = _number(0, BUDGET_MIN_AVAILABLE_MAX, integer=True)
Percent = _number(0, 100, integer=True)
DurationMinutes = _number(1, WINDOW_DURATION_MAX, integer=True)
ThresholdMinutes = _number(0, THRESHOLD_MAX, integer=True)
PRUNE_DAYS_MAX = 3650
PruneDays = _number(1, PRUNE_DAYS_MAX, integer=True)


# -- timestamps --------------------------------------------------------------------------


def parse_timestamp(value: str | datetime) -> datetime:
    """Return an ISO 8601 timestamp with a zone as aware UTC between the years 2000 and 9000;
    raise ValueError saying what is wrong with it."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"must be an ISO 8601 timestamp, e.g. {EXAMPLE_TIME}") from None
    if not isinstance(value, datetime):
        raise ValueError("must be an ISO 8601 timestamp string")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"must include a time zone, e.g. {EXAMPLE_TIME}")
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError:
        value = None
    if value is None or not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between the years {EARLIEST.year} and {LATEST.year}")
    return value


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp", "must be an ISO 8601 timestamp string")
    try:
        return parse_timestamp(value)
    except ValueError as err:
        raise PydanticCustomError("timestamp", str(err)) from None


Timestamp = Annotated[datetime, PlainValidator(_timestamp),
                      WithJsonSchema({"type": "string", "format": "date-time"})]


# -- roles -------------------------------------------------------------------------------


def _role(value: Any) -> Role:
    if isinstance(value, Role):
        return value
    if isinstance(value, str) and value in Role.__members__:
        return Role[value]
    raise PydanticCustomError("enum", "must be one of {expected}",
                              {"expected": ", ".join(Role.__members__)})


# A team role, named on the wire (VIEWER, EDITOR, ADMIN).
RoleName = Annotated[Role, PlainValidator(_role),
                     PlainSerializer(lambda role: role.name, return_type=str),
                     WithJsonSchema({"type": "string", "enum": list(Role.__members__)})]


def null_as(default: Any) -> BeforeValidator:
    """Read ``null`` as ``default`` (Go agents send null for empty lists and maps)."""
    return BeforeValidator(lambda value: default if value is None else value)
