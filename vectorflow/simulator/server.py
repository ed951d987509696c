"""Start the production server (gunicorn, gevent workers) as a child process on a free port.

Shared by the ``make run`` demo, tests/simulator and the benchmarks, so all of them measure and
exercise the same server stack as a deployment.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .. import ROOT


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A gunicorn server of the app in a child process (its own process group)."""

    def __init__(
        self,
        *,
        database_url: str | None = None,
        instance_path: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        workers: int = 1,
        env: dict | None = None,
        log_path: str | Path | None = None,
    ):
        self.host = host
        self.port = port or free_port(host)
        self.workers = workers
        self.database_url = database_url
        self.instance_path = Path(instance_path) if instance_path else None
        self.extra_env = env or {}
        self.log_path = Path(log_path) if log_path else None
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                "--bind", f"{self.host}:{self.port}", "--workers", str(self.workers),
                "vectorflow:create_app()"]

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        """Start the server and wait until it answers HTTP; raise RuntimeError if it does not."""
        env = dict(os.environ)
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if self.instance_path:
            env["VECTORFLOW_INSTANCE_PATH"] = str(self.instance_path)
        env.update({k: str(v) for k, v in self.extra_env.items()})
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(), cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL, stderr=self._log or subprocess.DEVNULL,
            start_new_session=True,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with status {self.process.returncode}"
                                   + self._log_hint())
            try:
                if httpx.get(self.url + "/login", timeout=2.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer on {self.url} within {timeout:.0f}s"
                           + self._log_hint())

    def _log_hint(self) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-20:]
        return " (log " + str(self.log_path) + "):\n" + "\n".join(tail)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> list[int]:
        """Return the pids of the master and its workers (for CPU accounting in benchmarks)."""
        if not self.alive():
            return []
        out = subprocess.run(["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self, timeout: float = 15.0, graceful: bool = True) -> None:
        """Stop gunicorn (SIGTERM, or SIGINT for a quick stop), then kill it if it lingers.

        A graceful stop waits up to gunicorn's graceful_timeout for open event streams.
        """
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM if graceful else signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self) -> "ServerProcess":
        return self.start() if self.process is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
