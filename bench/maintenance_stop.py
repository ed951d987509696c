"""Benchmark 5: maintenance to stopped, from the toggle to the agents reporting nothing running.

N simulated agents (enrolled, default 15 s poll from the system settings) run the
environment's 3 pipelines. First ``--singles`` nodes are put into maintenance one at a time
(POST /api/v1/nodes/<id>/maintenance, an ADMIN service token), then all the others with one
bulk call; for each agent the time is taken from just before its call to the heartbeat in
which it reports no running pipeline. Once
with polling only, once with the agent push stream (config_changed -> poll at once).

    .venv/bin/python bench/maintenance_stop.py --backend both --agents 100
"""
from __future__ import annotations

import asyncio
import time

import httpx
from common import (backends, bench_app, bench_parser, fresh_database, latency_row, machine, save,
                    seed, start_server, workdir)

from vectorflow.simulator import Fleet
from vectorflow.simulator.fleet import tune_gc


def api_token(app, team_id: str) -> str:
    from vectorflow.extensions import db
    from vectorflow.models import Role, Team
    from vectorflow.services.actors import Actor
    from vectorflow.services.tokens import create_service_token

    with app.app_context():
        _, raw = create_service_token(db.session.get(Team, team_id), "bench", Role.ADMIN,
                                      actor=Actor.cli())
        db.session.commit()
        db.session.remove()
    return raw


def toggle(url: str, token: str, node_ids: list[str], enabled: bool) -> float:
    """Toggle maintenance with one REST call (the bulk route for several nodes); return its ms."""
    started = time.perf_counter()
    body = {"enabled": enabled, "force": True, "reason": "benchmark"}
    if len(node_ids) == 1:
        path = f"/api/v1/nodes/{node_ids[0]}/maintenance"
    else:
        path, body["nodeIds"] = "/api/v1/nodes/maintenance", node_ids
    response = httpx.post(url + path, timeout=60, headers={"Authorization": f"Bearer {token}"},
                          json=body)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


async def wait_stopped(fleet: Fleet, hostnames: set[str], t0: float, timeout: float) -> dict:
    """Return hostname -> ms from ``t0`` to its first heartbeat reporting nothing running."""
    stopped: dict[str, float] = {}
    end = t0 + timeout
    agents = [a for a in fleet.agents if a.hostname in hostnames]
    while len(stopped) < len(agents) and time.monotonic() < end:
        for agent in agents:
            report = agent.last_report
            if agent.hostname not in stopped and report and report[0] > t0 and report[1] == 0:
                stopped[agent.hostname] = (report[0] - t0) * 1000
        await asyncio.sleep(0.01)
    return stopped


async def measure(server_url: str, seeded, agents: int, push: bool, token: str,
                  timeout: float, singles: int) -> tuple[list[float], int, float, list[float]]:
    fleet = Fleet(server_url, seeded.enroll_token, agents, state_dir=seeded.state_dir, push=push,
                  ramp=15.0, seed=f"maint-{push}")
    tune_gc()
    runner = asyncio.get_running_loop().create_task(fleet.run())
    deadline = time.monotonic() + 120

    def settled():
        return all(a.last_report and a.last_report[1] == 3 and (not push or a.push_connected)
                   for a in fleet.agents)

    while not settled():
        if time.monotonic() > deadline:
            raise RuntimeError("the fleet did not reach 3 running pipelines per agent")
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)
    # One node at a time first (the usual operator action), then the whole fleet at once.
    single_times = []
    for node_id, agent in list(zip(seeded.node_ids, fleet.agents))[:singles]:
        t0 = time.monotonic()
        await asyncio.to_thread(toggle, server_url, token, [node_id], True)
        single_times.extend((await wait_stopped(fleet, {agent.hostname}, t0, timeout)).values())
    rest = list(zip(seeded.node_ids, fleet.agents))[singles:agents]
    t0 = time.monotonic()
    call_ms = await asyncio.to_thread(toggle, server_url, token, [n for n, _ in rest], True)
    stopped = await wait_stopped(fleet, {a.hostname for _, a in rest}, t0, timeout)
    fleet.stop()
    await runner
    await asyncio.to_thread(toggle, server_url, token, seeded.node_ids[:agents], False)
    return list(stopped.values()), len(rest) - len(stopped), call_ms, single_times


def run(backend: str, args) -> list[list[str]]:
    wd = workdir(f"maintenance-{backend}")
    url = fresh_database(backend, "maintenance", wd)
    app = bench_app(url, wd)
    seeded = seed(app, nodes=args.agents, pipelines=3, state_dir=wd / "state")
    token = api_token(app, seeded.team_id)
    server = start_server(url, wd, workers=args.workers)
    rows = []
    try:
        for push in (False, True):
            times, missing, call_ms, singles = asyncio.run(
                measure(server.url, seeded, args.agents, push, token, args.timeout, args.singles))
            delivery = "push stream" if push else "poll only (15 s)"
            rows.append([backend, delivery, f"1 node x {args.singles}", "-",
                         *latency_row(singles), str(args.singles - len(singles))])
            rows.append([backend, delivery, f"{args.agents - args.singles} nodes at once",
                         f"{call_ms:.0f}", *latency_row(times), str(missing)])
            print(" | ".join(rows[-2]) + "\n" + " | ".join(rows[-1]), flush=True)
    finally:
        server.stop()
    return rows


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--singles", type=int, default=10,
                        help="nodes toggled one at a time before the bulk toggle of the rest")
    args = parser.parse_args()
    where = machine()
    rows = [row for backend in backends(args.backend) for row in run(backend, args)]
    header = ["database", "delivery", "toggle", "bulk call ms", "p50 ms", "p90 ms", "p99 ms",
              "max ms", "not stopped"]
    save("maintenance_stop", "Maintenance to stopped (toggle -> heartbeat with nothing running)",
         header, rows, machine_line=where,
         notes="Time per agent from just before its REST toggle to its first heartbeat "
               "reporting no running pipeline: first single nodes one after another "
               "(POST /api/v1/nodes/<id>/maintenance), then all the others in one bulk call "
               "(POST /api/v1/nodes/maintenance; 'bulk call ms' is that call itself). "
               "Without push the wait is bounded by the 15 s poll interval (uniformly spread); "
               "with push the agent polls as soon as the config_changed message arrives.")


if __name__ == "__main__":
    main()
