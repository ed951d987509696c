"""Fixtures for the live-update tests: a real threaded server and stream clients."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from vectorflow.extensions import db
from vectorflow.services.events import emit

from ..conftest import sign_in
from .sse import EventStreamClient

KEEPALIVE = 0.3


@pytest.fixture
def broker(app):
    """The app's broker with a short keep-alive, so tests need not wait 15 s.

    The app fixture restores the config and resets the broker after each test.
    """
    app.config.update(VECTORFLOW_SSE_KEEPALIVE=KEEPALIVE, VECTORFLOW_EVENTS_POLL=0.5)
    broker = app.extensions["vectorflow.broker"]
    broker.reset_for_tests()
    return broker


class LiveServer:
    """The app served by Werkzeug's threaded server on a free port of 127.0.0.1."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.clients: list[EventStreamClient] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"

    def stream(self, path: str, *, token: str | None = None, cookie: str | None = None,
               headers: dict | None = None) -> EventStreamClient:
        """Open an event stream (closed at the end of the test)."""
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = cookie
        client = EventStreamClient(self.url(path), headers)
        self.clients.append(client)
        return client

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def server(app, broker):
    srv = LiveServer(app)
    yield srv
    broker.shutdown()  # ends the open streams so their threads finish
    srv.stop()


def session_cookie(app, user) -> str:
    """Return a Cookie header value that logs a browser in as ``user`` (signed in by the form)."""
    client = app.test_client()
    assert sign_in(client, user.email).status_code == 302
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"], domain=app.config["SERVER_NAME"])
    return f"{cookie.key}={cookie.value}"


def publish(type: str, **kwargs):
    """Emit an event and commit, as a service's caller would."""
    ev = emit(type, **kwargs)
    db.session.commit()
    return ev
