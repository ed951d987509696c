"""One simulated vf-agent: enrollment, config poll, checksum diff, supervisor, heartbeat, push.

It follows shared/agent-protocol.md and the behaviour of the Go agent (research notes, section 9):
* the node token is kept in ``<state-dir>/<hostname>/node-token`` (mode 0600) and reused;
* a poll that fails (non-200, transport or decode error) changes nothing, so a revoked node (401)
  keeps its pipelines running, and the heartbeat is still attempted;
* pipelines are diffed by checksum: unknown -> start, checksum changed -> restart, only the version
  changed -> relabel, missing -> stop and forget;
* a process is STARTING, then RUNNING after 2 s; a crash makes it CRASHED and it restarts after a
  backoff of 1, 2, 4 ... s capped at 60 s. These states follow the supervisor's clock, not the
  heartbeats: ``running_count()`` is true between heartbeats, which report the state at their
  time (after each poll and on the ticker); crashes are rolled once per heartbeat;
* host metrics are sent only while at least one pipeline is RUNNING (they come from a running
  pipeline's sidecar in the real agent), so a node in maintenance sends ``pipelines: []`` only;
* the server's ``pollIntervalMs`` resets the poll ticker (newer agents), a push ``config_changed``
  polls at once, and a ``self_update`` action is "installed" by reporting the target version.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .http import HTTPError, Response
from .sse import iter_messages
from .telemetry import Telemetry

if TYPE_CHECKING:  # pragma: no cover
    from .fleet import Fleet

AGENT_VERSION = "1.4.0"
VECTOR_VERSION = "0.54.0"
STARTUP_SECONDS = 2.0
MAX_BACKOFF = 60.0
BACKOFF_RESET_AFTER = 60.0   # a process that ran this long starts its backoff from 1 s again
GIB = 1024 ** 3


@dataclass
class Process:
    """A simulated Vector process supervised for one pipeline.

    Its state follows the supervisor's clock, as a real process's does: it is RUNNING two
    seconds after it started and back to STARTING when a crash's backoff has passed, whether
    or not a heartbeat looked in between. Only crashes are rolled, once per heartbeat.
    """

    pipeline_id: str
    version: int
    checksum: str
    pid: int
    started: float
    rate: float                  # events per second
    bytes_per_event: int
    crashes: int = 0             # consecutive crashes, for the backoff
    restart_at: float | None = None  # while CRASHED: when the supervisor starts it again

    def status(self, now: float) -> str:
        """Return the process state at ``now``: STARTING, RUNNING or CRASHED."""
        started = self.started
        if self.restart_at is not None:
            if now < self.restart_at:
                return "CRASHED"
            started = self.restart_at
        return "RUNNING" if now - started >= STARTUP_SECONDS else "STARTING"

    def advance(self, now: float, crash_rate: float, rng: random.Random, next_pid) -> str | None:
        """Settle a due restart and roll for a crash (once per heartbeat); return what happened.

        Returns 'restarted' (the backoff passed: a new pid), 'crashed', or None.
        """
        happened = None
        if self.restart_at is not None and now >= self.restart_at:
            self.pid = next_pid()
            self.started, self.restart_at = self.restart_at, None
            happened = "restarted"
        if crash_rate and self.status(now) == "RUNNING" and rng.random() < crash_rate:
            if now - self.started >= BACKOFF_RESET_AFTER:
                self.crashes = 0
            self.crashes += 1
            self.restart_at = now + min(MAX_BACKOFF, 2.0 ** (self.crashes - 1))
            happened = "crashed"
        return happened

    def report(self, now: float) -> dict:
        """Return this process as a heartbeat pipeline status (counters since the process started)."""
        status = self.status(now)
        entry = {"pipelineId": self.pipeline_id, "version": self.version, "status": status,
                 "configChecksum": self.checksum}
        if status == "CRASHED":
            entry.update(uptimeSeconds=0, eventsIn=0, eventsOut=0, errorsTotal=0, bytesIn=0,
                         bytesOut=0, eventsDiscarded=0)
            return entry
        uptime = max(0.0, now - self.started)
        events_in = int(self.rate * max(0.0, uptime - STARTUP_SECONDS / 2))
        discarded = events_in // 1000
        events_out = events_in - discarded
        entry.update(
            pid=self.pid,
            uptimeSeconds=int(uptime),
            eventsIn=events_in,
            eventsOut=events_out,
            eventsDiscarded=discarded,
            errorsTotal=events_in // 50_000,
            bytesIn=events_in * self.bytes_per_event,
            bytesOut=events_out * (self.bytes_per_event - 12),
            utilization=round(min(1.0, self.rate / 2000), 3),
        )
        return entry


@dataclass
class SimAgent:
    """The state and loops of one simulated agent."""

    fleet: "Fleet"
    index: int
    hostname: str
    labels: dict = field(default_factory=dict)
    node_token: str | None = None
    node_id: str | None = None
    agent_version: str = AGENT_VERSION
    vector_version: str = VECTOR_VERSION
    interval: float = 15.0
    known: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (checksum, version)
    processes: dict[str, Process] = field(default_factory=dict)
    push_connected: bool = False
    last_report: tuple[float, int] | None = None  # (monotonic time, running count) of last heartbeat
    health: dict = field(default_factory=lambda: {"pollErrorsTotal": 0, "heartbeatErrorsTotal": 0,
                                                  "pushReconnectsTotal": 0})

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.fleet.seed}:{self.hostname}")
        self.wake = asyncio.Event()
        self.booted = time.monotonic()
        self.pid_counter = 1000 + self.rng.randrange(30000)
        self.telemetry = Telemetry(self)
        self.host_base = {
            "memoryTotalBytes": self.rng.choice([4, 8, 16, 32]) * GIB,
            "fsTotalBytes": self.rng.choice([50, 100, 200]) * GIB,
            "load": self.rng.uniform(0.1, 1.5),
        }

    # -- state --------------------------------------------------------------------------

    @property
    def state_file(self) -> Path | None:
        base = self.fleet.state_dir
        return Path(base) / self.hostname / "node-token" if base else None

    def load_token(self) -> None:
        """Reuse a node token saved by an earlier run, like vf-agent's node-token file."""
        path = self.state_file
        if path is not None and path.exists():
            self.node_token = path.read_text().strip() or None

    def save_token(self) -> None:
        path = self.state_file
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.node_token or "")

    def next_pid(self) -> int:
        self.pid_counter += self.rng.randrange(1, 40)
        return self.pid_counter

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.node_token}"}

    def running_count(self) -> int:
        """Return how many pipelines this agent's supervisor has RUNNING right now.

        Safe from another thread: it only reads (a snapshot of) the processes.
        """
        now = time.monotonic()
        return sum(1 for p in list(self.processes.values()) if p.status(now) == "RUNNING")

    # -- requests ----------------------------------------------------------------------

    async def _request(self, operation: str, method: str, path: str, *, headers: dict | None = None,
                       json: dict | None = None) -> Response | None:
        """Send one request, record its latency or error, return the 200 response or None."""
        stats = self.fleet.stats
        started = time.perf_counter()
        try:
            response = await self.fleet.client.request(method, path, headers=headers,
                                                       json_body=json)
        except HTTPError as err:
            stats.error(operation, err.kind)
            return None
        elapsed = time.perf_counter() - started
        if response.status != 200:
            stats.error(operation, str(response.status))
            return None
        stats.observe(operation, elapsed)
        return response

    async def enroll(self) -> bool:
        """Enroll with the fleet's enrollment token unless a saved node token exists."""
        self.load_token()
        if self.node_token:
            return True
        body = {"token": self.fleet.enroll_token, "hostname": self.hostname, "os": "linux/amd64",
                "agentVersion": self.agent_version, "vectorVersion": self.vector_version,
                "labels": self.labels}
        async with self.fleet.enroll_slots:
            response = await self._request("enroll", "POST", "/api/agent/enroll", json=body)
        if response is None:
            return False
        try:
            data = response.json()
            self.node_token = data["nodeToken"]
            self.node_id = data.get("nodeId")
        except (ValueError, KeyError, TypeError):
            self.fleet.stats.error("enroll", "bad body")
            return False
        self.save_token()
        self.fleet.stats.count("enrolled")
        return True

    async def poll(self) -> None:
        """Fetch the config and apply it; any failure leaves the running pipelines alone."""
        response = await self._request("poll", "GET", "/api/agent/config", headers=self.auth)
        if response is None:
            self.health["pollErrorsTotal"] += 1
            return
        try:
            config = response.json()
            pipelines = config["pipelines"]
            if not isinstance(pipelines, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self.fleet.stats.error("poll", "bad body")
            self.health["pollErrorsTotal"] += 1
            return
        self.apply(pipelines)
        interval_ms = config.get("pollIntervalMs")
        if isinstance(interval_ms, int) and interval_ms > 0 and self.fleet.honour_server_interval:
            self.interval = interval_ms / 1000.0
        action = config.get("pendingAction")
        if isinstance(action, dict) and action.get("type") == "self_update":
            self.self_update(action.get("targetVersion"))
        for request in config.get("sampleRequests") or []:
            if isinstance(request, dict):
                self.telemetry.on_sample_request(request)
        push_url = config.get("pushUrl")
        if isinstance(push_url, str):
            self.fleet.advertised_push_url = push_url

    def apply(self, pipelines: list[dict]) -> None:
        """Diff the delivered pipelines against the known ones by checksum and act on each."""
        now = time.monotonic()
        stats = self.fleet.stats
        seen = set()
        for entry in pipelines:
            try:
                pid_ = str(entry["pipelineId"])
                checksum = str(entry["checksum"])
                version = int(entry["version"])
            except (KeyError, TypeError, ValueError):
                continue
            seen.add(pid_)
            known = self.known.get(pid_)
            if known is None:
                self.start(pid_, checksum, version, now)
                stats.count("pipelines started")
            elif known[0] != checksum:
                self.processes.pop(pid_, None)
                self.start(pid_, checksum, version, now)
                stats.count("pipelines restarted")
            elif known[1] != version:
                if pid_ in self.processes:
                    self.processes[pid_].version = version
                stats.count("pipelines relabelled")
            self.known[pid_] = (checksum, version)
        for gone in [p for p in self.known if p not in seen]:
            del self.known[gone]
            self.processes.pop(gone, None)
            stats.count("pipelines stopped")

    def start(self, pipeline_id: str, checksum: str, version: int, now: float) -> None:
        """Start a simulated Vector process for a pipeline."""
        self.telemetry.note(pipeline_id, "INFO", "vector::app: Vector has started. "
                            f"version=\"{self.vector_version}\"")
        self.processes[pipeline_id] = Process(
            pipeline_id=pipeline_id, version=version, checksum=checksum, pid=self.next_pid(),
            started=now, rate=self.rng.uniform(20, 500), bytes_per_event=self.rng.randint(120, 600),
        )

    def self_update(self, target: str | None) -> None:
        """Pretend to download, verify and restart into the target agent version."""
        if target and target != self.agent_version:
            self.agent_version = str(target)[:100]
            self.fleet.stats.count("self-updates")

    def host_metrics(self, now: float) -> dict:
        """Return plausible, slowly changing host metrics with growing counters."""
        up = now - self.booted + 86400 + self.index * 37
        total = self.host_base["memoryTotalBytes"]
        used = int(total * (0.45 + 0.15 * math.sin(up / 600 + self.index)))
        load = max(0.0, self.host_base["load"] + 0.3 * math.sin(up / 120 + self.index))
        fs_total = self.host_base["fsTotalBytes"]
        fs_used = int(fs_total * 0.4) + int(up * 1000)
        cpu_total = up * 2  # two cores; busy time grows at 0.3-0.7 of them, never backwards
        busy = up * (0.6 + 0.1 * (self.index % 4)) + 20 * math.sin(up / 120 + self.index)
        return {
            "memoryTotalBytes": total, "memoryUsedBytes": used, "memoryFreeBytes": total - used,
            "cpuSecondsTotal": round(cpu_total, 1),
            "cpuSecondsIdle": round(cpu_total - busy, 1),
            "loadAvg1": round(load, 2), "loadAvg5": round(load * 0.9, 2),
            "loadAvg15": round(load * 0.8, 2),
            "fsTotalBytes": fs_total, "fsUsedBytes": fs_used, "fsFreeBytes": fs_total - fs_used,
            "diskReadBytes": int(up * 40_000), "diskWrittenBytes": int(up * 90_000),
            "netRxBytes": int(up * 120_000), "netTxBytes": int(up * 80_000),
        }

    def heartbeat_body(self) -> dict:
        """Return the heartbeat the agent sends now (settling restarts and crashes first)."""
        now = time.monotonic()
        fleet = self.fleet
        for process in self.processes.values():
            happened = process.advance(now, fleet.crash_rate, self.rng, self.next_pid)
            if happened:
                fleet.stats.count(f"pipelines {happened}")
        reports = [p.report(now) for p in self.processes.values()]
        running = sum(1 for r in reports if r["status"] == "RUNNING")
        body = {
            "pipelines": reports,
            "agentVersion": self.agent_version,
            "vectorVersion": self.vector_version,
            "deploymentMode": "STANDALONE",
            "runningAs": "vector",
            "labels": self.labels,
            "agentHealth": dict(self.health, pushConnected=self.push_connected,
                                pipelinesRunning=running, uptimeSeconds=int(now - self.booted)),
        }
        if running:
            body["hostMetrics"] = self.host_metrics(now)
        return body

    async def heartbeat(self) -> None:
        """Report the supervisor's processes, versions and (while something runs) host metrics."""
        body = self.heartbeat_body()
        running = body["agentHealth"]["pipelinesRunning"]
        response = await self._request("heartbeat", "POST", "/api/agent/heartbeat",
                                       headers=self.auth, json=body)
        if response is None:
            self.health["heartbeatErrorsTotal"] += 1
            return
        self.last_report = (time.monotonic(), running)

    # -- loops -------------------------------------------------------------------------

    async def run(self, first_delay: float) -> None:
        """Enroll, then poll and heartbeat on the ticker (or at once when pushed) until cancelled."""
        await asyncio.sleep(first_delay)
        backoff = 1.0
        while not await self.enroll():
            await asyncio.sleep(backoff * self.rng.uniform(0.8, 1.2))
            backoff = min(backoff * 2, 30.0)
        if self.fleet.push:
            self.fleet.spawn(self.push_loop())
        if self.fleet.log_interval:
            self.fleet.spawn(self.telemetry.log_loop(self.fleet.log_interval))
        interval = self.interval
        next_tick = time.monotonic()
        while True:
            self.wake.clear()
            await self.poll()
            await self.heartbeat()
            if self.interval != interval:   # the server changed the interval: reset the ticker
                interval = self.interval
                next_tick = time.monotonic()
            now = time.monotonic()
            if next_tick <= now:
                next_tick += interval * self.rng.uniform(0.98, 1.02)
                if next_tick <= now:
                    next_tick = now + interval
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=max(0.0, next_tick - now))
                self.fleet.stats.count("pushed polls")
            except asyncio.TimeoutError:
                pass

    def push_url(self) -> str:
        """Return the advertised push URL if it is on the configured server, else the default."""
        advertised = self.fleet.advertised_push_url
        if advertised:
            a, b = urlsplit(advertised), urlsplit(self.fleet.url)
            if (a.scheme, a.netloc) == (b.scheme, b.netloc):
                return advertised
        return self.fleet.url + "/api/agent/push"

    async def push_loop(self) -> None:
        """Hold the push stream open; poll at once on ``config_changed``; reconnect with backoff."""
        backoff = 1.0
        while True:
            parts = urlsplit(self.push_url())
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            try:
                status, headers, lines = await self.fleet.client.stream_lines(
                    path, headers=self.auth, read_timeout=self.fleet.push_read_timeout)
                if status != 200 or not headers.get("content-type", "").startswith(
                        "text/event-stream"):
                    self.fleet.stats.error("push", str(status))
                    await lines.aclose()
                else:
                    self.push_connected = True
                    self.fleet.stats.count("push connects")
                    backoff = 1.0
                    try:
                        async for message in iter_messages(lines):
                            self.on_push(message)
                    finally:
                        await lines.aclose()
            except HTTPError as err:
                self.fleet.stats.error("push", err.kind)
            self.push_connected = False
            self.health["pushReconnectsTotal"] += 1
            await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.5))
            backoff = min(backoff * 2, MAX_BACKOFF)

    def on_push(self, data: str) -> None:
        """Act on one push message."""
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        self.fleet.stats.count("push messages")
        if kind == "config_changed":
            self.wake.set()
        elif kind == "poll_interval" and isinstance(message.get("intervalMs"), int):
            if message["intervalMs"] > 0 and self.fleet.honour_server_interval:
                self.interval = message["intervalMs"] / 1000.0
                self.wake.set()
        elif kind == "action" and message.get("action") == "self_update":
            self.self_update(message.get("targetVersion"))
        elif kind == "sample_request":
            self.telemetry.on_sample_request(message)
        elif kind == "tap_start":
            self.telemetry.on_tap_start(message)
        elif kind == "tap_stop":
            self.telemetry.on_tap_stop(message)
