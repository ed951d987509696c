#!/usr/bin/env python3
"""Benchmark the agent config poll with 100 and with 10,000 enrolled nodes.

For each fleet size, creates a fresh database (SQLite by default, or PostgreSQL with
--database-url), enrolls the nodes (bulk insert), deploys a few pipelines that use secrets
and certificates, and serves the app with gunicorn and the production config (gevent
workers) on a free localhost port. Then measures GET /api/agent/config (random nodes of the
fleet polling) next to GET /healthz from a concurrent client with a bounded number of
requests, in rounds alternating between the sizes. Prints one table and saves it under
bench/results/ with the machine's core count.

    .venv/bin/python bench/config_poll.py
    .venv/bin/python bench/config_poll.py \
        --database-url postgresql://postgres@127.0.0.1:5432/vf_bench
    .venv/bin/python bench/config_poll.py --profile      # cProfile of the poll, in-process

With --database-url .../vf_bench the databases vf_bench_100 and vf_bench_10000 are created
afresh (dropped first if they exist) and dropped at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import platform
import pstats
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import sqlalchemy as sa
from common import refresh_planner_statistics

from vectorflow import create_app
from vectorflow.config import normalise_database_url
from vectorflow.extensions import db
from vectorflow.models import (
    Environment,
    LogLevel,
    NodeStatus,
    Pipeline,
    PipelineVersion,
    Secret,
    Team,
    VectorNode,
    utcnow,
)
from vectorflow.models.base import new_id
from vectorflow.security import NODE_PREFIX, encrypt, generate_token, token_digest
from vectorflow.simulator.http import HTTPClient

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-secret-key-not-for-production"
SAMPLE_TOKENS = 1000  # nodes whose tokens the client polls with, spread over the whole fleet
PEM = "-----BEGIN CERTIFICATE-----\n" + "MIIB" * 200 + "\n-----END CERTIFICATE-----\n"
PIPELINES = {
    "app-logs": """sources:
  app:
    type: file
    include: [/var/log/app/*.log]
transforms:
  parse:
    type: remap
    inputs: [app]
    source: '. = parse_json!(.message)'
sinks:
  es:
    type: elasticsearch
    inputs: [parse]
    endpoints: [https://es.internal:9200]
    auth:
      strategy: basic
      user: vector
      password: SECRET[es-password]
""",
    "syslog": """sources:
  syslog:
    type: syslog
    mode: tcp
    address: 0.0.0.0:514
    tls:
      enabled: true
      ca_file: CERT[ca-bundle]
sinks:
  s3:
    type: aws_s3
    inputs: [syslog]
    bucket: logs
    region: us-east-1
    auth:
      access_key_id: SECRET[aws-key-id]
      secret_access_key: SECRET[aws-secret]
""",
    "metrics": """sources:
  host:
    type: host_metrics
sinks:
  prom:
    type: prometheus_exporter
    inputs: [host]
    address: 0.0.0.0:9598
""",
    "audit": """sources:
  journald:
    type: journald
sinks:
  splunk:
    type: splunk_hec_logs
    inputs: [journald]
    endpoint: https://splunk.internal:8088
    default_token: SECRET[hec-token]
    encoding:
      codec: json
""",
    "debug": """sources:
  demo:
    type: demo_logs
    format: json
sinks:
  out:
    type: blackhole
    inputs: [demo]
""",
}
SECRETS = {"es-password": "es-pw", "aws-key-id": "AKIA0000", "aws-secret": "aws/secret",
           "hec-token": "hec-0000", "unused": "nobody-reads-this", "ca-bundle": PEM}


# --- database --------------------------------------------------------------------------------


def prepare_database(url: str | None, workdir: Path) -> str:
    """Return the SQLAlchemy URL of an empty database, created for this run."""
    if not url:
        return f"sqlite:///{workdir / 'bench.db'}"
    url = normalise_database_url(url)
    if not url.startswith("postgresql"):
        raise SystemExit("--database-url must be a PostgreSQL URL (SQLite is the default)")
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(sa.engine.make_url(url).set(database="postgres"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def drop_database(url: str) -> None:
    """Drop a PostgreSQL database this run created (SQLite files go with the work folder)."""
    if not url.startswith("postgresql"):
        return
    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def app_for(url: str, workdir: Path):
    os.environ["VECTORFLOW_INSTANCE_PATH"] = str(workdir / "instance")
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY,
                       "VECTORFLOW_SWEEP_INTERVAL": 0})


def seed_environment(app) -> str:
    """Create a team and environment with deployed pipelines and their secrets."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        team = Team(name="Bench")
        env = Environment(team=team, name="production")
        db.session.add_all([team, env])
        db.session.flush()
        for name, value in SECRETS.items():
            db.session.add(Secret(environment=env, name=name, encrypted_value=encrypt(value)))
        for name, config in PIPELINES.items():
            pipeline = Pipeline(environment=env, name=name, draft_yaml=config, deployed=True,
                                deployed_at=utcnow())
            db.session.add(pipeline)
            db.session.flush()
            for version in (1, 2, 3):  # older versions exist and must not be sent
                db.session.add(PipelineVersion(pipeline_id=pipeline.id, version=version,
                                               config_yaml=config + f"# v{version}\n",
                                               log_level=LogLevel.INFO))
        db.session.commit()
        return env.id


def grow_fleet(app, env_id: str, size: int, tokens: list[str]) -> None:
    """Enroll nodes (bulk insert) until the fleet has ``size``; keep a sample of their tokens."""
    with app.app_context():
        have = db.session.scalar(sa.select(sa.func.count()).select_from(VectorNode))
        now = utcnow()
        rows = []
        for i in range(have, size):
            token = generate_token(NODE_PREFIX)
            rows.append({"id": new_id(), "environment_id": env_id, "name": f"node-{i:05d}",
                         "host": f"node-{i:05d}.internal", "status": NodeStatus.HEALTHY,
                         "enrolled_at": now, "last_heartbeat": now, "last_seen": now,
                         "labels": {}, "node_token_digest": token_digest(token),
                         "created_at": now})
            tokens.append(token)
        for start in range(0, len(rows), 1000):
            db.session.execute(sa.insert(VectorNode), rows[start:start + 1000])
        db.session.commit()
        refresh_planner_statistics()


# --- serving and measuring ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn with the production config (gunicorn.conf.py: gevent workers)."""

    def __init__(self, url: str, workdir: Path, workers: int | None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET_KEY,
                   VECTORFLOW_INSTANCE_PATH=str(workdir / "instance"))
        if workers:
            env["WEB_CONCURRENCY"] = str(workers)
        self.log = open(workdir / "gunicorn.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.log.name}")
            time.sleep(0.2)
        raise SystemExit("gunicorn did not become ready")

    def cpu_seconds(self) -> float | None:
        """Return the CPU time used so far by the master and its workers (Linux), else None."""
        tick = os.sysconf("SC_CLK_TCK")
        total, found = 0, False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) == self.process.pid or int(fields[1]) == self.process.pid:
                total += int(fields[11]) + int(fields[12])  # utime + stime
                found = True
        return total / tick if found else None

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def measure(base: str, path: str, tokens: list[str] | None, requests: int,
            concurrency: int) -> dict:
    """Send ``requests`` GETs from ``concurrency`` concurrent clients; return rate and latencies.

    The client is the simulator's asyncio HTTP/1.1 client (keep-alive, a few microseconds of
    CPU per request), so on a small machine the server, not the client, is what is measured.
    """
    return asyncio.run(_measure(base, path, tokens, requests, concurrency))


async def _measure(base, path, tokens, requests, concurrency) -> dict:
    client = HTTPClient(base, max_connections=concurrency)
    latencies: list[float] = []
    failures: list[int] = []
    remaining = requests
    rng = random.Random(requests)

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            headers = {"Authorization": f"Bearer {rng.choice(tokens)}"} if tokens else None
            started = time.perf_counter()
            response = await client.request("GET", path, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                failures.append(response.status)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await client.aclose()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{path}: {len(failures)} failed requests, e.g. status {failures[0]}")
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / wall,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def profile_poll(app, tokens: list[str], polls: int = 500) -> str:
    """Return a cProfile summary of config polls served in-process."""
    client = app.test_client()
    for token in tokens[:20]:  # warm caches as a running server would have them
        client.get("/api/agent/config", headers={"Authorization": f"Bearer {token}"})
    profiler = cProfile.Profile(time.process_time)  # CPU time: other load does not count
    profiler.enable()
    for i in range(polls):
        client.get("/api/agent/config",
                   headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"})
    profiler.disable()
    out = io.StringIO()
    order = os.environ.get("BENCH_SORT", "cumulative")  # or tottime
    pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
    return out.getvalue()


# --- main ----------------------------------------------------------------------------------------


def database_for(base_url: str | None, size: int, workdir: Path) -> str:
    """Return a fresh database for one fleet size (a file, or ``<name>_<size>`` on PostgreSQL)."""
    if not base_url:
        return prepare_database(None, workdir / f"fleet-{size}")
    parsed = sa.engine.make_url(normalise_database_url(base_url))
    return prepare_database(
        parsed.set(database=f"{parsed.database}_{size}").render_as_string(hide_password=False),
        workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--sizes", default="100,10000", help="fleet sizes, comma-separated")
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--rounds", type=int, default=5,
                        help="measurements per row, alternating between fleet sizes (best kept)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default: gunicorn.conf.py, one per core)")
    parser.add_argument("--profile", action="store_true",
                        help="profile the poll in-process at the largest size instead of serving")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="vf-bench-"))

    # One database and one server per fleet size, all built first, so that the rounds can
    # alternate between sizes and a burst of other load on the machine hits both alike.
    fleets = {}
    for size in sizes:
        (workdir / f"fleet-{size}").mkdir()
        url = database_for(args.database_url, size, workdir)
        app = app_for(url, workdir / f"fleet-{size}")
        tokens: list[str] = []
        grow_fleet(app, seed_environment(app), size, tokens)
        sample = random.Random(size).sample(tokens, min(len(tokens), SAMPLE_TOKENS))
        fleets[size] = (url, app, sample)
    backend = "postgresql" if fleets[sizes[0]][0].startswith("postgresql") else "sqlite"

    try:
        if args.profile:
            _, app, sample = fleets[max(sizes)]
            with app.app_context():
                print(profile_poll(app, sample))
        else:
            run_rounds(args, sizes, fleets, backend, workdir)
    finally:
        for url, app, _ in fleets.values():
            with app.app_context():
                db.engine.dispose()
            drop_database(url)
        shutil.rmtree(workdir, ignore_errors=True)


def run_rounds(args, sizes: list[int], fleets: dict, backend: str, workdir: Path) -> None:
    """Serve each fleet, measure in alternating rounds, print and save the table."""

    servers = {size: Server(url, workdir / f"fleet-{size}", args.workers)
               for size, (url, _, _) in fleets.items()}
    endpoints = [("/api/agent/config", True), ("/healthz", False)]
    samples: dict[tuple[int, str], list[dict]] = {}
    try:
        for server in servers.values():
            server.wait_ready()
        for size, server in servers.items():
            # As in a running fleet, every polling node has polled before (each server
            # process keeps its own poll cache, so each token is polled a few times over the
            # connections both workers hold). A poll after a change reads the database again:
            # that costs what every poll cost before the cache (README, Config poll).
            measure(server.base, "/api/agent/config", fleets[size][2], 4 * SAMPLE_TOKENS,
                    args.concurrency)
        for round_number in range(1, args.rounds + 1):
            for size, server in servers.items():
                for path, authenticated in endpoints:
                    auth = fleets[size][2] if authenticated else None
                    measure(server.base, path, auth, min(300, args.requests), args.concurrency)
                    cpu_before = server.cpu_seconds()
                    result = measure(server.base, path, auth, args.requests, args.concurrency)
                    cpu_after = server.cpu_seconds()
                    result["cpu"] = (None if cpu_before is None or cpu_after is None
                                     else (cpu_after - cpu_before) * 1000 / result["requests"])
                    samples.setdefault((size, path), []).append(result)
                    print(f"  round {round_number}  {size:>6} nodes  {path:<18} "
                          f"{result['rps']:6.0f} req/s  p50 {result['p50']:6.1f} ms  "
                          f"p99 {result['p99']:6.1f} ms  server CPU {fmt(result['cpu'])} ms/req",
                          flush=True)
    finally:
        for server in servers.values():
            server.stop()

    cores = os.cpu_count() or 1
    app = fleets[sizes[0]][1]
    with app.app_context():
        db_version = db.session.execute(sa.text(
            "SELECT sqlite_version()" if backend == "sqlite" else "SHOW server_version")).scalar()
    header = (
        f"config poll benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n"
        f"command: {' '.join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])}\n"
        f"machine: {cores} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, {backend} {db_version}\n"
        f"server: gunicorn -c gunicorn.conf.py (gevent), workers "
        f"{args.workers or os.environ.get('WEB_CONCURRENCY') or cores}; client: "
        f"{args.concurrency} concurrent keep-alive connections (the simulator's asyncio "
        f"client) on the same machine\n"
        f"each row: the best (fastest) of {args.rounds} rounds of {args.requests} requests "
        f"after a warm-up, rounds alternating between fleet sizes; other load on the machine "
        f"only ever slows a round down\n"
        f"fleet: one environment, {len(PIPELINES)} deployed pipelines (3 versions each, "
        f"4 secrets and 1 certificate referenced); each poll is one of {SAMPLE_TOKENS:,} nodes "
        f"spread over the fleet, each of which polled 4 times on average before the rounds "
        f"(the steady state of a running fleet)\n"
        f"server CPU ms/req: CPU time of the gunicorn processes / requests (steadier than "
        f"wall-clock figures when other processes compete for the cores)\n"
    )
    table = [("| nodes | endpoint | req/s | p50 ms | p99 ms | server CPU ms/req "
              "| req/s of each round |"),
             "|---:|---|---:|---:|---:|---:|---|"]
    for (size, path), results in samples.items():
        best = max(results, key=lambda r: r["rps"])
        rounds = ", ".join(f"{r['rps']:.0f}" for r in results)
        table.append(f"| {size:,} | `GET {path}` | {best['rps']:.0f} | {best['p50']:.1f} "
                     f"| {best['p99']:.1f} | {fmt(best['cpu'])} | {rounds} |")
    text = header + "\n" + "\n".join(table) + "\n"
    print()
    print(text)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"config_poll-{backend}-{cores}cores.md"
    path.write_text(text)
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
