"""Agent endpoints: enroll, config, heartbeat (see shared/agent-protocol.md).

JSON only, no cookies. Every route but enroll authenticates with the node's bearer token
through ``node_required``; the authenticated node is ``current_node()``.
"""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from ..errors import render_error
from ..models import VectorNode
from ..schemas.agent import OK, AgentEnrollRequest, AgentEnrollResponse, AgentHeartbeat
from ..schemas.base import parse_body, respond
from ..security import bearer_token
from ..services import ServiceError, heartbeats
from ..services.agent import (
    PollingNode,
    agent_config,
    authenticate_node,
    authenticate_polling_node,
    enroll_node,
)
from ..services.telemetry import pending_sample_requests
from . import bp


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
            return render_error(401)
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
    # What url_for("agent.push", _external=True) gives, without building it on every poll.
    return f"{request.scheme}://{request.host}{request.root_path}{bp.url_prefix}/push"


@bp.post("/enroll")
def enroll():
    node, token = enroll_node(parse_body(AgentEnrollRequest, force=True))
    return respond(AgentEnrollResponse(node_id=node.id, node_token=token,
                                       environment_id=node.environment.id,
                                       environment_name=node.environment.name))

@bp.get("/config")
@node_required(authenticate=authenticate_polling_node)
def config():
    body = agent_config(current_node())
    body.push_url = push_url()
    if current_node().samples_pending:  # read in the node's one statement
        samples = pending_sample_requests(current_node().environment.id)
        if samples:
            body.sample_requests = samples
    response = respond(body)
    # The body carries secret values: never keep it in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response

@bp.post("/heartbeat")
def heartbeat():
    # Written by this process's group commit (services.heartbeats), answered once committed.
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return render_error(401)
    try:
        body = parse_body(AgentHeartbeat, force=True)
    except (ServiceError, HTTPException):
        if authenticate_polling_node(token) is None:
            return render_error(401)  # an unknown token is told so before a bad body
        raise
    if not heartbeats.submit(token, body):
        return render_error(401)
    return respond(OK)
