"""Notification channels and the durable delivery of what they are sent.

A channel belongs to a team: a generic webhook (signed JSON), a Slack-compatible incoming
webhook, or email over SMTP (when ``VECTORFLOW_SMTP_HOST`` is set). It takes the alerts of the
rules it lists and the maintenance events it lists (entered, left, window_skipped, overrun).

Delivery is durable: a message is a ``notification_deliveries`` row written in the same
transaction as the change it announces. The delivery worker (a background job in every server
process, ``deliver_due``) claims due rows for a lease, sends them with no transaction open,
then records the outcome: delivered, or another attempt later with exponential backoff, up to
``VECTORFLOW_DELIVERY_MAX_ATTEMPTS``. A process that dies mid-send leaves its claim to expire;
the row is sent again (at least once; receivers can deduplicate on X-VectorFlow-Delivery).

Outbound requests refuse loopback, link-local, private and other non-public addresses (a
webhook URL is an SSRF vector): the host is resolved, every address checked, and the request
sent to a checked address; redirects are not followed. ``VECTORFLOW_WEBHOOK_ALLOW_PRIVATE=1``
lifts the check; ``VECTORFLOW_WEBHOOK_ALLOWLIST`` (host names and CIDRs, comma-separated)
lets chosen internal receivers through.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import smtplib
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from .. import transactions
from ..extensions import db
from ..models import (
    Alert,
    NotificationChannel,
    NotificationDelivery,
    Team,
    VectorNode,
    utcnow,
)
from ..models.alerts import DELIVERED, FAILED, QUEUED
from ..schemas.fields import (
    NAME_MAX,
    RECIPIENTS_MAX,
    URL_MAX,
    WEBHOOK_SECRET_MAX,
    WEBHOOK_SECRET_MIN,
)
from ..security import decrypt, encrypt
from ..templating import iso
from . import Conflict, ServiceError
from .actors import Actor, current_actor
from .audit import record

log = logging.getLogger(__name__)

TYPES = ("webhook", "slack", "email")
# Maintenance events a channel may take; "overrun" also brings the overrun rules' alerts.
EVENTS = ("entered", "left", "window_skipped", "overrun")
EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
USER_AGENT = "VectorFlow-Notifications/1"
LEASE = timedelta(seconds=120)
BATCH = 20
BACKOFF_BASE, BACKOFF_CAP = 10.0, 3600.0  # seconds: 10, 20, 40, ... at most an hour

DEFAULTS = {
    "VECTORFLOW_WEBHOOK_ALLOW_PRIVATE": False,
    "VECTORFLOW_WEBHOOK_ALLOWLIST": "",
    "VECTORFLOW_WEBHOOK_TIMEOUT": 10.0,
    "VECTORFLOW_DELIVERY_MAX_ATTEMPTS": 10,
    "VECTORFLOW_DELIVERY_INTERVAL": 2.0,
    "VECTORFLOW_SMTP_HOST": "",
    "VECTORFLOW_SMTP_PORT": 25,
    "VECTORFLOW_SMTP_USERNAME": "",
    "VECTORFLOW_SMTP_PASSWORD": "",
    "VECTORFLOW_SMTP_FROM": "vectorflow@localhost",
    "VECTORFLOW_SMTP_STARTTLS": False,
}


def _setting(key: str):
    return current_app.config[key]


# ------------------------------------------------------------------------------ SSRF guard


class Refused(ServiceError):
    """An outbound destination the server will not call."""


def _allowlist() -> tuple[set[str], list]:
    hosts, networks = set(), []
    for item in str(_setting("VECTORFLOW_WEBHOOK_ALLOWLIST") or "").split(","):
        item = item.strip().lower()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            hosts.add(item)
    return hosts, networks


def _kind(ip) -> str:
    for attribute, kind in (("is_loopback", "loopback"), ("is_link_local", "link-local"),
                            ("is_private", "private"), ("is_multicast", "multicast"),
                            ("is_unspecified", "unspecified")):
        if getattr(ip, attribute):
            return kind
    return "non-public"


def check_url(url: str) -> tuple[str, int, list[str]]:
    """Return (host, port, addresses) for an outbound URL, or raise Refused saying why.

    Every address the host resolves to must be public, unless private destinations are
    allowed or the host (or the address) is on the allowlist.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("the URL is not valid", {"url": "not a URL"}) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise Refused("the URL must be an absolute http:// or https:// URL", {"url": "not http(s)"})
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused(f"the host {host} cannot be resolved", {"url": "unresolvable host"}) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if _setting("VECTORFLOW_WEBHOOK_ALLOW_PRIVATE"):
        return host, port, addresses
    hosts, networks = _allowlist()
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if getattr(ip, "ipv4_mapped", None):
            ip = ip.ipv4_mapped
        if host in hosts or any(ip in net for net in networks):
            continue
        if not ip.is_global or ip.is_multicast:
            raise Refused(
                f"the host {host} resolves to {ip}, a {_kind(ip)} address: refused (set "
                "VECTORFLOW_WEBHOOK_ALLOW_PRIVATE=1 or list it in VECTORFLOW_WEBHOOK_ALLOWLIST)",
                {"url": f"{_kind(ip)} address"})
    return host, port, addresses


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST to a checked address of ``url`` (never following redirects); Refused if not allowed.

    The connection goes to the address that was checked, not to a second resolution of the
    name (which could answer differently); Host and TLS server name stay the URL's host.
    """
    host, _, addresses = check_url(url)
    target = httpx.URL(url)
    headers = {"Host": target.netloc.decode("ascii"), "User-Agent": USER_AGENT, **headers}
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    with httpx.Client(follow_redirects=False, timeout=_setting("VECTORFLOW_WEBHOOK_TIMEOUT"),
                      trust_env=False) as client:
        return client.post(target.copy_with(host=addresses[0]), content=body, headers=headers,
                           extensions=extensions)


# ------------------------------------------------------------------------------ channels


def smtp_configured() -> bool:
    return bool(_setting("VECTORFLOW_SMTP_HOST"))


def _check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise ServiceError(f"name must be 1-{NAME_MAX} characters",
                           {"name": f"1-{NAME_MAX} characters"})
    return name


def _check_list(values: Iterable[str] | None, allowed: Iterable[str], field: str) -> list[str]:
    values, allowed = list(values or []), list(allowed)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ServiceError(f"{field}: unknown {', '.join(map(repr, unknown))}; choose from "
                           f"{', '.join(allowed)}", {field: "unknown values"})
    return list(dict.fromkeys(values))


def _recipients(to: str | None) -> str:
    addresses = [a.strip() for a in re.split(r"[,;\s]+", to or "") if a.strip()]
    if not addresses:
        raise ServiceError("to: give one or more email addresses", {"to": "required for email"})
    bad = [a for a in addresses if not EMAIL_RE.match(a)]
    if bad or len(addresses) > RECIPIENTS_MAX:
        raise ServiceError(f"to: not email addresses: {', '.join(bad)}" if bad
                           else f"to: at most {RECIPIENTS_MAX} addresses", {"to": "invalid"})
    return ", ".join(addresses)


def create_channel(team: Team, *, type: str, name: str, url: str | None = None,
                   to: str | None = None, secret: str | None = None,
                   rules: Iterable[str] | None = None, events: Iterable[str] | None = None,
                   enabled: bool = True, actor: Actor | None = None) -> NotificationChannel:
    """Add a notification channel to a team (audited; the secret is stored encrypted).

    ``rules`` None means every rule; ``events`` None means no maintenance events.
    """
    from .alerts import RULES

    if type not in TYPES:
        raise ServiceError(f"type must be one of {', '.join(TYPES)}", {"type": "unknown"})
    name = _check_name(name)
    values = {"url": None, "email_to": None, "encrypted_secret": None}
    if type == "email":
        if url or secret:
            raise ServiceError("an email channel takes `to`, not a URL or a secret",
                               {"url" if url else "secret": "not for email"})
        if not smtp_configured():
            raise ServiceError("email channels need an SMTP server: set VECTORFLOW_SMTP_HOST",
                               {"type": "SMTP not configured"})
        values["email_to"] = _recipients(to)
    else:
        if to:
            raise ServiceError(f"a {type} channel takes a URL, not `to`", {"to": "email only"})
        url = (url or "").strip()
        if not url or len(url) > URL_MAX:
            raise ServiceError(f"url must be 1-{URL_MAX} characters", {"url": "required"})
        if type == "webhook":
            if not secret or not WEBHOOK_SECRET_MIN <= len(secret) <= WEBHOOK_SECRET_MAX:
                raise ServiceError(f"a webhook needs a secret of {WEBHOOK_SECRET_MIN}-{WEBHOOK_SECRET_MAX} "
                                   "characters to sign its requests", {"secret": "required"})
            values["encrypted_secret"] = encrypt(secret)
        elif secret:
            raise ServiceError("a Slack webhook is not signed: give no secret",
                               {"secret": "not for slack"})
        check_url(url)
        values["url"] = url
    if db.session.scalar(sa.select(NotificationChannel.id).where(
            NotificationChannel.team_id == team.id, NotificationChannel.name == name)):
        raise Conflict(f"team {team.name!r} already has a channel named {name!r}", {"name": name})
    channel = NotificationChannel(
        team_id=team.id, name=name, type=type, enabled=enabled,
        rules=_check_list(RULES if rules is None else rules, RULES, "rules"),
        events=_check_list(events, EVENTS, "events"), **values)
    db.session.add(channel)
    db.session.flush()
    record("notification_channel.created", entity_type="notification_channel",
           entity_id=channel.id, team_id=team.id,
           after={"name": name, "type": type, "destination": destination(channel),
                  "rules": channel.rules, "events": channel.events, "enabled": enabled},
           actor=actor or current_actor())
    return channel


def destination(channel: NotificationChannel) -> str:
    """Where a channel sends, safe to show and audit (a URL's path may hold a token)."""
    if channel.type == "email":
        return channel.email_to or ""
    parts = urlsplit(channel.url or "")
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else channel.url


def channels_query(team_ids: list[str] | None) -> sa.Select:
    query = sa.select(NotificationChannel)
    if team_ids is not None:
        query = query.where(NotificationChannel.team_id.in_(team_ids))
    return query


def deliveries_query(channel: NotificationChannel) -> sa.Select:
    """The channel's delivery log (order by id, newest first)."""
    return sa.select(NotificationDelivery).where(NotificationDelivery.channel_id == channel.id)


# ------------------------------------------------------------------------------ queueing


def _link(path: str) -> str:
    base = current_app.config.get("VECTORFLOW_PUBLIC_URL") or ""
    return base + path


def _channels_for(team_id: str, accepts) -> list[NotificationChannel]:
    channels = db.session.scalars(
        sa.select(NotificationChannel).where(NotificationChannel.team_id == team_id,
                                             NotificationChannel.enabled.is_(True))
        .order_by(NotificationChannel.id))
    return [c for c in channels if accepts(c)]


def _queue(channels: list[NotificationChannel], kind: str, payload: dict,
           alert_id: int | None = None, now: datetime | None = None) -> list[NotificationDelivery]:
    now = now or utcnow()
    rows = [NotificationDelivery(channel_id=c.id, alert_id=alert_id, kind=kind, payload=payload,
                                 status=QUEUED, attempts=0, next_attempt_at=now, created_at=now)
            for c in channels]
    db.session.add_all(rows)
    return rows


def queue_alert(alert: Alert, kind: str, now: datetime | None = None
                ) -> list[NotificationDelivery]:
    """Queue ``alert.firing`` or ``alert.resolved`` to the team's channels that take its rule."""
    from .alerts import OVERRUN_RULES, alert_document

    def accepts(channel):
        return alert.rule in (channel.rules or []) or (
            alert.rule in OVERRUN_RULES and "overrun" in (channel.events or []))

    channels = _channels_for(alert.environment.team_id, accepts)
    if not channels:
        return []
    links = {"alert": _link(f"/alerts/?env={alert.environment_id}")}
    if alert.node_id:
        links["node"] = _link(f"/nodes/{alert.node_id}")
    payload = {"type": kind, "alert": alert_document(alert),
               "environment": {"id": alert.environment_id, "name": alert.environment.name},
               "links": links}
    return _queue(channels, kind, payload, alert.id, now)


# states of node.maintenance_changed that channels hear about, by the event name they take
MAINTENANCE_EVENTS = {"entered": "entered", "left": "left", "auto_exited": "left"}


def queue_maintenance(node: VectorNode, state: str, details: dict) -> list[NotificationDelivery]:
    """Queue a maintenance change of a node to the channels that take that event."""
    event = MAINTENANCE_EVENTS.get(state)
    if event is None:
        return []
    channels = _channels_for(node.environment.team_id, lambda c: event in (c.events or []))
    if not channels:
        return []
    payload = {"type": f"maintenance.{event}",
               "maintenance": {"state": state, **details},
               "node": {"id": node.id, "name": node.name, "environmentId": node.environment_id},
               "environment": {"id": node.environment_id, "name": node.environment.name},
               "links": {"node": _link(f"/nodes/{node.id}")}}
    return _queue(channels, payload["type"], payload)


def queue_window_skipped(window, details: dict) -> list[NotificationDelivery]:
    """Queue a maintenance window's skipped nodes (kept out by disruption budgets) to the
    channels that take ``window_skipped``."""
    channels = _channels_for(window.environment.team_id,
                             lambda c: "window_skipped" in (c.events or []))
    if not channels:
        return []
    payload = {"type": "maintenance.window_skipped", "window": details,
               "environment": {"id": window.environment_id, "name": window.environment.name},
               "links": {"window": _link(f"/maintenance-windows/{window.id}")}}
    return _queue(channels, payload["type"], payload)


# ------------------------------------------------------------------------------ sending


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Return the X-VectorFlow-Signature value: ``sha256=<hex HMAC of "<timestamp>.<body>">``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def summary(payload: dict) -> str:
    """One line for people (Slack text, email subject)."""
    kind = payload.get("type", "")
    if kind.startswith("alert."):
        alert = payload["alert"]
        state = "RESOLVED" if kind == "alert.resolved" else "FIRING"
        return f"[{state}] {alert['title']}: {alert['message']}"
    if kind.startswith("maintenance."):
        node = payload["node"]["name"]
        return {"maintenance.entered": f"{node} entered maintenance",
                "maintenance.left": f"{node} left maintenance"}.get(kind, f"{kind}: {node}")
    return payload.get("text") or kind


@dataclass(frozen=True)
class Job:
    """A claimed delivery, with everything needed to send it without the database."""

    id: int
    type: str
    kind: str
    url: str | None
    email_to: str | None
    secret: str | None
    payload: dict
    attempts: int


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: int | None = None
    error: str | None = None


def send(job: Job) -> Outcome:
    """Send one message; never raises."""
    try:
        if job.type == "email":
            return _send_email(job)
        if job.type == "slack":
            body = json.dumps({"text": summary(job.payload)}).encode()
            headers = {"Content-Type": "application/json"}
        else:
            body = json.dumps(job.payload, sort_keys=True, separators=(",", ":")).encode()
            timestamp = str(int(time.time()))
            headers = {"Content-Type": "application/json",
                       "X-VectorFlow-Event": job.kind,
                       "X-VectorFlow-Delivery": str(job.id),
                       "X-VectorFlow-Timestamp": timestamp,
                       "X-VectorFlow-Signature": signature(job.secret or "", timestamp, body)}
        response = post(job.url, body, headers)
    except Refused as err:
        return Outcome(False, None, err.message)
    except (httpx.HTTPError, OSError, smtplib.SMTPException, ValueError) as err:
        return Outcome(False, None, f"{type(err).__name__}: {err}"[:500])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code)
    return Outcome(False, response.status_code, f"HTTP {response.status_code}")


def _send_email(job: Job) -> Outcome:
    message = EmailMessage()
    message["Subject"] = "[VectorFlow] " + summary(job.payload)
    message["From"] = _setting("VECTORFLOW_SMTP_FROM")
    message["To"] = job.email_to
    message["X-VectorFlow-Delivery"] = str(job.id)
    message.set_content(summary(job.payload) + "\n\n"
                        + json.dumps(job.payload, indent=2, sort_keys=True))
    with smtplib.SMTP(_setting("VECTORFLOW_SMTP_HOST"), int(_setting("VECTORFLOW_SMTP_PORT")),
                      timeout=_setting("VECTORFLOW_WEBHOOK_TIMEOUT")) as smtp:
        if _setting("VECTORFLOW_SMTP_STARTTLS"):
            smtp.starttls()
        if _setting("VECTORFLOW_SMTP_USERNAME"):
            smtp.login(_setting("VECTORFLOW_SMTP_USERNAME"), _setting("VECTORFLOW_SMTP_PASSWORD"))
        smtp.send_message(message)
    return Outcome(True, 250)


def _job(row: NotificationDelivery) -> Job:
    channel = row.channel
    secret = decrypt(channel.encrypted_secret) if channel.encrypted_secret else None
    return Job(row.id, channel.type, row.kind, channel.url, channel.email_to, secret,
               row.payload, row.attempts)


def _claim(now: datetime, limit: int) -> list[Job]:
    """Take up to ``limit`` due deliveries for a lease (a message waits for the earlier ones
    of its alert to the same channel, so "resolved" never overtakes "firing")."""
    delivery = NotificationDelivery
    earlier = aliased(NotificationDelivery)
    blocked = sa.exists().where(earlier.channel_id == delivery.channel_id,
                                earlier.alert_id == delivery.alert_id,
                                earlier.id < delivery.id, earlier.status == QUEUED)
    rows = db.session.scalars(
        sa.select(delivery)
        .where(delivery.status == QUEUED, delivery.next_attempt_at <= now,
               sa.or_(delivery.claimed_until.is_(None), delivery.claimed_until < now),
               ~blocked)
        .order_by(delivery.id).limit(limit)
        .with_for_update(skip_locked=True, of=delivery)
    ).all()
    jobs = []
    for row in rows:
        row.claimed_until = now + LEASE
        row.attempts += 1
        row.last_attempt_at = now
        try:
            jobs.append(_job(row))
        except ValueError as err:  # the secret cannot be decrypted with this key
            _settle(row, Outcome(False, None, str(err)), now)
    db.session.flush()
    return jobs


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    return timedelta(seconds=min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_CAP))


def _settle(row: NotificationDelivery, outcome: Outcome, now: datetime) -> None:
    row.claimed_until = None
    row.response_code = outcome.code
    row.last_error = outcome.error[:500] if outcome.error else None
    if outcome.ok:
        row.status, row.delivered_at = DELIVERED, now
    elif row.attempts >= int(_setting("VECTORFLOW_DELIVERY_MAX_ATTEMPTS")):
        row.status = FAILED
    else:
        row.next_attempt_at = now + backoff(row.attempts)


def _record(job: Job, outcome: Outcome, now: datetime) -> None:
    row = db.session.get(NotificationDelivery, job.id, with_for_update={"key_share": True})
    if row is not None and row.status == QUEUED:
        _settle(row, outcome, now)
        db.session.flush()


def deliver_due(now: datetime | None = None, limit: int = BATCH) -> int:
    """Send the deliveries that are due; return how many were attempted.

    Runs outside any transaction: the claim commits, the sends happen with no transaction
    open, and each outcome commits on its own.
    """
    claim_time = now or utcnow()
    jobs = transactions.run(lambda: _claim(claim_time, limit))
    for job in jobs:
        outcome = send(job)
        if not outcome.ok:
            log.info("delivery %s (attempt %s) failed: %s", job.id, job.attempts, outcome.error)
        finished = now or utcnow()
        transactions.run(partial(_record, job, outcome, finished))
    return len(jobs)


def deliver_all_due(now: datetime | None = None) -> int:
    """The background job: deliver until nothing is due (a failed message waits for its next
    attempt; one that waited for an earlier message of its alert goes next); return how many
    attempts were made."""
    total = 0
    while (attempted := deliver_due(now)):
        total += attempted
    return total


def send_test(channel: NotificationChannel, *, actor: Actor | None = None) -> NotificationDelivery:
    """Send a test message to the channel now (one attempt, no retries); logged like any."""
    actor = actor or current_actor()
    now = utcnow()
    payload = {"type": "test", "text": f"Test message from VectorFlow, sent by {actor.label}",
               "channel": {"id": channel.id, "name": channel.name}, "sentAt": iso(now)}
    row = NotificationDelivery(channel_id=channel.id, kind="test", payload=payload,
                               status=QUEUED, attempts=1, next_attempt_at=now,
                               last_attempt_at=now)
    db.session.add(row)
    db.session.flush()
    try:
        outcome = send(_job(row))
    except ValueError as err:
        outcome = Outcome(False, None, str(err))
    _settle(row, outcome, utcnow())
    if not outcome.ok:
        row.status = FAILED  # a test is not retried
    db.session.flush()
    return row


def init_app(app) -> None:
    """Read the settings (config wins over the environment) and run the delivery worker."""
    from ..sweeper import register_job

    for key, default in DEFAULTS.items():
        if key in app.config:
            continue
        raw = os.environ.get(key)
        if raw is None or raw == "":
            app.config[key] = default
        elif isinstance(default, bool):
            app.config[key] = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            app.config[key] = type(default)(raw)
    register_job(deliver_all_due, interval_key="VECTORFLOW_DELIVERY_INTERVAL")
