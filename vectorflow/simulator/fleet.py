"""Many simulated agents in one asyncio loop, sharing one HTTP connection pool."""
from __future__ import annotations

import asyncio
import gc
import random
import threading
from pathlib import Path

from .agent import SimAgent
from .http import HTTPClient
from .stats import Stats

ZONES = ("eu-west-1a", "eu-west-1b", "us-east-1a")
ROLES = ("ingest", "aggregate", "edge")


def tune_gc() -> None:
    """Keep the garbage collector from pausing a big fleet's event loop.

    Ten thousand agents are a few million long-lived objects; full collections over them
    stall the loop for hundreds of milliseconds and show up as request latency that the
    server did not cause. Freeze what exists and collect the young generation less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)


class Fleet:
    """N simulated vf-agents against one server."""

    def __init__(
        self,
        url: str,
        enroll_token: str,
        agents: int,
        *,
        poll: float = 15.0,
        crash_rate: float = 0.0,
        state_dir: str | Path | None = None,
        push: bool = True,
        prefix: str = "sim",
        first_index: int = 1,
        ramp: float | None = None,
        connections: int = 200,
        enroll_concurrency: int = 16,
        honour_server_interval: bool = True,
        push_read_timeout: float = 90.0,
        seed: int | str = 0,
        stats: Stats | None = None,
        log_interval: float | None = None,
    ):
        self.url = url.rstrip("/")
        self.enroll_token = enroll_token
        self.poll = poll
        self.crash_rate = crash_rate
        self.state_dir = Path(state_dir) if state_dir else None
        self.push = push
        self.ramp = poll if ramp is None else ramp
        self.connections = connections
        self.enroll_concurrency = enroll_concurrency
        self.honour_server_interval = honour_server_interval
        self.push_read_timeout = push_read_timeout
        self.seed = seed
        # Post Vector's log lines this often (the agent's VF_LOG_FLUSH_INTERVAL); None: never.
        self.log_interval = log_interval
        self.stats = stats or Stats()
        self.advertised_push_url: str | None = None
        width = max(4, len(str(first_index + agents - 1)))
        self.agents = [
            SimAgent(self, i, f"{prefix}-{i:0{width}d}", labels=self.labels_for(i), interval=poll)
            for i in range(first_index, first_index + agents)
        ]
        self._tasks: set[asyncio.Task] = set()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False

    @staticmethod
    def labels_for(index: int) -> dict:
        return {"simulated": "true", "zone": ZONES[index % len(ZONES)],
                "role": ROLES[(index // len(ZONES)) % len(ROLES)]}

    def spawn(self, coro) -> asyncio.Task:
        """Run a coroutine as part of the fleet; it is cancelled when the fleet stops."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats.error("agent", type(task.exception()).__name__)

    async def run(self, duration: float | None = None) -> Stats:
        """Run every agent until ``duration`` seconds pass or ``stop()`` is called."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        self.open()
        rng = random.Random(f"{self.seed}:start")
        for agent in self.agents:
            self.spawn(agent.run(rng.uniform(0, self.ramp)))
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=duration)
        except asyncio.TimeoutError:
            pass
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.client.aclose()
        return self.stats

    def open(self) -> None:
        """Create the shared connection pool (inside the running loop); ``run`` calls it."""
        # 30 s is the Go agent's HTTP client timeout.
        self.client = HTTPClient(self.url, max_connections=self.connections, timeout=30.0)
        self.enroll_slots = asyncio.Semaphore(self.enroll_concurrency)

    def stop(self) -> None:
        """Ask a running fleet to stop (safe from another thread or a signal handler)."""
        self._stop_requested = True
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:    # the loop closed in the meantime: nothing left to stop
                pass

    def running_pipelines(self) -> int:
        """Return how many pipelines the fleet's supervisors have RUNNING."""
        return sum(agent.running_count() for agent in self.agents)


class FleetThread(threading.Thread):
    """Run a fleet in a background thread (for tests and benchmarks that drive a server)."""

    def __init__(self, fleet: Fleet, duration: float | None = None):
        super().__init__(daemon=True, name="vectorflow-simulator")
        self.fleet = fleet
        self.duration = duration
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self.fleet.run(self.duration))
        except BaseException as err:  # noqa: BLE001 - surfaced to the caller through .error
            self.error = err

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the fleet and wait for the thread to end."""
        self.fleet.stop()
        self.join(timeout)
