"""Telemetry endpoints of the newest agents: log lines, sample results, tap events.

Each answers 200 ``{"ok": true}`` once the body is valid, including when what it carries
is dropped (a pipeline outside the node's environment, a finished sample request, a stopped
tap): the agent treats any other status as a failure and would only log it.
"""
from __future__ import annotations

from flask import after_this_request

from ..schemas.agent import OK
from ..schemas.base import InvalidInput, parse_body, read_json, respond
from ..schemas.telemetry import AgentLogBatches, AgentSampleResults, AgentTapEvents
from ..services.telemetry import ingest_logs, record_sample_results, record_tap_events
from ..telemetry.hub import wake_tails
from . import bp
from .views import current_node, node_required


def _wake_after_commit():
    # after_request handlers run once the request's transaction has committed.
    @after_this_request
    def wake(response):
        if response.status_code == 200:
            wake_tails()
        return response


@bp.post("/logs")
@node_required
def logs():
    data = read_json(force=True, summary=False)
    if not isinstance(data, list):
        raise InvalidInput({"body": "must be a JSON array of log batches"}, summary=False)
    batches = parse_body(AgentLogBatches, {"batches": data})
    if ingest_logs(current_node(), batches.batches):
        _wake_after_commit()
    return respond(OK)


@bp.post("/samples")
@node_required
def samples():
    body = parse_body(AgentSampleResults, force=True)
    record_sample_results(current_node(), body.results)
    return respond(OK)


@bp.post("/tap-events")
@node_required
def tap_events():
    body = parse_body(AgentTapEvents, force=True)
    if record_tap_events(current_node(), body):
        _wake_after_commit()
    return respond(OK)
