"""Benchmark 3: fleet scale, the most agents one server holds at a 15 s poll.

For each step, N simulated agents (already enrolled: their node tokens are seeded) poll every
15 s and heartbeat after every poll, each running the environment's 3 pipelines, for
``--step-seconds`` after a warm-up of one ramp plus one poll interval. A step passes when
the p99 of polls and of heartbeats stays under 100 ms with no errors. Steps stop at the
first failure (``--keep-going`` runs them all). The simulator runs in this process, the
server (gunicorn, gevent) in its own; both share the machine's cores.

    .venv/bin/python bench/fleet_scale.py --backend postgresql --steps 1000,2000,4000
"""
from __future__ import annotations

import asyncio
import time

from common import (CpuMeter, backends, bench_app, bench_parser, fresh_database, machine, save,
                    seed, start_server, workdir)

from vectorflow.simulator import Fleet, Stats
from vectorflow.simulator.fleet import tune_gc

P99_LIMIT_MS = 100.0


async def step(url: str, token: str, agents: int, state, poll: float, seconds: float,
               server, settle: float) -> tuple[Stats, tuple, float]:
    stats = Stats()
    fleet = Fleet(url, token, agents, poll=poll, ramp=poll, state_dir=state, push=False,
                  stats=stats, seed=agents)
    tune_gc()
    runner = asyncio.get_running_loop().create_task(fleet.run())
    # Warm-up: every agent polls and heartbeats twice (its statuses appear, then turn RUNNING:
    # the burst of first heartbeats), plus ``settle`` seconds for a backlog to drain.
    await asyncio.sleep(2 * poll + settle)
    stats.reset()
    meter, sim0 = CpuMeter(server), time.process_time()
    await asyncio.sleep(seconds)
    cpu = meter.read()
    sim_cpu = time.process_time() - sim0
    snapshot = Stats()
    snapshot.latencies.update({k: list(v) for k, v in stats.latencies.items()})
    snapshot.errors.update({k: v.copy() for k, v in stats.errors.items()})
    fleet.stop()
    await runner
    return snapshot, cpu, sim_cpu


def run(backend: str, args) -> list[list[str]]:
    rows = []
    for agents in args.steps:
        # A fresh database with exactly N enrolled nodes per step: idle nodes would turn
        # UNREACHABLE during the step, and their mass transition is not what is measured here.
        wd = workdir(f"fleet-{backend}")
        url = fresh_database(backend, "fleet", wd)
        state = wd / f"state-{agents}"
        seeded = seed(bench_app(url, wd), nodes=agents, pipelines=3, state_dir=state)
        server = start_server(url, wd, workers=args.workers)
        try:
            stats, (elapsed, server_cpu), sim_cpu = asyncio.run(
                step(server.url, seeded.enroll_token, agents, state, args.poll, args.step_seconds,
                     server, args.settle))
            poll, beat = stats.summary("poll"), stats.summary("heartbeat")
            errors = stats.total_errors()
            passed = errors == 0 and max(poll.p99, beat.p99) < P99_LIMIT_MS
            cycles = max(1, beat.count)
            rows.append([backend, str(agents), f"{(poll.count + beat.count) / elapsed:.0f}",
                         f"{poll.p50:.1f}", f"{poll.p99:.1f}", f"{beat.p50:.1f}", f"{beat.p99:.1f}",
                         f"{max(poll.max, beat.max):.0f}", str(errors),
                         f"{100 * server_cpu / elapsed:.0f}%", f"{100 * sim_cpu / elapsed:.0f}%",
                         f"{1000 * server_cpu / cycles:.1f}",
                         "pass" if passed else "FAIL"])
            print(" | ".join(rows[-1]), flush=True)
            if errors:
                print(stats.report(f"errors at {agents} agents:"), flush=True)
        finally:
            server.stop()
        if not passed and not args.keep_going:
            break
    return rows


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--steps", default="1000,2000,4000,6000,8000,10000",
                        type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--step-seconds", type=float, default=300)
    parser.add_argument("--poll", type=float, default=15)
    parser.add_argument("--settle", type=float, default=30,
                        help="extra warm-up seconds after the first two polls")
    parser.add_argument("--keep-going", action="store_true")
    args = parser.parse_args()
    where = machine()
    rows = [row for backend in backends(args.backend) for row in run(backend, args)]
    header = ["database", "agents", "req/s", "poll p50", "poll p99", "hb p50", "hb p99", "max ms",
              "errors", "server CPU", "simulator CPU", "CPU ms/cycle",
              f"p99 < {P99_LIMIT_MS:.0f} ms"]
    name = "fleet_scale" if args.backend == "both" else f"fleet_scale-{args.backend}"
    save(name, f"Fleet scale at a {args.poll:g} s poll ({args.step_seconds:g} s per step)",
         header, rows, machine_line=where,
         notes="req/s counts polls and heartbeats. Latencies in ms, measured by the simulator "
               "(client side, loopback). CPU is a share of one core (200% = the whole machine); "
               "server = gunicorn master and workers (PostgreSQL's backends not included). "
               "'CPU ms/cycle' = server CPU per poll + heartbeat pair: a dedicated 2-core server "
               "holds at most 2000 x poll seconds / that many agents, before database work.")


if __name__ == "__main__":
    main()
