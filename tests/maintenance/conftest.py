"""Helpers for the maintenance tests: what nodes report running, a node, API callers."""
from __future__ import annotations

import html
import re

import pytest

from tests.agent.conftest import count_queries, make_agent  # noqa: F401  (a stand-in vf-agent)
from tests.api.conftest import api, api_tokens  # noqa: F401  (fixtures: OpenAPI-checked API calls)
from tests.factories import make_node
from vectorflow.extensions import db
from vectorflow.models import NodePipelineStatus, ProcessStatus


def report(node, pipeline, status: ProcessStatus = ProcessStatus.RUNNING) -> NodePipelineStatus:
    """Record that ``node`` runs ``pipeline`` with ``status`` (as a heartbeat would)."""
    row = NodePipelineStatus(node_id=node.id, pipeline_id=pipeline.id, version=1, status=status)
    db.session.add(row)
    db.session.flush()
    return row


def open_dialog(client, page: str) -> str:
    """Return the first maintenance <dialog> of ``page`` as a browser shows it once opened:
    its body fetched from ``data-dialog-src`` (as static/js/ui.js does) and put in place."""
    dialog = page[page.index("<dialog"):page.index("</dialog>")]
    src = re.search(r'data-dialog-src="([^"]+)"', dialog)
    assert src, "the dialog has no body to load"
    response = client.get(html.unescape(src.group(1)), headers={"Accept": "text/html"})
    assert response.status_code == 200, response.status_code
    start = dialog.index(">", dialog.index("data-dialog-src")) + 1
    end = dialog.index("</div>", start)
    return dialog[:start] + response.get_data(as_text=True) + dialog[end:]


@pytest.fixture
def node(world):
    """A healthy node of the first team with no pipelines."""
    created, _token = make_node(world.env, "edge-1")
    db.session.commit()
    return created


@pytest.fixture
def nodes(world):
    """Three healthy nodes by name: web-1 and web-2 in rack r1, db-1 in rack r2."""
    made = {name: make_node(world.env, name, labels={"rack": rack})[0]
            for name, rack in (("web-1", "r1"), ("web-2", "r1"), ("db-1", "r2"))}
    db.session.commit()
    return made
