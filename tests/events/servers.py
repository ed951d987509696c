"""Real server processes for the multi-process tests: gunicorn with the production config."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py`` (gevent workers) on a free port of 127.0.0.1."""

    def __init__(self, database_url: str, instance: Path, *, workers: int = 1, **env: str):
        self.port = free_port()
        self.log = instance / f"gunicorn-{self.port}.log"
        environment = dict(os.environ, DATABASE_URL=database_url,
                           VECTORFLOW_INSTANCE_PATH=str(instance),
                           SECRET_KEY="test-secret-key-not-for-production",
                           # A poll this slow proves the wake-up path delivers, not the poll.
                           VECTORFLOW_EVENTS_POLL="60", VECTORFLOW_SSE_KEEPALIVE="1")
        environment.update(env)
        if "REDIS_URL" not in env:
            environment.pop("REDIS_URL", None)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                 "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "wsgi:app"],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_ready()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _wait_until_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url("/login"), timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # quick shutdown: streams never finish
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> Gunicorn:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
