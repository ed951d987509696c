"""Validation of agent request bodies: strict about types and sizes, silent about unknown keys.

Newer agents send keys this server does not know; those are ignored, never an error.
A known key with the wrong type or an out-of-range value rejects the whole body, with
every problem listed in ``details`` as ``{"path": "message"}``.

The agent is written in Go, whose JSON encoder writes a nil slice or map as ``null``;
an optional key whose value is ``null`` is therefore treated as absent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..models import DeploymentMode, ProcessStatus
from ..services import ServiceError

MAX_INT64 = 2**63 - 1
MAX_INT32 = 2**31 - 1
MAX_LABELS = 100
MAX_LABEL_KEY = 253
MAX_LABEL_VALUE = 1024
MAX_PIPELINES = 1000
MAX_TOKEN = 512
# Logs are stored as a short tail; longer lists are accepted and cut when stored.
KEEP_LOG_LINES = 50
KEEP_LOG_LINE_CHARS = 1000

HOST_METRIC_KEYS = (
    "memoryTotalBytes", "memoryUsedBytes", "memoryFreeBytes", "cpuSecondsTotal", "cpuSecondsIdle",
    "loadAvg1", "loadAvg5", "loadAvg15", "fsTotalBytes", "fsUsedBytes", "fsFreeBytes",
    "diskReadBytes", "diskWrittenBytes", "netRxBytes", "netTxBytes",
)
COUNTER_KEYS = {
    "eventsIn": "events_in",
    "eventsOut": "events_out",
    "errorsTotal": "errors_total",
    "bytesIn": "bytes_in",
    "bytesOut": "bytes_out",
    "eventsDiscarded": "events_discarded",
}


class Invalid(ServiceError):
    """A body that failed validation; ``details`` maps each bad path to what is wrong."""

    def __init__(self, details: dict[str, str]):
        super().__init__("Invalid input", details)


class _Checker:
    """Collects problems while reading known keys out of a JSON object."""

    def __init__(self):
        self.errors: dict[str, str] = {}

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    def obj(self, value: Any, path: str, *, required: bool = False) -> dict | None:
        if value is None:
            if required:
                self.fail(path, "is required")
            return None
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return None
        return value

    def string(self, value: Any, path: str, *, required: bool = False, min_len: int = 0,
               max_len: int | None = None, choices: tuple[str, ...] | None = None) -> str | None:
        if value is None:
            if required:
                self.fail(path, "is required")
            return None
        if not isinstance(value, str):
            self.fail(path, "must be a string")
            return None
        if len(value) < min_len:
            self.fail(path, "is required" if min_len == 1
                      else f"must be at least {min_len} characters")
            return None
        if max_len is not None and len(value) > max_len:
            self.fail(path, f"must be at most {max_len} characters")
            return None
        if choices is not None and value not in choices:
            self.fail(path, f"must be one of {', '.join(choices)}")
            return None
        return value

    def number(self, value: Any, path: str, *, required: bool = False, integer: bool = False,
               minimum: float | None = None, maximum: float | None = None) -> float | int | None:
        if value is None:
            if required:
                self.fail(path, "is required")
            return None
        # bool is an int in Python but never a number in JSON.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, "must be a number")
            return None
        if isinstance(value, float):
            if not math.isfinite(value):
                self.fail(path, "must be a finite number")
                return None
            if integer:
                if not value.is_integer():
                    self.fail(path, "must be an integer")
                    return None
                value = int(value)
        if minimum is not None and value < minimum:
            self.fail(path, f"must be at least {minimum}")
            return None
        if maximum is not None and value > maximum:
            self.fail(path, f"must be at most {maximum}")
            return None
        return value

    def counter(self, value: Any, path: str) -> int | None:
        """A cumulative counter: any non-negative JSON number, stored as an integer."""
        number = self.number(value, path, minimum=0, maximum=MAX_INT64)
        return None if number is None else int(number)

    def items(self, value: Any, path: str, *, max_items: int | None = None) -> list | None:
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return None
        if max_items is not None and len(value) > max_items:
            self.fail(path, f"must have at most {max_items} entries")
            return None
        return value

    def labels(self, value: Any, path: str) -> dict[str, str] | None:
        labels = self.obj(value, path)
        if labels is None:
            return None
        if len(labels) > MAX_LABELS:
            self.fail(path, f"must have at most {MAX_LABELS} entries")
            return None
        for key, item in labels.items():
            if not 1 <= len(key) <= MAX_LABEL_KEY:
                self.fail(f"{path}.{key}", f"label names must be 1-{MAX_LABEL_KEY} characters")
            self.string(item, f"{path}.{key}", required=True, max_len=MAX_LABEL_VALUE)
        return dict(labels)

    def done(self) -> None:
        if self.errors:
            raise Invalid(self.errors)


def _root(body: Any) -> tuple[_Checker, dict]:
    check = _Checker()
    if not isinstance(body, dict):
        raise Invalid({"body": "must be a JSON object"})
    return check, body


@dataclass(frozen=True)
class EnrollRequest:
    token: str
    hostname: str
    os: str | None = None
    agent_version: str | None = None
    vector_version: str | None = None
    labels: dict[str, str] | None = None


def parse_enroll(body: Any) -> EnrollRequest:
    """Validate an enrollment body; raise Invalid listing every problem."""
    check, body = _root(body)
    request = EnrollRequest(
        token=check.string(body.get("token"), "token", required=True, min_len=1, max_len=MAX_TOKEN),
        hostname=check.string(body.get("hostname"), "hostname", required=True, min_len=1,
                              max_len=253),
        os=check.string(body.get("os"), "os", max_len=100),
        agent_version=check.string(body.get("agentVersion"), "agentVersion", max_len=100),
        vector_version=check.string(body.get("vectorVersion"), "vectorVersion", max_len=100),
        labels=check.labels(body.get("labels"), "labels"),
    )
    check.done()
    return request


@dataclass(frozen=True)
class PipelineReport:
    pipeline_id: str
    version: int
    status: ProcessStatus
    pid: int | None = None
    uptime_seconds: int | None = None
    counters: dict[str, int] = field(default_factory=dict)  # model column -> value
    utilization: float | None = None
    recent_logs: list[str] | None = None
    config_checksum: str | None = None


@dataclass(frozen=True)
class HeartbeatRequest:
    pipelines: list[PipelineReport]
    host_metrics: dict[str, float] | None = None
    agent_version: str | None = None
    vector_version: str | None = None
    deployment_mode: DeploymentMode | None = None
    running_as: str | None = None
    labels: dict[str, str] | None = None
    update_error: str | None = None


def _pipeline_report(check: _Checker, raw: Any, path: str) -> PipelineReport | None:
    item = check.obj(raw, path, required=True)
    if item is None:
        return None
    pipeline_id = check.string(item.get("pipelineId"), f"{path}.pipelineId", required=True,
                               min_len=1, max_len=100)
    version = check.number(item.get("version"), f"{path}.version", required=True, integer=True,
                           minimum=0, maximum=MAX_INT32)
    status = check.string(item.get("status"), f"{path}.status", required=True,
                          choices=tuple(s.value for s in ProcessStatus))
    pid = check.number(item.get("pid"), f"{path}.pid", integer=True, minimum=0, maximum=MAX_INT32)
    uptime = check.counter(item.get("uptimeSeconds"), f"{path}.uptimeSeconds")
    counters = {}
    for key, column in COUNTER_KEYS.items():
        value = check.counter(item.get(key), f"{path}.{key}")
        if value is not None:
            counters[column] = value
    utilization = check.number(item.get("utilization"), f"{path}.utilization", minimum=0)
    logs = check.items(item.get("recentLogs"), f"{path}.recentLogs")
    for i, line in enumerate(logs or ()):
        check.string(line, f"{path}.recentLogs[{i}]", required=True)
    metrics = check.items(item.get("componentMetrics"), f"{path}.componentMetrics")
    for i, metric in enumerate(metrics or ()):
        check.obj(metric, f"{path}.componentMetrics[{i}]", required=True)
    checksum = check.string(item.get("configChecksum"), f"{path}.configChecksum", max_len=128)
    if pipeline_id is None or version is None or status is None:
        return None
    return PipelineReport(
        pipeline_id=pipeline_id,
        version=version,
        status=ProcessStatus(status),
        pid=pid,
        uptime_seconds=uptime,
        counters=counters,
        utilization=None if utilization is None else float(utilization),
        recent_logs=None if logs is None else [
            line[:KEEP_LOG_LINE_CHARS] for line in logs[-KEEP_LOG_LINES:] if isinstance(line, str)
        ],
        config_checksum=checksum,
    )


def parse_heartbeat(body: Any) -> HeartbeatRequest:
    """Validate a heartbeat body; raise Invalid listing every problem."""
    check, body = _root(body)
    if "pipelines" not in body:
        check.fail("pipelines", "is required")
    reports = []
    seen = set()
    for i, raw in enumerate(check.items(body.get("pipelines"), "pipelines",
                                        max_items=MAX_PIPELINES) or ()):
        report = _pipeline_report(check, raw, f"pipelines[{i}]")
        if report is None:
            continue
        if report.pipeline_id in seen:
            check.fail(f"pipelines[{i}].pipelineId", "is reported twice")
        seen.add(report.pipeline_id)
        reports.append(report)

    host_metrics = None
    raw_metrics = check.obj(body.get("hostMetrics"), "hostMetrics")
    if raw_metrics is not None:
        host_metrics = {}
        for key in HOST_METRIC_KEYS:
            value = check.number(raw_metrics.get(key), f"hostMetrics.{key}")
            if value is not None:
                host_metrics[key] = value

    for i, result in enumerate(check.items(body.get("sampleResults"), "sampleResults") or ()):
        check.obj(result, f"sampleResults[{i}]", required=True)
    check.obj(body.get("agentHealth"), "agentHealth")

    mode = check.string(body.get("deploymentMode"), "deploymentMode",
                        choices=tuple(m.value for m in DeploymentMode))
    request = HeartbeatRequest(
        pipelines=reports,
        host_metrics=host_metrics,
        agent_version=check.string(body.get("agentVersion"), "agentVersion", max_len=100) or None,
        vector_version=(check.string(body.get("vectorVersion"), "vectorVersion", max_len=100)
                        or None),
        deployment_mode=DeploymentMode(mode) if mode else None,
        running_as=check.string(body.get("runningAs"), "runningAs", max_len=100),
        labels=check.labels(body.get("labels"), "labels"),
        update_error=check.string(body.get("updateError"), "updateError", max_len=500) or None,
    )
    check.done()
    return request
