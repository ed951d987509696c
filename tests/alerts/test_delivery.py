"""Durable delivery: retries with backoff, signatures, restarts, and the SSRF guard."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers

from tests.factories import make_node
from vectorflow import transactions
from vectorflow.extensions import db
from vectorflow.models import utcnow
from vectorflow.services import notifications
from vectorflow.services.notifications import LEASE, Refused, check_url

from .conftest import SECRET, Receiver, deliver, deliveries, evaluate

README = Path(__file__).resolve().parents[2] / "README.md"


def fire_one(world, clock) -> None:
    """Make one node unreachable long enough to fire (queues one delivery per channel)."""
    make_node(world.env, "edge-1", last_heartbeat=clock.now, last_seen=clock.now)
    db.session.commit()
    evaluate(clock.advance(minutes=10))


def test_a_receiver_answering_500_twice_then_200_gets_three_attempts_and_one_delivered_row(
        world, webhook, receiver, clock):
    receiver.answers = [500, 500]
    fire_one(world, clock)
    start = clock.now
    deliver(start)
    deliver(start + timedelta(seconds=5))  # not due yet: the first retry waits 10 s
    assert len(receiver.requests) == 1
    deliver(start + timedelta(seconds=11))
    deliver(start + timedelta(seconds=25))  # the second retry waits 20 s
    assert len(receiver.requests) == 2
    deliver(start + timedelta(seconds=32))
    deliver(start + timedelta(hours=2))
    assert len(receiver.requests) == 3
    [row] = deliveries()
    assert (row.status, row.attempts, row.response_code) == ("delivered", 3, 200)
    assert {r.body for r in receiver.requests} == {receiver.requests[0].body}
    assert {r.headers["X-VectorFlow-Delivery"] for r in receiver.requests} == {str(row.id)}


def test_a_delivery_gives_up_after_the_last_attempt(app, world, webhook, receiver, clock):
    app.config["VECTORFLOW_DELIVERY_MAX_ATTEMPTS"] = 3
    receiver.answers = [503] * 10
    fire_one(world, clock)
    for minutes in range(0, 60, 5):
        deliver(clock.now + timedelta(minutes=minutes))
    [row] = deliveries()
    assert (row.status, row.attempts, row.response_code) == ("failed", 3, 503)
    assert len(receiver.requests) == 3


def readme_verify():
    """The signature check published in the README, as a function."""
    text = README.read_text()
    start = text.index("    import hashlib, hmac, time")
    block = []
    for line in text[start:].splitlines():
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    namespace: dict = {}
    exec("\n".join(block), namespace)  # noqa: S102  (our own README)
    return namespace["verify"]


def test_the_readme_signature_check_accepts_a_real_delivery_and_refuses_a_forgery(
        world, webhook, receiver, clock):
    fire_one(world, clock)
    deliver(clock.now)
    [request] = receiver.requests
    headers = Headers(request.headers)
    verify = readme_verify()
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", headers["X-VectorFlow-Signature"])
    assert verify(SECRET, headers, request.body) is True
    assert verify("another-secret-entirely", headers, request.body) is False
    assert verify(SECRET, headers, request.body.replace(b"firing", b"resolve")) is False
    stale = Headers(headers)
    stale["X-VectorFlow-Timestamp"] = str(int(headers["X-VectorFlow-Timestamp"]) - 3600)
    assert verify(SECRET, stale, request.body) is False


def test_the_secret_is_stored_encrypted_and_never_audited(world, webhook):
    from vectorflow.models import AuditLog

    assert SECRET not in (webhook.encrypted_secret or "")
    rows = db.session.scalars(db.select(AuditLog)).all()
    assert rows and all(SECRET not in str((r.before, r.after, r.details)) for r in rows)


def test_a_delivery_claimed_by_a_process_that_died_is_sent_again(world, webhook, receiver, clock):
    fire_one(world, clock)
    claimed = transactions.run(lambda: notifications._claim(clock.now, 10))
    assert len(claimed) == 1  # ...and the process dies before sending or recording
    deliver(clock.now + timedelta(seconds=30))
    assert receiver.requests == []  # still leased to the dead worker
    deliver(clock.now + LEASE + timedelta(seconds=1))
    [row] = deliveries()
    assert len(receiver.requests) == 1 and row.status == "delivered"


@pytest.mark.slow
def test_nothing_queued_is_lost_across_a_server_restart(database_url, world, webhook, receiver,
                                                        clock, tmp_path):
    from tests.events.servers import Gunicorn

    fire_one(world, clock)  # queued; the server that queued it stopped before sending
    assert [d.status for d in deliveries()] == ["pending"]
    db.session.remove()
    with Gunicorn(database_url, tmp_path, VECTORFLOW_SWEEP_INTERVAL="0.5",
                  VECTORFLOW_DELIVERY_INTERVAL="0.2", VECTORFLOW_WEBHOOK_ALLOW_PRIVATE="1"):
        receiver.wait_for(1)
        deadline = utcnow() + timedelta(seconds=30)
        while deliveries()[0].status != "delivered" and utcnow() < deadline:
            db.session.remove()
    assert receiver.kinds() == ["alert.firing"]
    assert [d.status for d in deliveries()] == ["delivered"]


# -- the SSRF guard ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook", "http://localhost/hook", "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/hook", "http://192.168.0.10/",
    "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/", "http://100.64.0.1/",
])
def test_private_loopback_and_link_local_destinations_are_refused(app, url):
    with pytest.raises(Refused, match="refused"):
        check_url(url)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http:///nohost", "not a url"])
def test_urls_that_are_not_http_are_refused(app, url):
    with pytest.raises(Refused):
        check_url(url)


def test_the_allowlist_lets_a_chosen_internal_receiver_through(app):
    app.config["VECTORFLOW_WEBHOOK_ALLOWLIST"] = "hooks.internal, 127.0.0.0/8"
    assert check_url("http://127.0.0.1:8080/hook")[2] == ["127.0.0.1"]
    with pytest.raises(Refused):
        check_url("http://10.0.0.1/hook")


def test_a_send_to_an_address_no_longer_allowed_reaches_nobody(app, world, webhook, receiver,
                                                               clock):
    fire_one(world, clock)
    app.config["VECTORFLOW_WEBHOOK_ALLOW_PRIVATE"] = False
    deliver(clock.now)
    [row] = deliveries()
    assert receiver.requests == []
    assert row.status == "pending" and "loopback" in row.last_error


def test_redirects_are_not_followed(world, webhook, clock):
    target = Receiver().start()
    hop = Receiver().start()
    try:
        hop.answers = [(302, target.url)]
        webhook.url = hop.url
        fire_one(world, clock)
        deliver(clock.now)
        [row] = deliveries()
        assert len(hop.requests) == 1 and target.requests == []
        assert (row.status, row.response_code) == ("pending", 302)
    finally:
        target.stop()
        hop.stop()


# -- Slack and email ------------------------------------------------------------------------------


def test_a_slack_channel_gets_a_text_message(world, allow_private, receiver, clock):
    notifications.create_channel(world.team, type="slack", name="slack", url=receiver.url)
    fire_one(world, clock)
    deliver(clock.now)
    [request] = receiver.requests
    text = request.json()["text"]
    assert text.startswith("[FIRING] Node unreachable: edge-1 has sent no heartbeat")
    assert "X-VectorFlow-Signature" not in request.headers


def test_an_email_channel_sends_through_the_configured_smtp_server(app, world, clock):
    from .smtp import SmtpReceiver

    with SmtpReceiver() as smtp:
        app.config.update(VECTORFLOW_SMTP_HOST="127.0.0.1", VECTORFLOW_SMTP_PORT=smtp.port,
                          VECTORFLOW_SMTP_FROM="vf@example.com")
        notifications.create_channel(world.team, type="email", name="mail",
                                     to="oncall@example.com, lead@example.com")
        fire_one(world, clock)
        deliver(clock.now)
        [message] = smtp.wait_for(1)
    assert message.recipients == ["oncall@example.com", "lead@example.com"]
    assert "Subject: [VectorFlow] [FIRING] Node unreachable" in message.data
    assert [d.status for d in deliveries()] == ["delivered"]
