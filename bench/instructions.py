#!/usr/bin/env python3
"""Instructions per config poll and per heartbeat, counted by valgrind's callgrind.

Wall-clock figures on a shared 2-core machine move with whatever else runs; instruction counts
do not (the same code and inputs give the same count within a fraction of a percent). This
runs the app in-process (Flask's test client: no HTTP server, no load generator), with a fresh
database of 100 enrolled nodes and 3 deployed pipelines, warms every cache with two rounds of
poll + heartbeat per node, then counts the instructions of ``--requests`` polls and as many
steady heartbeats (random nodes), on the main thread only (not the live feed's thread).
Database round trips are waits, not instructions: the statements themselves are compared
separately (README, Performance).

    .venv/bin/python bench/instructions.py                       # this checkout, both databases
    .venv/bin/python bench/instructions.py --checkout ../old     # another checkout (its own .venv)

Needs valgrind (Debian's package). Millions of instructions per request are printed as JSON.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HEARTBEAT = {
    "agentVersion": "2.0.0", "vectorVersion": "0.54.0", "deploymentMode": "DOCKER",
    "runningAs": "vectorflow", "labels": {"region": "us-east-1", "role": "ingest"},
    "hostMetrics": {"memoryTotalBytes": 17179869184, "memoryUsedBytes": 8589934592,
                    "cpuSecondsTotal": 12345.6, "cpuSecondsIdle": 5432.1, "loadAvg1": 0.7,
                    "netRxBytes": 4096, "netTxBytes": 8192},
}


def child(backend: str, requests: int) -> None:
    """The measured process: set up, then two phases, each started by a line on stdin."""
    sys.path.insert(0, str(Path.cwd() / "bench"))
    from common import bench_app, fresh_database, seed

    wd = Path(tempfile.mkdtemp(prefix="vf-instructions-"))
    app = bench_app(fresh_database(backend, "instructions", wd), wd)
    seed(app, nodes=100, pipelines=3, state_dir=wd / "state")
    tokens = [p.read_text() for p in sorted((wd / "state").glob("*/node-token"))]
    client = app.test_client()
    running = {}

    def poll(token):
        answer = client.get("/api/agent/config", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.data[:300]
        return answer.get_json()

    def heartbeat(i, n):
        body = dict(HEARTBEAT, pipelines=[
            {"pipelineId": pid, "version": version, "status": "RUNNING", "pid": 4242,
             "uptimeSeconds": 3600 + n, "eventsIn": 1000 + n, "eventsOut": 990 + n,
             "errorsTotal": 1, "bytesIn": 98234 + n, "bytesOut": 88912 + n, "eventsDiscarded": 0,
             "configChecksum": checksum} for pid, (version, checksum) in running.items()])
        answer = client.post("/api/agent/heartbeat", json=body,
                             headers={"Authorization": f"Bearer {tokens[i]}"})
        assert answer.status_code == 200, answer.data[:300]

    for p in poll(tokens[0])["pipelines"]:
        running[p["pipelineId"]] = (p.get("version"), p.get("checksum"))
    for n in range(2):                      # caches warm, statuses steady
        for i, token in enumerate(tokens):
            poll(token)
            heartbeat(i, n)
    rng = random.Random(1)
    for phase in ("poll", "heartbeat"):
        print("READY", flush=True)
        sys.stdin.readline()
        for n in range(requests):
            if phase == "poll":
                poll(tokens[rng.randrange(len(tokens))])
            else:
                heartbeat(rng.randrange(len(tokens)), n + 2)
    print("READY", flush=True)
    sys.stdin.readline()


def measure(checkout: Path, backend: str, requests: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="vf-callgrind-")) / "callgrind.out"
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
         f"--callgrind-out-file={out}",
         str(checkout / ".venv/bin/python"), str(Path(__file__).resolve()), "--child",
         "--backend", backend, "--requests", str(requests)],
        cwd=checkout, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=dict(os.environ, PYTHONHASHSEED="0"))

    def step(*control):
        while not (line := proc.stdout.readline()).startswith("READY"):
            if not line:
                raise SystemExit(f"the measured process ended early ({checkout}, {backend})")
        for args in control:
            subprocess.run(["callgrind_control", *args, str(proc.pid)], check=True,
                           capture_output=True)
        proc.stdin.write("go\n")
        proc.stdin.flush()

    step(("-i", "on"))
    step(("-d", "poll"))
    step(("-d", "heartbeat"), ("-i", "off"))
    proc.wait()
    result = {"checkout": str(checkout), "backend": backend}
    # The requests run on the main thread (thread 1: the heartbeat batch is written by its
    # leader, the request itself); background threads (the live feed polling the events
    # table) are not per-request work.
    for dump in glob.glob(f"{out}.*-01"):
        text = Path(dump).read_text()
        trigger = re.search(r"^desc: Trigger: .*?(\w+)$", text, re.M)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if trigger and total:
            result[f"{trigger.group(1)} Minstr"] = round(int(total.group(1)) / requests / 1e6, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", action="append", type=Path,
                        help="a checkout with its own .venv (repeatable; default: this one)")
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.backend, args.requests)
    checkouts = args.checkout or [Path(__file__).resolve().parent.parent]
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        for checkout in checkouts:
            print(json.dumps(measure(checkout.resolve(), backend, args.requests)), flush=True)


if __name__ == "__main__":
    main()
