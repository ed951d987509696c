"""Benchmark 2: heartbeat ingest, heartbeats/s with 3 running pipelines each.

Enrolled simulated agents (tokens seeded into the database) first poll once, so each runs the
environment's 3 pipelines; then ``--concurrency`` requests stay in flight, each a complete
heartbeat of a different node (3 RUNNING pipeline statuses with counters, host metrics),
for ``--seconds``. The server is gunicorn with gevent workers, as in production.

    .venv/bin/python bench/heartbeat_ingest.py --backend both
"""
from __future__ import annotations

import asyncio
import itertools
import time

from common import (CpuMeter, backends, bench_app, bench_parser, fresh_database, latency_row,
                    machine, save, seed, start_server, workdir)

from vectorflow.simulator import Fleet, Stats
from vectorflow.simulator.fleet import tune_gc


async def drive(fleet: Fleet, concurrency: int, seconds: float, server) -> dict:
    fleet.open()
    for agent in fleet.agents:
        agent.load_token()
    # One real poll each: the agents learn the pipelines and their checksums.
    sem = asyncio.Semaphore(concurrency)

    async def poll(agent):
        async with sem:
            await agent.poll()

    await asyncio.gather(*(poll(a) for a in fleet.agents))
    for agent in fleet.agents:
        for process in agent.processes.values():
            process.started -= 120          # running for two minutes
    # One heartbeat each first: the node's statuses appear (events are emitted for changes
    # only, so the measured heartbeats are the steady state of a running fleet).
    turn = itertools.cycle(fleet.agents)
    first = len(fleet.agents)

    async def warm_up():
        nonlocal first
        while first > 0:
            first -= 1
            await next(turn).heartbeat()

    t_first = time.monotonic()
    await asyncio.gather(*(warm_up() for _ in range(concurrency)))
    first_rate = len(fleet.agents) / (time.monotonic() - t_first)

    async def worker(deadline):
        while time.monotonic() < deadline:
            await next(turn).heartbeat()

    fleet.stats.reset()
    meter = CpuMeter(server)
    await asyncio.gather(*(worker(time.monotonic() + seconds) for _ in range(concurrency)))
    elapsed, cpu = meter.read()
    await fleet.client.aclose()
    return {"elapsed": elapsed, "server_cpu": cpu, "first_rate": first_rate}


def run(backend: str, args) -> list[str]:
    wd = workdir(f"heartbeat-{backend}")
    url = fresh_database(backend, "heartbeat", wd)
    app = bench_app(url, wd)
    state = wd / "state"
    seeded = seed(app, nodes=args.nodes, pipelines=3, state_dir=state)
    server = start_server(url, wd, workers=args.workers)
    try:
        stats = Stats()
        fleet = Fleet(server.url, seeded.enroll_token, args.nodes, state_dir=state, push=False,
                      connections=args.concurrency, stats=stats)
        tune_gc()
        result = asyncio.run(drive(fleet, args.concurrency, args.seconds, server))
    finally:
        server.stop()
    beats = stats.summary("heartbeat")
    ok = max(1, beats.count - beats.errors)
    return [backend, str(server.workers), str(args.nodes), str(args.concurrency),
            f"{ok / result['elapsed']:.0f}", *latency_row(stats.latencies["heartbeat"]),
            str(beats.errors), f"{100 * result['server_cpu'] / result['elapsed']:.0f}%",
            f"{1000 * result['server_cpu'] / ok:.1f}", f"{result['first_rate']:.0f}"]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    where = machine()
    rows = [run(backend, args) for backend in backends(args.backend)]
    header = ["database", "workers", "nodes", "in flight", "heartbeats/s", "p50 ms", "p90 ms",
              "p99 ms", "max ms", "errors", "server CPU", "CPU ms/hb", "first heartbeats/s"]
    save("heartbeat_ingest", "Heartbeat ingest (3 running pipelines per heartbeat)", header, rows,
         notes="Each heartbeat: 3 pipeline statuses with counters and host metrics, from a "
               "different node each time, every node having heartbeated once before (steady "
               "state: statuses change only in counters). 'first heartbeats/s' is the rate of "
               "those first heartbeats, which insert the statuses and emit status-change "
               "events. 'server CPU' is the gunicorn processes' share of one core (200% = both), "
               "'CPU ms/hb' their CPU time per heartbeat (PostgreSQL's own work not included). "
               "The load generator and PostgreSQL share the machine.",
         machine_line=where)


if __name__ == "__main__":
    main()
