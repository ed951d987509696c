"""Fixtures for the agent API tests: contract payloads, enrolled agents, query counting."""
from __future__ import annotations

import threading

import copy
import json
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.services.environments import issue_enrollment_token

from .. import factories

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """Find the shared folder: $VF_SHARED_DIR, else beside the checkout (or its worktree root)."""
    candidates = [Path(os.environ["VF_SHARED_DIR"])] if os.environ.get("VF_SHARED_DIR") else []
    candidates += [REPO.parent / "shared", REPO.parent.parent / "shared"]
    for candidate in candidates:
        if (candidate / "contracts" / "agent" / "v1" / "fixtures").is_dir():
            return candidate
    pytest.fail("shared/contracts/agent/v1/fixtures not found; set VF_SHARED_DIR to the shared folder")


FIXTURES = shared_dir() / "contracts" / "agent" / "v1" / "fixtures"


def load_fixture(name: str):
    """Return a contract fixture, parsed (a fresh copy each time)."""
    return copy.deepcopy(json.loads((FIXTURES / name).read_text()))


class Agent:
    """A test stand-in for vf-agent: an enrolled node and its bearer token."""

    def __init__(self, client, node, token):
        self.client = client
        self.node = node
        self.token = token

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def config(self):
        return self.client.get("/api/agent/config", headers=self.headers)

    def heartbeat(self, body):
        return self.client.post("/api/agent/heartbeat", json=body, headers=self.headers)


@pytest.fixture
def enrollment_token(world):
    token = issue_enrollment_token(world.env)
    db.session.commit()
    return token


@pytest.fixture
def make_agent(client, world):
    """Create an enrolled node (in the world's environment unless given) and its agent."""

    def make(name: str = "node-1", env=None, **kwargs) -> Agent:
        node, token = factories.make_node(env or world.env, name, **kwargs)
        db.session.commit()
        return Agent(client, node, token)

    return make


@pytest.fixture
def agent(make_agent):
    return make_agent()


@pytest.fixture
def host_card(client, login_as):
    """Return the text of a node page's host card, as a viewer sees it."""

    def card(node_id: str) -> str:
        login_as("VIEWER")
        page = client.get(f"/nodes/{node_id}").get_data(as_text=True)
        text = page[page.index('id="node-metrics"'):]
        return " ".join(text[:text.index("</section>")].split())

    return card


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __len__(self) -> int:
        return len(self.statements)

    @property
    def writes(self) -> list[str]:
        return [s for s in self.statements
                if s.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}]


@contextmanager
def count_queries():
    """Count the SQL statements this thread runs inside the block (not the live feed's)."""
    counter = QueryCounter()
    thread = threading.get_ident()

    def before(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == thread:
            counter.statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)
