"""CLI: ``vectorflow demo``, the demo fleet; with ``--serve``, the server and a dozen agents."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from ..services.actors import Actor
from . import commit_or_fail
from .simulate import Duration

TOKEN_FILE = "demo-enrollment-token"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _admin_login(instance: Path) -> str:
    path = instance / "admin-password"
    if path.exists():
        email, password = (path.read_text().split("\n") + ["", ""])[:2]
        return f"{email} / {password}"
    return "your existing account"


@click.command("demo")
@click.option("--serve", is_flag=True,
              help="Then start the server and simulated agents, until Ctrl-C.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--agents", default=12, show_default=True, type=click.IntRange(0, 10_000))
@click.option("--poll", default="5s", show_default=True, type=Duration(),
              help="The agents' local poll interval until the server tells them its own.")
@click.option("--crash-rate", default=0.002, show_default=True, type=click.FloatRange(0, 1),
              help="Chance per poll that a simulated pipeline crashes and restarts.")
@with_appcontext
def demo_command(serve, host, port, agents, poll, crash_rate):
    """Create the demo team, environment and pipelines (idempotent); make the first admin its ADMIN."""
    from ..services.demo import seed_demo

    instance = Path(current_app.instance_path)
    token_file = instance / TOKEN_FILE
    known = token_file.read_text().strip() if token_file.exists() else None
    seed = commit_or_fail(seed_demo, known, actor=Actor.cli())
    if seed.enrollment_token != known:
        _write_private(token_file, seed.enrollment_token + "\n")
    what = ", ".join(seed.created) if seed.created else "nothing new, the demo was there already"
    click.echo(f"demo: team {seed.team.name}, environment {seed.environment.name}, "
               f"{len(seed.pipelines)} deployed pipelines (created: {what})")
    if seed.admin is not None:
        click.echo(f"demo: {seed.admin.email} is ADMIN of {seed.team.name}")
    if not serve:
        click.echo(f"demo: enrollment token in {token_file}; simulate agents with\n"
                   f"  vectorflow simulate --url http://{host}:{port} "
                   f"--token-file {token_file} --agents {agents or 12}")
        return
    state_dir = instance / "demo-agents" / seed.environment.id
    db.session.remove()
    db.engine.dispose()
    serve_demo(instance, host, port, seed.enrollment_token, agents, poll, crash_rate, state_dir)


def serve_demo(instance: Path, host: str, port: int, token: str, agents: int, poll: float,
               crash_rate: float, state_dir: Path) -> None:
    """Run the server (gunicorn, one gevent worker) and a simulated fleet until Ctrl-C."""
    from ..simulator import Fleet, FleetThread
    from ..simulator.server import ServerProcess

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            probe.bind((host, port))
        except OSError:
            raise click.ClickException(
                f"port {port} on {host} is in use; stop what runs there or use `make run PORT=5001`"
            ) from None
    log_path = instance / "server.log"
    server = ServerProcess(host=host, port=port, workers=1, instance_path=instance,
                           log_path=log_path)
    try:
        server.start(timeout=60)
    except RuntimeError as err:
        raise click.ClickException(f"the server did not start: {err}") from None
    fleet = Fleet(server.url, token, agents, poll=poll, crash_rate=crash_rate,
                  state_dir=state_dir, push=True, ramp=min(poll, 3.0),
                  log_interval=2.0) if agents else None
    runner = FleetThread(fleet) if fleet else None
    stopping = False

    def request_stop(*_):
        nonlocal stopping
        stopping = True

    # Explicit handlers: a shell may start us with SIGINT ignored (no KeyboardInterrupt then).
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if runner:
            runner.start()
        _banner(server.url, _admin_login(instance), agents, log_path)
        while not stopping and server.alive():
            time.sleep(0.5)
        if not server.alive():
            click.echo(f"the server stopped (status {server.process.returncode}); see {log_path}")
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        click.echo("\nstopping the simulated agents and the server ...")
        if runner:
            runner.stop()
        server.stop(graceful=False)
        if fleet:
            click.echo(fleet.stats.report("simulated agents:"))


def _banner(url: str, login: str, agents: int, log_path: Path) -> None:
    line = "=" * 72
    fleet = (f"{agents} simulated agents (sim-0001 ...) enroll into Demo / demo and run "
             "its 3 pipelines" if agents else "no simulated agents")
    click.echo(f"\n{line}\n"
               f"  VectorFlow is running at {url}\n"
               f"  Log in as {login}\n"
               f"  {fleet};\n"
               f"  the fleet page shows them within seconds: {url}/\n"
               f"  Server log: {log_path}\n"
               f"  Press Ctrl-C to stop the server and the agents.\n"
               f"{line}\n")
