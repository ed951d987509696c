"""Fixtures for alerts: a real HTTP receiver on 127.0.0.1, a clock the tests move, channels."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.agent.conftest import make_agent  # noqa: F401  (a stand-in vf-agent)
from tests.api.conftest import api, api_tokens  # noqa: F401  (OpenAPI-checked API calls)
from tests.factories import make_node
from vectorflow import sweeper, transactions
from vectorflow.extensions import db
from vectorflow.models import Alert, NotificationDelivery, utcnow
from vectorflow.services import alerts, notifications
from vectorflow.services.maintenance import set_maintenance

SECRET = "receiver-shared-secret-123"


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server in a thread that records every request and answers as told."""

    server: ThreadingHTTPServer = None
    requests: list[Received] = field(default_factory=list)
    # Status codes to answer, in order; then 200. A (status, location) pair answers a redirect.
    answers: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(Received(self.path, dict(self.headers), body))
                answer = receiver.answers.pop(0) if receiver.answers else 200
                status, location = answer if isinstance(answer, tuple) else (answer, None)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kinds(self) -> list[str]:
        return [r.json()["type"] for r in self.requests]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def allow_private(app):
    """Receivers live on 127.0.0.1: relax the SSRF guard as on-premises users do."""
    app.config["VECTORFLOW_WEBHOOK_ALLOW_PRIVATE"] = True


class Clock:
    """The time the services are told it is; starts in the past so real heartbeats are later."""

    def __init__(self, start: datetime):
        self.now = start

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock():
    return Clock(utcnow() - timedelta(hours=1))


def sweep(now: datetime) -> None:
    """One round of every background sweep at ``now`` (health, maintenance end, alerts)."""
    sweeper.run_sweeps(now)


def evaluate(now: datetime) -> list:
    """Only the alert sweep, committed."""
    return transactions.run(lambda: alerts.sweep_alerts(now))


def deliver(now: datetime | None = None) -> int:
    """One round of the delivery worker (it sends until nothing is due at ``now``)."""
    return notifications.deliver_all_due(now)


@pytest.fixture
def webhook(world, allow_private, receiver):
    """A webhook channel of the first team to the receiver, taking every rule and event."""
    channel = notifications.create_channel(
        world.team, type="webhook", name="on-call", url=receiver.url, secret=SECRET,
        events=list(notifications.EVENTS))
    db.session.commit()
    return channel


def alerts_of(node_id=None, rule=None) -> list[Alert]:
    db.session.expire_all()
    query = alerts.alerts_query(None)
    if node_id:
        query = query.where(Alert.node_id == node_id)
    if rule:
        query = query.where(Alert.rule == rule)
    return list(db.session.scalars(query.order_by(Alert.id)))


def deliveries() -> list[NotificationDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(
        db.select(NotificationDelivery).order_by(NotificationDelivery.id)))


@pytest.fixture
def fired(world, clock):
    """Two firing alerts of the first team (one suppressed) and one of the other team."""
    quiet, _ = make_node(world.env, "edge-quiet", last_heartbeat=clock.now)
    loud, _ = make_node(world.env, "edge-loud", last_heartbeat=clock.now)
    theirs, _ = make_node(world.other_env, "their-node", last_heartbeat=clock.now)
    db.session.commit()
    set_maintenance(quiet, True, force=True)
    db.session.commit()
    evaluate(utcnow())
    return {"quiet": quiet.id, "loud": loud.id, "theirs": theirs.id}
