"""kill -9 of the server under heartbeat load: every heartbeat and every maintenance toggle it
acknowledged is in the database.

Heartbeats are written by group commit (services.heartbeats): a request is answered only
after its batch committed, so a crash at any moment may lose unanswered heartbeats, never an
answered one. Each agent sends heartbeats one after another, each carrying a growing
sequence number as its agent version; after the crash a node's stored version must be at
least the last one its agent saw acknowledged. Meanwhile an admin toggles another node's
maintenance on and off through the REST API: each acknowledged toggle has its audit row.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import AuditLog, VectorNode

from .. import factories
from ..events.servers import Gunicorn
from .races import WAIT, http_client

AGENTS = 24
ACKNOWLEDGED_BEFORE_THE_CRASH = 300
pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


class HeartbeatLoop(threading.Thread):
    """One agent sending heartbeats back to back until the server stops answering."""

    def __init__(self, base_url: str, node_id: str, token: str):
        super().__init__(daemon=True)
        self.node_id, self.token, self.base_url = node_id, token, base_url
        self.acknowledged = 0  # the highest sequence number answered 2xx
        self.refused: list[int] = []

    def run(self) -> None:
        with http_client(self.base_url, Authorization=f"Bearer {self.token}") as http:
            for sequence in range(1, 100_000):
                try:
                    response = http.post("/api/agent/heartbeat",
                                         json={"pipelines": [], "agentVersion": f"1.0.{sequence}"})
                except httpx.TransportError:
                    return  # the server is gone
                if response.is_success:
                    self.acknowledged = sequence
                else:
                    self.refused.append(response.status_code)
                    return


class ToggleLoop(threading.Thread):
    """An admin switching one node's maintenance on and off until the server stops answering."""

    def __init__(self, base_url: str, node_id: str, api_token: str):
        super().__init__(daemon=True)
        self.node_id, self.api_token, self.base_url = node_id, api_token, base_url
        self.acknowledged = 0
        self.refused: list[int] = []

    def run(self) -> None:
        with http_client(self.base_url, Authorization=f"Bearer {self.api_token}") as http:
            for n in range(100_000):
                try:
                    response = http.post(f"/api/v1/nodes/{self.node_id}/maintenance",
                                         json={"enabled": n % 2 == 0, "reason": "crash test"})
                except httpx.TransportError:
                    return
                if response.is_success:
                    self.acknowledged += 1
                else:
                    self.refused.append(response.status_code)
                    return


def test_what_the_killed_server_acknowledged_is_in_the_database(world, pg_database, tmp_path):
    agents = []
    for n in range(AGENTS):
        node, token = factories.make_node(world.env, f"crash-{n}", agent_version="1.0.0")
        agents.append((node.id, token))
    toggled, _ = factories.make_node(world.env, "crash-toggled")
    api_token = factories.make_api_token(world.users["ADMIN"])
    db.session.commit()

    server = Gunicorn(pg_database, tmp_path, workers=2)
    try:
        loops = [HeartbeatLoop(server.url(""), node_id, token) for node_id, token in agents]
        toggles = ToggleLoop(server.url(""), toggled.id, api_token)
        for loop in [*loops, toggles]:
            loop.start()
        deadline = time.monotonic() + WAIT
        while sum(loop.acknowledged for loop in loops) < ACKNOWLEDGED_BEFORE_THE_CRASH:
            assert time.monotonic() < deadline, "the server never took the heartbeat load"
            assert all(loop.is_alive() for loop in loops), [loop.refused for loop in loops]
            time.sleep(0.05)  # polling the condition, not waiting for correctness
        for pid in children(server.process.pid):  # the workers, mid-batch
            os.kill(pid, signal.SIGKILL)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(WAIT)
        for loop in [*loops, toggles]:
            loop.join(WAIT)
    finally:
        server.stop()

    assert not [loop.refused for loop in [*loops, toggles] if loop.refused]
    db.session.rollback()
    stored = dict(db.session.execute(sa.select(VectorNode.id, VectorNode.agent_version)
                                     .where(VectorNode.id.in_([n for n, _ in agents]))).all())
    lost = {loop.node_id: (loop.acknowledged, stored[loop.node_id]) for loop in loops
            if int(stored[loop.node_id].rsplit(".", 1)[1]) < loop.acknowledged}
    assert not lost, f"acknowledged heartbeats missing after the crash: {lost}"
    assert sum(loop.acknowledged for loop in loops) >= ACKNOWLEDGED_BEFORE_THE_CRASH
    transitions = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.entity_id == toggled.id, AuditLog.action.in_(
            ["node.maintenance_entered", "node.maintenance_left"])))
    assert toggles.acknowledged >= 1
    assert transitions >= toggles.acknowledged, "an acknowledged toggle is missing"
