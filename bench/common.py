"""Helpers shared by the benchmarks: databases, seeding, the production server, result tables.

Benchmarks run by hand (never in the test suite), against the production server stack
(gunicorn with gevent workers, see gunicorn.conf.py) on PostgreSQL and on SQLite:

    .venv/bin/python bench/<name>.py [--backend sqlite|postgresql|both] ...

Each prints one Markdown table and saves it to bench/results/<name>.md with the machine's
core count, the load average, the commit and the exact command. PostgreSQL databases are
created on BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres); a cluster
of its own keeps other sessions' CREATE/DROP DATABASE checkpoints out of the latencies.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vectorflow import create_app  # noqa: E402
from vectorflow.simulator.server import ServerProcess  # noqa: E402
from vectorflow.simulator.stats import format_table, percentile  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET_KEY = "bench-secret-key-not-for-production"
BACKENDS = ("postgresql", "sqlite")

DEMO_YAML = """\
sources:
  in_{n}:
    type: demo_logs
    format: json
transforms:
  tag_{n}:
    type: remap
    inputs: [in_{n}]
    source: .pipeline = "{n}"
sinks:
  out_{n}:
    type: blackhole
    inputs: [tag_{n}]
"""


def backends(choice: str) -> list[str]:
    """Return the backends selected by a ``--backend`` option (sqlite, postgresql or both)."""
    return list(BACKENDS) if choice == "both" else [choice]


def fresh_database(backend: str, name: str, workdir: Path) -> str:
    """Create an empty database for one benchmark run, migrate it, and return its URL."""
    if backend == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        import psycopg

        db_name = f"vf_bench_{name}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db_name}"')
        url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) \
            + "/" + db_name
    app = bench_app(url, workdir)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    return url


def bench_app(url: str, workdir: Path):
    """Return an app bound to the benchmark database (for seeding and toggles)."""
    os.environ["VECTORFLOW_INSTANCE_PATH"] = str(workdir)
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY,
                       "VECTORFLOW_SWEEP_INTERVAL": 0})


@dataclass
class Seeded:
    env_id: str
    team_id: str
    enroll_token: str
    pipeline_ids: list[str]
    node_ids: list[str] = field(default_factory=list)
    state_dir: Path | None = None


def seed(app, *, nodes: int = 0, pipelines: int = 3, state_dir: Path | None = None,
         prefix: str = "sim", statuses: bool = False, poll_interval_ms: int | None = None,
         admin_email: str | None = None) -> Seeded:
    """Create a team, an environment and deployed pipelines; bulk-insert enrolled nodes.

    Node tokens go to ``<state_dir>/<hostname>/node-token`` with the simulator's hostnames,
    so a fleet started with that state dir polls at once instead of enrolling. With
    ``statuses``, every node also gets a RUNNING status row for every pipeline.
    """
    from vectorflow.extensions import db
    from vectorflow.models import (
        NodePipelineStatus,
        NodeStatus,
        ProcessStatus,
        Role,
        SystemSettings,
        VectorNode,
        utcnow,
    )
    from vectorflow.models.base import new_id
    from vectorflow.security import NODE_PREFIX, generate_token, token_digest
    from vectorflow.services.accounts import create_team, create_user, set_membership
    from vectorflow.services.actors import Actor
    from vectorflow.services.environments import (
        create_environment,
        issue_enrollment_token,
    )
    from vectorflow.services.pipelines import create_pipeline, deploy_pipeline

    actor = Actor.cli()
    with app.app_context():
        team = create_team("Bench", actor=actor)
        env = create_environment(team, "bench", actor=actor)
        token = issue_enrollment_token(env, actor=actor)
        if admin_email:
            user = create_user(admin_email, "bench-password", superadmin=False, actor=actor)
            set_membership(team, user, Role.ADMIN, actor=actor)
        if poll_interval_ms:
            settings = SystemSettings.get()
            settings.fleet_poll_interval_ms = poll_interval_ms
            db.session.merge(settings)
        pipeline_ids, versions = [], {}
        for n in range(1, pipelines + 1):
            pipeline = create_pipeline(env, f"pipeline-{n:03d}", DEMO_YAML.format(n=n), actor=actor)
            version = deploy_pipeline(pipeline, actor=actor)
            pipeline_ids.append(pipeline.id)
            versions[pipeline.id] = version.version
        db.session.commit()
        seeded = Seeded(env.id, team.id, token, pipeline_ids, state_dir=state_dir)
        width = max(4, len(str(nodes)))
        now = utcnow()
        for start in range(1, nodes + 1, 1000):
            rows, status_rows = [], []
            for i in range(start, min(nodes, start + 999) + 1):
                hostname = f"{prefix}-{i:0{width}d}"
                node_token = generate_token(NODE_PREFIX)
                node_id = new_id()
                rows.append(dict(id=node_id, environment_id=env.id, name=hostname, host=hostname,
                                 status=NodeStatus.HEALTHY, enrolled_at=now, last_heartbeat=now,
                                 last_seen=now, agent_version="1.4.0", vector_version="0.54.0",
                                 os="linux/amd64", labels={"simulated": "true"},
                                 node_token_digest=token_digest(node_token), created_at=now))
                seeded.node_ids.append(node_id)
                if state_dir is not None:
                    path = state_dir / hostname / "node-token"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(node_token)
                if statuses:
                    status_rows.extend(
                        dict(node_id=node_id, pipeline_id=pid, version=versions[pid],
                             status=ProcessStatus.RUNNING, pid=1000 + i, uptime_seconds=60,
                             events_in=1000, events_out=990, errors_total=0, events_discarded=0,
                             bytes_in=200_000, bytes_out=190_000, last_updated=now)
                        for pid in pipeline_ids)
            db.session.execute(sa.insert(VectorNode), rows)
            for chunk in range(0, len(status_rows), 20_000):
                db.session.execute(sa.insert(NodePipelineStatus), status_rows[chunk:chunk + 20_000])
            db.session.commit()
        refresh_planner_statistics()
        db.session.remove()
        db.engine.dispose()
    return seeded


def refresh_planner_statistics() -> None:
    """ANALYZE a freshly seeded PostgreSQL database, as autovacuum keeps it on a live server;
    without it PostgreSQL plans against the empty tables the migration made. (SQLite keeps
    no statistics unless asked, so nothing is done there.)"""
    from vectorflow.extensions import db

    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()


def start_server(url: str, workdir: Path, *, workers: int | None = None, env: dict | None = None,
                 name: str = "server") -> ServerProcess:
    """Start gunicorn with the production config (gevent) against ``url``."""
    extra = {"SECRET_KEY": SECRET_KEY}
    extra.update(env or {})
    server = ServerProcess(database_url=url, instance_path=workdir, workers=workers or os.cpu_count(),
                           env=extra, log_path=workdir / f"{name}.log")
    return server.start(timeout=60)


def cpu_seconds(pids: list[int]) -> float:
    """Return the user+system CPU seconds used so far by these processes."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


class CpuMeter:
    """CPU seconds used by the server's processes (gunicorn master and workers).

    PostgreSQL's backends are not counted: the pool opens and closes overflow connections,
    and other databases on the same server would blur the figure.
    """

    def __init__(self, server):
        self.server = server
        self.t0 = time.monotonic()
        self.cpu0 = cpu_seconds(server.pids())

    def read(self) -> tuple[float, float]:
        """Return (elapsed seconds, server CPU seconds) since the meter was made."""
        return time.monotonic() - self.t0, cpu_seconds(self.server.pids()) - self.cpu0


def latency_row(values_ms: list[float]) -> list[str]:
    """Return p50, p90, p99 and max of latencies (ms) as table cells."""
    values = sorted(values_ms)
    if not values:
        return ["-"] * 4
    return [f"{percentile(values, q):.1f}" for q in (50, 90, 99)] + [f"{values[-1]:.1f}"]


def workdir(name: str) -> Path:
    """Return a scratch directory for one benchmark (SQLite files, logs, node tokens)."""
    path = Path(tempfile.gettempdir()) / "vectorflow-bench" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """Return the command-line parser with the options every server benchmark takes."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default: gunicorn.conf.py's, one per core)")
    return parser


def machine() -> str:
    """Describe the machine: cores, load average, commit."""
    load = os.getloadavg()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    return (f"nproc {os.cpu_count()}, load average before the run {load[0]:.2f}, "
            f"commit {commit or '?'}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")


def save(name: str, title: str, header: list[str], rows: list[list[str]], notes: str = "",
         machine_line: str | None = None) -> str:
    """Print the table and save it (with machine, command and notes) to bench/results/<name>.md."""
    table = format_table(header, rows)
    command = "python " + " ".join(shlex.quote(a) for a in [f"bench/{Path(sys.argv[0]).name}",
                                                            *sys.argv[1:]])
    text = (f"## {title}\n\n{machine_line or machine()}\n\n`{command}`\n\n{table}\n"
            + (f"\n{notes.strip()}\n" if notes else ""))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)
    print("\n" + text)
    return text


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
