"""Benchmark: agent log ingest (lines/s per core) and the cost of 100 open live tails.

Seeds ``--nodes`` enrolled nodes and 3 deployed pipelines, starts the production server
(gunicorn, gevent) with ``--workers`` workers (default 1), then for ``--seconds`` keeps ``--concurrency``
POST /api/agent/logs in flight, each from a different node: one batch per pipeline of
``--lines`` lines (what a chatty Vector writes in the agent's 2 s flush interval). Run twice:
with no browser watching, then with ``--tails`` live tails open (GET /nodes/<id>/logs/stream,
signed in as a team member), each on a different node that is posting. Also measured: the
server's CPU while the tails are open and nothing is posted (their idle cost), and how long a
line takes from its post to a tail.

    .venv/bin/python bench/log_ingest.py --backend both

'lines/s per core' is lines/s divided by the server processes' CPU (cores busy); PostgreSQL's
own work is not included. The load generator and the database share the machine.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import re
import time

import httpx
import sqlalchemy as sa
from common import (
    CpuMeter,
    backends,
    bench_app,
    bench_parser,
    fresh_database,
    latency_row,
    machine,
    save,
    seed,
    start_server,
    workdir,
)

ADMIN = "bench-admin@example.test"


async def sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    answer = await client.post("/login", data={"email": ADMIN, "password": "bench-password",
                                               "csrf_token": token})
    assert answer.status_code == 302, answer.status_code


async def open_tail(client: httpx.AsyncClient, node_id: str, after: int, arrivals: list[float],
                    ready: asyncio.Event, opened: list[int]) -> None:
    """Follow one node's tail from ``after`` (as the node page does, from its newest line);
    record each line's delay from its post (stamped in the line)."""
    async with client.stream("GET", f"/nodes/{node_id}/logs/stream?after={after}") as stream:
        assert stream.status_code == 200, stream.status_code
        opened.append(1)
        if len(opened) >= ready.target:  # type: ignore[attr-defined]
            ready.set()
        async for line in stream.aiter_lines():
            if line.startswith("data: ["):
                now = time.time()
                for item in json.loads(line[6:]):
                    stamp = re.search(r"sent=(\d+\.\d+)", item["message"])
                    if stamp:
                        arrivals.append(1000 * (now - float(stamp.group(1))))


async def ingest(url: str, tokens: list[tuple[str, str]], pipelines: list[str], lines: int,
                 concurrency: int, seconds: float, server) -> dict:
    latencies: list[float] = []
    errors = 0
    turn = itertools.cycle(tokens)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(
            max_connections=concurrency + 4)) as client:

        async def worker(deadline: float) -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                _, token = next(turn)
                body = [{"pipelineId": pid, "lines": [
                    f"{time.strftime('%Y-%m-%dT%H:%M:%S')}.000000Z  INFO vector::sinks::http: "
                    f"Sent batch. line={i} sent={time.time():.6f}" for i in range(lines)]}
                        for pid in pipelines]
                started = time.perf_counter()
                response = await client.post("/api/agent/logs", json=body,
                                             headers={"Authorization": f"Bearer {token}"})
                latencies.append(1000 * (time.perf_counter() - started))
                if response.status_code != 200:
                    errors += 1

        meter = CpuMeter(server)
        await asyncio.gather(*(worker(time.monotonic() + seconds) for _ in range(concurrency)))
        elapsed, cpu = meter.read()
    posts = len(latencies) - errors
    return {"posts": posts, "lines": posts * lines * len(pipelines), "elapsed": elapsed,
            "cpu": cpu, "latencies": latencies, "errors": errors}


async def follow(url: str, node_ids: list[str], after: int, ready, stop, out) -> None:
    """In the tail process: sign in, open one tail per node, read until told to stop."""
    arrivals: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30, read=None),
                                 limits=httpx.Limits(max_connections=len(node_ids) + 8)) as browser:
        await sign_in(browser)
        opened_all = asyncio.Event()
        opened_all.target = len(node_ids)  # type: ignore[attr-defined]
        opened: list[int] = []
        tails = [asyncio.create_task(open_tail(browser, node_id, after, arrivals, opened_all,
                                               opened)) for node_id in node_ids]
        await asyncio.wait_for(opened_all.wait(), 60)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for task in tails:
            task.cancel()
        await asyncio.gather(*tails, return_exceptions=True)
    out.put(arrivals)


def tail_process(url, node_ids, after, ready, stop, out) -> None:
    asyncio.run(follow(url, node_ids, after, ready, stop, out))


async def measure(url: str, seeded, tokens, args, server, newest) -> list[dict]:
    results = [await ingest(url, tokens, seeded.pipeline_ids, args.lines, args.concurrency,
                            args.seconds, server)]
    results[0]["tails"] = 0
    if not args.tails:
        return results
    # The browsers are another process: reading 100 streams must not slow the posting client.
    context = multiprocessing.get_context("spawn")
    ready, stop, out = context.Event(), context.Event(), context.Queue()
    # The first nodes of the rotation are the ones watched: every tail gets lines.
    watcher = context.Process(target=tail_process, args=(
        url, [node_id for node_id, _ in tokens[:args.tails]], newest(), ready, stop, out))
    watcher.start()
    try:
        while not ready.is_set():
            await asyncio.sleep(0.1)
        meter = CpuMeter(server)
        await asyncio.sleep(args.idle)
        idle_elapsed, idle_cpu = meter.read()
        loaded = await ingest(url, tokens, seeded.pipeline_ids, args.lines, args.concurrency,
                              args.seconds, server)
        await asyncio.sleep(1.0)  # the last lines reach the tails
    finally:
        stop.set()
    arrivals = out.get(timeout=60)
    watcher.join(30)
    loaded.update(tails=args.tails, idle=100 * idle_cpu / idle_elapsed, arrivals=arrivals)
    results.append(loaded)
    return results


def run(backend: str, args) -> list[list[str]]:
    wd = workdir(f"log-ingest-{backend}")
    url = fresh_database(backend, "logingest", wd)
    app = bench_app(url, wd)
    state = wd / "state"
    seeded = seed(app, nodes=args.nodes, pipelines=3, state_dir=state, admin_email=ADMIN)
    tokens = []
    width = max(4, len(str(args.nodes)))
    for i, node_id in enumerate(seeded.node_ids, start=1):
        tokens.append((node_id, (state / f"sim-{i:0{width}d}" / "node-token").read_text()))
    server = start_server(url, wd, workers=args.workers or 1,
                          env={"VECTORFLOW_TAIL_POLL": "0.5"})
    def newest() -> int:
        from vectorflow.extensions import db
        from vectorflow.models import LogLine

        with app.app_context():
            value = db.session.scalar(sa.select(sa.func.max(LogLine.id))) or 0
            db.session.remove()
            return value

    try:
        results = asyncio.run(measure(server.url, seeded, tokens, args, server, newest))
    finally:
        server.stop()
    rows = []
    for r in results:
        busy = r["cpu"] / r["elapsed"]
        delivered = r.get("arrivals") or []
        rows.append([
            backend, str(server.workers), str(r["tails"]), str(args.lines * 3),
            f"{r['lines'] / r['elapsed']:.0f}", *latency_row(r["latencies"])[:3:2],
            str(r["errors"]), f"{100 * busy:.0f}%", f"{r['lines'] / max(r['cpu'], 1e-9):.0f}",
            f"{r['idle']:.1f}%" if "idle" in r else "—",
            (f"{latency_row(delivered)[0]} / {latency_row(delivered)[2]}"
             if delivered else "—"),
            str(len(delivered)) if r["tails"] else "—",
        ])
    return rows


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--lines", type=int, default=20, help="lines per pipeline per post")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--tails", type=int, default=100)
    parser.add_argument("--idle", type=float, default=10, help="seconds of tails with no posts")
    args = parser.parse_args()
    where = machine()
    rows = [row for backend in backends(args.backend) for row in run(backend, args)]
    header = ["database", "workers", "open tails", "lines/post", "lines/s", "post p50 ms",
              "post p99 ms", "errors", "server CPU", "lines/s per core",
              "idle CPU of the tails", "to tail p50 / p99 ms", "lines tailed"]
    save("log_ingest", "Agent log ingest and live tails", header, rows,
         notes="Each post: 3 batches (one per pipeline) of --lines lines, from a different node "
               "each time. 'lines/s per core' = lines stored per CPU-second of the server "
               "processes. With tails open, each tail follows one of the posting nodes; "
               "'idle CPU of the tails' is the server's CPU share while they are open and "
               "nothing is posted (the reader polls every VECTORFLOW_TAIL_POLL = 0.5 s); "
               "'to tail' is from the moment a line was written into a post to its arrival "
               "on a tail (the reader is woken by the post's commit in the same process).",
         machine_line=where)


if __name__ == "__main__":
    main()
