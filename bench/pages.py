"""Benchmark 6: server time to render the fleet page and the matrix at 10,000 nodes x 100 pipelines.

Seeds one environment with ``--nodes`` enrolled nodes and ``--pipelines`` deployed pipelines,
every node reporting a RUNNING status for every pipeline (1,000,000 status rows by default),
then logs in as the team's ADMIN and fetches each page ``--repeat`` times, one request at a
time, from the production server (gunicorn, gevent). Latency is measured by the client over
loopback, so it is the server's time plus a fraction of a millisecond.

    .venv/bin/python bench/pages.py --backend both
"""
from __future__ import annotations

import re
import time

import httpx
from common import (backends, bench_app, bench_parser, fresh_database, latency_row, machine, save,
                    seed, start_server, workdir)

ADMIN = "bench-admin@example.com"
PASSWORD = "bench-password"


def login(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page)
    response = client.post("/login", data={"email": ADMIN, "password": PASSWORD,
                                           "csrf_token": csrf.group(1)})
    if response.status_code not in (302, 303):
        raise RuntimeError(f"login failed with status {response.status_code}")
    return client


def time_page(client: httpx.Client, path: str, repeat: int) -> tuple[list[float], int]:
    client.get(path)                                    # warm caches and the connection
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        size = len(response.content)
    return times, size


def refresh_heartbeats(url: str, workdir_path) -> None:
    """Make every node HEALTHY with a fresh heartbeat, as in a live fleet, in one UPDATE."""
    import sqlalchemy as sa

    from vectorflow.extensions import db
    from vectorflow.models import NodeStatus, VectorNode, utcnow

    app = bench_app(url, workdir_path)
    with app.app_context():
        now = utcnow()
        db.session.execute(sa.update(VectorNode).values(last_heartbeat=now, last_seen=now,
                                                        status=NodeStatus.HEALTHY))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def run(backend: str, args) -> list[list[str]]:
    wd = workdir(f"pages-{backend}")
    url = fresh_database(backend, "pages", wd)
    started = time.monotonic()
    seeded = seed(bench_app(url, wd), nodes=args.nodes, pipelines=args.pipelines, statuses=True,
                  admin_email=ADMIN)
    print(f"{backend}: seeded {args.nodes} nodes x {args.pipelines} pipelines "
          f"in {time.monotonic() - started:.0f}s", flush=True)
    server = start_server(url, wd, workers=args.workers)
    pages = [
        ("fleet, page 1", "/"),
        ("fleet, page 100", "/?page=100"),
        ("fleet, search", "/?q=sim-0999"),
        ("fleet, status filter", f"/?env={seeded.env_id}&status=HEALTHY&page=50"),
        ("fleet, maintenance filter", "/?status=MAINTENANCE"),
        ("fleet, drift filter", "/?drift=1"),
        ("fleet, errors filter", "/?errors=1"),
        ("fleet, label selector", "/?selector=role%3Dedge"),
        ("fleet, sorted by last seen", "/?sort=-seen&page=20"),
        ("matrix, page 1", f"/matrix/{seeded.env_id}"),
        ("matrix, last page", f"/matrix/{seeded.env_id}?page=100000"),
    ]
    rows = []
    try:
        client = login(server.url)
        for name, path in pages:
            refresh_heartbeats(url, wd)
            times, size = time_page(client, path, args.repeat)
            rows.append([backend, name, *latency_row(times), f"{size / 1024:.0f}"])
            print(" | ".join(rows[-1]), flush=True)
    finally:
        server.stop()
    return rows


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--pipelines", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    where = machine()
    rows = [row for backend in backends(args.backend) for row in run(backend, args)]
    header = ["database", "page", "p50 ms", "p90 ms", "p99 ms", "max ms", "KiB"]
    save("pages", f"Pages with {args.nodes:,} nodes and {args.pipelines} deployed pipelines",
         header, rows, machine_line=where,
         notes=f"{args.repeat} sequential requests per page after one warm-up, logged in as the "
               "team's ADMIN; every node is HEALTHY (fresh heartbeat) and reports every "
               f"pipeline RUNNING ({args.nodes * args.pipelines:,} status rows). Fleet pages "
               "show 100 nodes, matrix pages 50 node columns x all pipelines.")


if __name__ == "__main__":
    main()
