"""Agent endpoints: enroll, config, heartbeat (see shared/agent-protocol.md).

JSON only, no cookies. Every route but enroll authenticates with the node's bearer token
through ``node_required``; the authenticated node is ``current_node()``.
"""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, jsonify, request, url_for

from ..models import VectorNode
from ..security import bearer_token
from ..services.agent import (
    PollingNode,
    agent_config,
    authenticate_node,
    authenticate_node_for_update,
    authenticate_polling_node,
    enroll_node,
    record_heartbeat,
)
from . import bp
from .schemas import parse_enroll, parse_heartbeat


def node_required(view=None, *, authenticate=authenticate_node):
    """Authenticate the agent by its node token; 401 ``{"error": "Unauthorized"}`` otherwise.

    ``authenticate`` maps the token to what the view needs (the ORM node by default).
    """
    if view is None:
        return lambda view: node_required(view, authenticate=authenticate)

    @wraps(view)
    def wrapped(*args, **kwargs):
        node = authenticate(bearer_token(request.headers.get("Authorization")))
        if node is None:
            response = jsonify({"error": "Unauthorized"})
            response.headers["WWW-Authenticate"] = "Bearer"
            return response, 401
        g.agent_node = node
        return view(*args, **kwargs)

    return wrapped


def current_node() -> VectorNode | PollingNode:
    """Return the node authenticated for this request by ``node_required`` (a VectorNode
    unless the view asked for another ``authenticate``)."""
    return g.agent_node


def push_url() -> str:
    """Return the absolute URL of the push stream, advertised as the config's ``pushUrl``."""
    base = current_app.config.get("VECTORFLOW_PUBLIC_URL")
    if base:
        return base + "/api/agent/push"
    return request.host_url.rstrip("/") + url_for("agent.push")


def _json_body():
    # The agent always sends JSON; don't insist on the Content-Type header to read it.
    return request.get_json(force=True, silent=True)


@bp.post("/enroll")
def enroll():
    node, token = enroll_node(parse_enroll(_json_body()))
    return jsonify({
        "nodeId": node.id,
        "nodeToken": token,
        "environmentId": node.environment.id,
        "environmentName": node.environment.name,
    }), 200


@bp.get("/config")
@node_required(authenticate=authenticate_polling_node)
def config():
    body = agent_config(current_node())
    body["pushUrl"] = push_url()
    response = jsonify(body)
    # The body carries secret values: never keep it in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/heartbeat")
@node_required(authenticate=authenticate_node_for_update)
def heartbeat():
    record_heartbeat(current_node(), parse_heartbeat(_json_body()))
    return jsonify({"ok": True})
