#!/usr/bin/env python3
"""Where a config poll or a heartbeat spends its time: cProfile over in-process requests.

The app runs in this process (Flask's test client: no HTTP server), with a fresh database of
20 enrolled nodes and 3 deployed pipelines, caches warm and statuses steady; then
``--requests`` polls or heartbeats run under cProfile and the top functions are printed:

    .venv/bin/python bench/profile_agent.py --backend postgresql --what heartbeat
    .venv/bin/python bench/profile_agent.py --what poll --sort tottime --callees _record_batch

Profiles show proportions, not speed (the profiler slows every call); compare instruction
counts (bench/instructions.py) for before/after.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_app, fresh_database, seed
from instructions import HEARTBEAT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--what", default="poll", choices=["poll", "heartbeat"])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--sort", default="cumulative", help="pstats sort key")
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--callees", help="also print what functions matching this call")
    args = parser.parse_args()

    wd = Path(tempfile.mkdtemp(prefix="vf-profile-"))
    app = bench_app(fresh_database(args.backend, "profile", wd), wd)
    seed(app, nodes=20, pipelines=3, state_dir=wd / "state")
    tokens = [p.read_text() for p in sorted((wd / "state").glob("*/node-token"))]
    client = app.test_client()

    def headers(token):
        return {"Authorization": f"Bearer {token}"}

    pipelines = client.get("/api/agent/config", headers=headers(tokens[0])).get_json()["pipelines"]
    body = dict(HEARTBEAT, pipelines=[
        {"pipelineId": p["pipelineId"], "version": p["version"], "status": "RUNNING",
         "configChecksum": p["checksum"]} for p in pipelines])

    def poll(token):
        assert client.get("/api/agent/config", headers=headers(token)).status_code == 200

    def heartbeat(token):
        assert client.post("/api/agent/heartbeat", json=body,
                           headers=headers(token)).status_code == 200

    for token in tokens * 2:  # caches warm, statuses steady
        poll(token)
        heartbeat(token)
    call = poll if args.what == "poll" else heartbeat
    profile = cProfile.Profile()
    profile.enable()
    for n in range(args.requests):
        call(tokens[n % len(tokens)])
    profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats(args.sort).print_stats(args.lines)
    if args.callees:
        stats.print_callees(args.callees)


if __name__ == "__main__":
    main()
