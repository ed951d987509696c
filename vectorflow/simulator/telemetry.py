"""What the newest vf-agent sends besides heartbeats, simulated (shared/agent-protocol.md,
"Telemetry endpoints"): Vector's log lines every flush interval, answers to sample requests
(from the config's ``sampleRequests`` or a ``sample_request`` push) and live taps
(``tap_start`` / ``tap_stop`` pushes), each posted as the real agent posts it.
"""
from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .agent import SimAgent

MAX_TAPS = 3           # the agent runs at most a few taps at once
TAP_PERIOD = 0.5       # seconds between tap batches
TAP_BATCH = 10         # events per tap batch
MESSAGES = [
    ("INFO", "vector::topology::running: Running healthchecks."),
    ("INFO", "vector::topology::builder: Healthcheck passed."),
    ("INFO", "vector::sources::demo_logs: Generated a batch of demo events."),
    ("DEBUG", "vector::internal_events::file: Checkpointed file positions."),
    ("WARN", "vector::sinks::util::retries: Retrying after error. error=Request timed out."),
    ("ERROR", "vector::sinks::http: Service call failed. No retries or retries exhausted."),
]
WEIGHTS = [30, 20, 30, 10, 7, 3]


def stamp() -> str:
    """Return now as Vector writes it: RFC 3339 with microseconds, UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def demo_event(rng: random.Random, n: int, component: str) -> dict:
    """Return one event as a demo_logs source with format json would produce."""
    method = rng.choice(["GET", "POST", "PUT", "DELETE"])
    status = rng.choice([200, 200, 200, 201, 404, 500])
    return {"message": f"{method} /api/v{rng.randint(1, 3)}/items/{n} {status}",
            "host": f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "status": status, "bytes": rng.randint(100, 50_000), "method": method,
            "component": component,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}


def infer_schema(events: list[dict]) -> list[dict]:
    """Return the agent's field list: one entry per top-level path with its type and a sample."""
    names = {str: "string", int: "integer", float: "float", bool: "boolean", dict: "object",
             list: "array", type(None): "null"}
    fields: dict[str, dict] = {}
    for event in events:
        for key, value in event.items():
            fields.setdefault(key, {"path": key, "type": names.get(type(value), "string"),
                                    "sample": value})
    return list(fields.values())


class Telemetry:
    """One agent's log shipper, sample answerer and tap runner."""

    def __init__(self, agent: SimAgent):
        self.agent = agent
        self.rng = random.Random(f"{agent.fleet.seed}:{agent.hostname}:telemetry")
        self.pending: dict[str, list[str]] = {}  # pipeline id -> lines not sent yet
        self.answered: set[str] = set()           # sample request ids
        self.taps: dict[str, asyncio.Task] = {}
        self.counter = 0

    # -- logs ---------------------------------------------------------------------------

    def note(self, pipeline_id: str, level: str, message: str) -> None:
        """Queue one line of a pipeline's Vector output."""
        self.pending.setdefault(pipeline_id, []).append(f"{stamp()}  {level} {message}")

    def chatter(self, now: float) -> None:
        """Each running Vector process logs a line or two per flush."""
        for pipeline_id, process in list(self.agent.processes.items()):
            if process.status(now) == "RUNNING":
                for _ in range(self.rng.randint(1, 2)):
                    level, message = self.rng.choices(MESSAGES, WEIGHTS)[0]
                    self.note(pipeline_id, level, message)

    async def flush(self) -> None:
        """Post the queued lines, one batch per pipeline; a failed post is not resent."""
        batches = [{"pipelineId": p, "lines": lines} for p, lines in self.pending.items() if lines]
        self.pending = {}
        if batches:
            await self.agent._request("logs", "POST", "/api/agent/logs", headers=self.agent.auth,
                                      json=batches)

    async def log_loop(self, interval: float) -> None:
        """Every ``interval`` seconds while pipelines run: new lines, then a flush."""
        while True:
            await asyncio.sleep(interval)
            self.chatter(time.monotonic())
            await self.flush()

    # -- samples ------------------------------------------------------------------------

    def on_sample_request(self, request: dict) -> None:
        """Answer a sample request once, if this agent runs its pipeline."""
        request_id = request.get("requestId")
        if (not isinstance(request_id, str) or request_id in self.answered
                or request.get("pipelineId") not in self.agent.processes):
            return
        self.answered.add(request_id)
        keys = [k for k in request.get("componentKeys") or [] if isinstance(k, str)]
        limit = request.get("limit") if isinstance(request.get("limit"), int) else 10
        self.agent.fleet.spawn(self.answer(request_id, keys, max(1, min(limit, 100))))

    async def answer(self, request_id: str, keys: list[str], limit: int) -> None:
        results = []
        for key in keys:
            events = [demo_event(self.rng, self.next_n(), key) for _ in range(min(limit, 5))]
            results.append({"requestId": request_id, "componentKey": key, "events": events,
                            "schema": infer_schema(events)})
        await self.agent._request("samples", "POST", "/api/agent/samples",
                                  headers=self.agent.auth, json={"results": results})

    def next_n(self) -> int:
        self.counter += 1
        return self.counter

    # -- taps ---------------------------------------------------------------------------

    def on_tap_start(self, message: dict) -> None:
        request_id = message.get("requestId")
        if not isinstance(request_id, str) or request_id in self.taps \
                or len(self.taps) >= MAX_TAPS:
            return
        self.taps[request_id] = self.agent.fleet.spawn(self.tap(
            request_id, str(message.get("pipelineId")), str(message.get("componentId"))))

    def on_tap_stop(self, message: dict) -> None:
        task = self.taps.pop(message.get("requestId"), None)
        if task is not None:
            task.cancel()

    async def tap(self, request_id: str, pipeline_id: str, component_id: str) -> None:
        """Post small batches about twice a second until stopped, then say it stopped."""
        base = {"requestId": request_id, "pipelineId": pipeline_id, "componentId": component_id}
        reason = "cancelled"
        try:
            while pipeline_id in self.agent.processes:
                events = [demo_event(self.rng, self.next_n(), component_id)
                          for _ in range(self.rng.randint(1, TAP_BATCH))]
                await self.agent._request("tap", "POST", "/api/agent/tap-events",
                                          headers=self.agent.auth, json={**base, "events": events})
                await asyncio.sleep(TAP_PERIOD)
            reason = "pipeline_stopped"
        finally:
            self.taps.pop(request_id, None)
            final = self.agent._request("tap", "POST", "/api/agent/tap-events",
                                        headers=self.agent.auth,
                                        json={**base, "status": "stopped", "reason": reason})
            self.agent.fleet.spawn(final)
