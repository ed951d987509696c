"""``GET /api/agent/push``: an event stream per agent, so it polls at once after a change.

Driven by the same outbox events as the dashboards. Messages are ``data: <json>`` lines
as in contracts/agent/v1/fixtures/push-messages.json; keep-alives are ``:`` comments.
"""
from __future__ import annotations

import json

from ..extensions import db
from ..live import LiveEvent, Subscription, event_stream_response, get_broker
from . import bp
from .views import current_node, node_required

# Environment-wide events that change what every node of the environment runs.
CONFIG_REASONS = {
    "pipeline.deployed": "deploy",
    "pipeline.undeployed": "undeploy",
    "secret.rotated": "secret_rotated",
}
# node.maintenance_changed states the agent must act on (drained/resumed are reports from it).
MAINTENANCE_REASONS = {
    "entered": "maintenance_on",
    "left": "maintenance_off",
    "auto_exited": "maintenance_off",
}
SELF_UPDATE_FIELDS = ("targetVersion", "downloadUrl", "checksum")
# Telemetry requests (services/telemetry.py): event type -> (message type, payload keys).
TELEMETRY_MESSAGES = {
    "pipeline.sample_requested": ("sample_request",
                                  ("requestId", "pipelineId", "componentKeys", "limit")),
    "node.tap_started": ("tap_start", ("requestId", "pipelineId", "componentId")),
    "node.tap_stopped": ("tap_stop", ("requestId",)),
}


def push_message(ev: LiveEvent) -> dict | None:
    """Return the push message an agent concerned by ``ev`` gets, or None."""
    payload = ev.payload or {}
    if ev.type in CONFIG_REASONS:
        message = {"type": "config_changed", "reason": CONFIG_REASONS[ev.type]}
        if payload.get("pipelineId"):
            message["pipelineId"] = payload["pipelineId"]
        return message
    if ev.type in TELEMETRY_MESSAGES:
        kind, keys = TELEMETRY_MESSAGES[ev.type]
        return {"type": kind, **{key: payload.get(key) for key in keys}}
    if ev.type == "node.maintenance_changed" and payload.get("state") in MAINTENANCE_REASONS:
        return {"type": "config_changed", "reason": MAINTENANCE_REASONS[payload["state"]]}
    if ev.type == "node.updated" and isinstance(payload.get("pendingAction"), dict):
        action = payload["pendingAction"]
        if action.get("type") == "self_update" and all(action.get(k) for k in SELF_UPDATE_FIELDS):
            return {"type": "action", "action": "self_update",
                    **{k: action[k] for k in SELF_UPDATE_FIELDS}}
        return {"type": "config_changed", "reason": "pending_action"}
    return None


def _encoded(ev: LiveEvent) -> bytes | None:
    # Rendered once per process and shared by every agent stream the event concerns.
    if "agent" not in ev.memo:
        message = push_message(ev)
        ev.memo["agent"] = (f"data: {json.dumps(message, separators=(',', ':'))}\n\n".encode()
                            if message else None)
    return ev.memo["agent"]


def node_subscription(node_id: str, environment_id: str) -> Subscription:
    """Return the push subscription of one node: its own events and its environment's."""

    def render(ev: LiveEvent) -> bytes | None:
        concerns = ev.node_id == node_id if ev.node_id else ev.environment_id == environment_id
        return _encoded(ev) if concerns else None

    return Subscription(
        render=render,
        resync=lambda reason, position: b'data: {"type":"config_changed","reason":"resync"}\n\n',
        # The token no longer works: end the stream; the reconnect gets 401.
        ends=lambda ev: ev.node_id == node_id and (
            ev.type == "node.deleted" or bool((ev.payload or {}).get("tokenRevoked"))),
        browser=False,
    )


@bp.get("/push")
@node_required
def push():
    """Stream config-change hints to one authenticated agent."""
    node = current_node()
    stream = get_broker().open(node_subscription(node.id, node.environment_id), None)
    db.session.close()  # nothing below touches the database while the stream is open
    return event_stream_response(stream)
