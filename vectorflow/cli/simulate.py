"""CLI: ``vectorflow simulate``, a fleet of simulated vf-agents against a running server."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import time

import click

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def parse_duration(text: str) -> float:
    """Return seconds for a Go-style duration such as ``15s``, ``500ms``, ``5m`` or ``1m30s``."""
    text = str(text).strip().lower()
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r} (examples: 15s, 500ms, 5m)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


@click.command("simulate")
@click.option("--url", required=True, help="Server URL, e.g. http://127.0.0.1:5000")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True),
              help="File holding the enrollment token; or set $VF_TOKEN. Never on the command "
                   "line, where ps shows it to every user.")
@click.option("--agents", default=10, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--poll", default="15s", show_default=True, type=Duration(),
              help="Local poll interval; the server's pollIntervalMs replaces it once known.")
@click.option("--pipelines-crash-rate", "crash_rate", default=0.0, show_default=True,
              type=click.FloatRange(0, 1),
              help="Chance per poll that a running pipeline crashes (it restarts with backoff).")
@click.option("--duration", default=None, type=Duration(), help="Stop after this long (default: Ctrl-C).")
@click.option("--state-dir", default=None, type=click.Path(file_okay=False),
              help="Keep node tokens here (<dir>/<hostname>/node-token) so a restart reuses them.")
@click.option("--push/--no-push", default=True, show_default=True,
              help="Hold the agent push stream and poll at once on config_changed.")
@click.option("--prefix", default="sim", show_default=True, help="Hostname prefix (sim-0001 ...).")
@click.option("--first-index", default=1, show_default=True, type=click.IntRange(0))
@click.option("--ramp", default=None, type=Duration(),
              help="Spread the agents' first contact over this long (default: the poll interval).")
@click.option("--connections", default=200, show_default=True, type=click.IntRange(1),
              help="Size of the shared HTTP connection pool for polls and heartbeats.")
@click.option("--progress", default="10s", show_default=True, type=Duration(),
              help="Print a progress line this often (0 to disable).")
@click.option("--log-interval", default="2s", show_default=True, type=Duration(),
              help="Post Vector's log lines this often, as newer agents do (0: never).")
def simulate_command(url, token_file, agents, poll, crash_rate, duration, state_dir, push, prefix,
                     first_index, ramp, connections, progress, log_interval):
    """Run N simulated vf-agents that enroll, poll, run pipelines and heartbeat."""
    from ..simulator.fleet import Fleet, tune_gc

    token = enrollment_token(token_file)
    fleet = Fleet(url, token, agents, poll=poll, crash_rate=crash_rate, state_dir=state_dir,
                  push=push, prefix=prefix, first_index=first_index, ramp=ramp,
                  connections=connections, log_interval=log_interval or None)
    tune_gc()
    click.echo(f"simulating {agents} agents against {fleet.url} (poll {poll:g}s, "
               f"push {'on' if push else 'off'}; Ctrl-C to stop)")
    started = time.monotonic()
    asyncio.run(_run(fleet, duration, progress))
    elapsed = time.monotonic() - started
    click.echo(fleet.stats.report(f"\nafter {elapsed:.0f}s with {agents} agents:"))


def enrollment_token(token_file: str | None) -> str:
    """Return the enrollment token from ``token_file`` or $VF_TOKEN (never argv)."""
    if token_file:
        with open(token_file, encoding="utf-8") as fh:
            token = fh.read().strip()
        where = token_file
    else:
        token, where = os.environ.get("VF_TOKEN", "").strip(), "$VF_TOKEN"
    if not token:
        raise click.UsageError("give the enrollment token with --token-file PATH or in $VF_TOKEN"
                               if where == "$VF_TOKEN" else f"{where} is empty")
    return token


async def _run(fleet, duration: float | None, progress: float) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, fleet.stop)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on the main thread
            pass
    reporter = loop.create_task(_report_progress(fleet, progress)) if progress else None
    try:
        await fleet.run(duration)
    finally:
        if reporter:
            reporter.cancel()


async def _report_progress(fleet, every: float) -> None:
    started = time.monotonic()
    while True:
        await asyncio.sleep(every)
        stats = fleet.stats
        enrolled = sum(1 for a in fleet.agents if a.node_token)
        polls = stats.summary("poll")
        beats = stats.summary("heartbeat")
        pushed = sum(1 for a in fleet.agents if a.push_connected)
        click.echo(
            f"[{time.monotonic() - started:5.0f}s] agents {enrolled}/{len(fleet.agents)} enrolled, "
            f"{pushed} pushed, {fleet.running_pipelines()} pipelines running; "
            f"polls {polls.count} (p99 {polls.p99:.0f} ms), heartbeats {beats.count} "
            f"(p99 {beats.p99:.0f} ms), errors {stats.total_errors()}"
        )
