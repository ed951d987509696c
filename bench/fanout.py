"""Benchmark: maintenance toggle -> event on every open stream, with the production server.

Starts gunicorn with gunicorn.conf.py (gevent worker, one worker) on a fresh PostgreSQL
database, opens N event streams (GET /api/v1/events, one API token) from an asyncio client
in this process, then toggles a node's maintenance through the REST API and times when the
``node.maintenance_changed`` event reaches each stream. Steps up N until the worker's RSS or
the p99 latency passes a limit (or the largest step is done), and measures an agent config
poll while the streams are open. Everything runs on 127.0.0.1; every wait is bounded.

    .venv/bin/python bench/fanout.py                      # 1,000 streams, then the ramp
    .venv/bin/python bench/fanout.py --ramp 1000 --rounds 3   # quick

The table goes to bench/results/fanout-<date>.md and stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MARKER = b"event: node.maintenance_changed\n"
OPEN_BATCH = 250


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Seeded:
    database_url: str
    admin_token: str
    node_id: str
    node_token: str


def create_database(admin_url: str) -> tuple[str, str]:
    name = f"vf_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{url}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(database_url: str, instance: Path) -> Seeded:
    """Migrate, then make a team, an admin with an API token, an environment and one node."""
    os.environ["VECTORFLOW_INSTANCE_PATH"] = str(instance)
    from flask_migrate import upgrade

    from tests import factories
    from vectorflow import create_app
    from vectorflow.extensions import db
    from vectorflow.models import Role

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench",
                      "VECTORFLOW_SWEEP_INTERVAL": 0})
    with app.app_context():
        upgrade()
        team = factories.make_team("Bench")
        admin = factories.make_user("bench-admin@example.com")
        factories.add_member(team, admin, Role.ADMIN)
        env = factories.make_environment(team, "production")
        node, node_token = factories.make_node(env, "edge-1")
        db.session.commit()
        seeded = Seeded(database_url, factories.make_api_token(admin), node.id, node_token)
        db.engine.dispose()
    return seeded


class Server:
    """gunicorn -c gunicorn.conf.py with one gevent worker."""

    def __init__(self, database_url: str, instance: Path, connections: int):
        self.port = free_port()
        self.log = instance / "gunicorn.log"
        env = dict(os.environ, DATABASE_URL=database_url, VECTORFLOW_INSTANCE_PATH=str(instance),
                   SECRET_KEY="bench", VECTORFLOW_WORKER_CONNECTIONS=str(connections),
                   VECTORFLOW_SWEEP_INTERVAL="0")
        env.pop("REDIS_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "1",
             "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url("/login"), timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            self.stop()
            raise SystemExit(f"gunicorn did not start:\n{self.log.read_text()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return int(children.split()[0])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Streams:
    """N raw HTTP/1.1 event-stream connections on one asyncio loop."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def _open_one(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write((f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                      f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n"
                      ).encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head[:200])
        await reader.readuntil(b"retry: ")  # the stream's first bytes: it is subscribed
        return reader, writer

    async def grow(self, total: int, timeout: float) -> None:
        while len(self.conns) < total:
            batch = min(OPEN_BATCH, total - len(self.conns))
            opened = await asyncio.wait_for(
                asyncio.gather(*(self._open_one() for _ in range(batch))), timeout)
            self.conns.extend(opened)

    async def round(self, trigger, timeout: float) -> tuple[list[float], list[float]]:
        """Fire ``trigger``; return each stream's latency (s) from the trigger and from the
        moment the event was written (its ``createdAt``, same machine clock)."""
        arrivals: list[float] = []
        since_written: list[float] = []

        async def wait(reader):
            await reader.readuntil(MARKER)
            line = await reader.readuntil(b"\n")  # data: {...}
            arrivals.append(time.monotonic())
            created = json.loads(line[len(b"data: "):])["createdAt"].replace("Z", "+00:00")
            since_written.append(time.time() - datetime.fromisoformat(created).timestamp())

        waiters = [asyncio.ensure_future(wait(r)) for r, _ in self.conns]
        await asyncio.sleep(0.05)
        start = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, trigger)
        await asyncio.wait_for(asyncio.gather(*waiters), timeout)
        return [t - start for t in arrivals], since_written

    def close(self) -> None:
        for _, writer in self.conns:
            writer.close()
        self.conns.clear()


class Toggler:
    """Flip the node's maintenance through the REST API; remember each call's duration."""

    def __init__(self, server: Server, seeded: Seeded):
        self.url = server.url(f"/api/v1/nodes/{seeded.node_id}/maintenance")
        self.client = httpx.Client(timeout=10,
                                   headers={"Authorization": f"Bearer {seeded.admin_token}"})
        self.on = False
        self.durations: list[float] = []

    def __call__(self) -> None:
        self.on = not self.on
        start = time.monotonic()
        self.client.post(self.url, json={"enabled": self.on, "reason": "bench"}).raise_for_status()
        self.durations.append(time.monotonic() - start)


def poll_latency_ms(server: Server, seeded: Seeded, samples: int = 20) -> float:
    headers = {"Authorization": f"Bearer {seeded.node_token}"}
    timings = []
    with httpx.Client(timeout=10, headers=headers) as client:
        for _ in range(samples):
            start = time.perf_counter()
            client.get(server.url("/api/agent/config")).raise_for_status()
            timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


async def run(args, server: Server, seeded: Seeded) -> list[dict]:
    streams = Streams(server.port, seeded.admin_token)
    toggle = Toggler(server, seeded)
    pid = server.worker_pid()
    idle_rss = rss_mb(pid)
    rows = []
    try:
        for step in args.ramp:
            started = time.monotonic()
            await streams.grow(step, timeout=args.timeout)
            open_s = time.monotonic() - started
            latencies, since_written, toggle.durations = [], [], []
            for _ in range(args.rounds):
                from_toggle, from_write = await streams.round(toggle, timeout=args.timeout)
                latencies += from_toggle
                since_written += from_write
            row = {
                "streams": step,
                "rss": rss_mb(pid),
                "p50": percentile(latencies, 50) * 1000,
                "p99": percentile(latencies, 99) * 1000,
                "max": max(latencies) * 1000,
                "w50": percentile(since_written, 50) * 1000,
                "w99": percentile(since_written, 99) * 1000,
                "poll": poll_latency_ms(server, seeded),
                "toggle": statistics.median(toggle.durations) * 1000,
                "open": open_s,
                "deliveries": len(latencies),
            }
            rows.append(row)
            print("{streams:>6} streams  RSS {rss:6.1f} MB  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
                  "  max {max:6.1f} ms  (written->read p50 {w50:6.1f} p99 {w99:6.1f})"
                  "  toggle call {toggle:5.1f} ms  config poll {poll:5.1f} ms"
                  .format(**row), flush=True)
            if row["rss"] > args.max_rss or row["p99"] > args.max_p99:
                print("limit reached; stopping the ramp", flush=True)
                break
    finally:
        streams.close()
    return [{"idle_rss": idle_rss}] + rows


def write_table(args, rows: list[dict]) -> Path:
    idle, steps = rows[0]["idle_rss"], rows[1:]
    import gevent
    import gunicorn

    lines = [
        "# Event fan-out: maintenance toggle -> event on every open stream",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- machine: {os.cpu_count()} cores ({platform.machine()}), "
        f"{platform.python_implementation()} {platform.python_version()}, gunicorn "
        f"{gunicorn.__version__}, gevent {gevent.__version__}, PostgreSQL (NOTIFY wake-up)",
        "- server: `gunicorn -c gunicorn.conf.py --workers 1` (gevent worker); the asyncio "
        "client ran on the same cores, so latencies are pessimistic",
        f"- each step: {args.rounds} toggles through `POST /api/v1/nodes/<id>/maintenance`, "
        "latency = POST sent -> `node.maintenance_changed` read on each stream; "
        "written -> read = from the event row's `createdAt` (inside the service, before commit)",
        f"- worker RSS with no stream open: {idle:.1f} MB",
        f"- load average when the run started: {args.load:.2f} (other work on the machine "
        "shares the cores)",
        "- command: `" + " ".join([".venv/bin/python bench/fanout.py", *sys.argv[1:]]) + "`",
        "",
        "| open streams | worker RSS (MB) | toggle -> read p50 (ms) | p99 (ms) | max (ms) "
        "| written -> read p50 (ms) | p99 (ms) | toggle call p50 (ms) "
        "| agent config poll p50 (ms) | deliveries |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in steps:
        lines.append(f"| {r['streams']:,} | {r['rss']:.0f} | {r['p50']:.0f} | {r['p99']:.0f} | "
                     f"{r['max']:.0f} | {r['w50']:.0f} | {r['w99']:.0f} | {r['toggle']:.0f} | "
                     f"{r['poll']:.1f} | {r['deliveries']:,} |")
    per_stream = ((steps[-1]["rss"] - idle) / steps[-1]["streams"] * 1024) if steps else 0
    lines += ["", f"About {per_stream:.0f} KB of worker RSS per open stream."]
    out = ROOT / "bench" / "results" / f"fanout-{datetime.now(timezone.utc):%Y%m%d}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ramp", default="1000,2000,4000,8000",
                        type=lambda s: [int(x) for x in s.split(",")],
                        help="open-stream counts to measure, in order (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="toggles per step")
    parser.add_argument("--max-rss", type=float, default=1024, help="stop above this RSS (MB)")
    parser.add_argument("--max-p99", type=float, default=2000, help="stop above this p99 (ms)")
    parser.add_argument("--timeout", type=float, default=60, help="bound on every wait (s)")
    parser.add_argument("--database-url", default=os.environ.get(
        "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL server to create the bench database on")
    args = parser.parse_args()
    args.load = os.getloadavg()[0]

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = max(args.ramp) + 1000
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))

    name, database_url = create_database(args.database_url)
    instance = Path(tempfile.mkdtemp(prefix="vf-bench-"))
    server = None
    try:
        seeded = seed(database_url, instance)
        server = Server(database_url, instance, connections=max(args.ramp) + 500)
        rows = asyncio.run(run(args, server, seeded))
        print(f"wrote {write_table(args, rows)}")
    finally:
        if server is not None:
            server.stop()
        drop_database(args.database_url, name)


if __name__ == "__main__":
    main()
