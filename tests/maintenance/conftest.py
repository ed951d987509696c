"""Helpers for the maintenance tests: what nodes report running, API tokens, a node."""
from __future__ import annotations

import pytest

from tests.factories import make_node
from vectorflow.extensions import db
from vectorflow.models import ApiToken, NodePipelineStatus, ProcessStatus, User
from vectorflow.security import API_PREFIX, generate_token, token_digest, token_hint


def report(node, pipeline, status: ProcessStatus = ProcessStatus.RUNNING) -> NodePipelineStatus:
    """Record that ``node`` runs ``pipeline`` with ``status`` (as a heartbeat would)."""
    row = NodePipelineStatus(node_id=node.id, pipeline_id=pipeline.id, version=1, status=status)
    db.session.add(row)
    db.session.flush()
    return row


def api_token(user: User) -> str:
    """Return a personal API token that acts as ``user``."""
    raw = generate_token(API_PREFIX)
    db.session.add(ApiToken(name=f"{user.email} script", token_digest=token_digest(raw),
                            token_hint=token_hint(raw), user_id=user.id))
    db.session.commit()
    return raw


@pytest.fixture
def node(world):
    """A healthy node of the first team with no pipelines."""
    created, _token = make_node(world.env, "edge-1")
    db.session.commit()
    return created
