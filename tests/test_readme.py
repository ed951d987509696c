"""The README's curl walk-through runs as written against a fresh demo (so it cannot drift).

The block under "### Walk-through with curl" is taken from README.md as it is, and run with
bash from a directory holding the checkout's .venv, against `vectorflow init` + `vectorflow
demo --serve` (12 simulated agents) on a fresh instance directory and a free port.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def walkthrough() -> str:
    """Return the first indented code block of the README's walk-through section, unindented."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Walk-through with curl", 1)[1].split("\n### ", 1)[0]
    block = re.search(r"((?:\n(?: {4}.*|[ \t]*))+)", section[section.index("\n    "):]).group(1)
    return "\n".join(line[4:] for line in block.strip("\n").splitlines()) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def enrolled(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM vector_nodes").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_the_block_is_found_and_keeps_tokens_off_the_command_line():
    script = walkthrough()
    assert script.startswith("set -euo pipefail\n") and "api \"$VF/api/v1/audit" in script
    assert "--token " not in script and "curl -sf" not in script


def test_the_readme_walkthrough_runs_as_written_on_a_fresh_demo(tmp_path):
    instance, work = tmp_path / "instance", tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(VECTORFLOW_INSTANCE_PATH=str(instance), VF=f"http://127.0.0.1:{port}")
    cli = str(ROOT / ".venv" / "bin" / "vectorflow")
    subprocess.run([cli, "init"], env=env, cwd=work, check=True, capture_output=True, timeout=60)
    demo = subprocess.Popen([cli, "demo", "--serve", "--port", str(port), "--agents", "12",
                             "--poll", "1s"], env=env, cwd=work, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for(lambda: enrolled(instance / "vectorflow.db") == 12, 90, "12 demo agents enrolled")
        result = subprocess.run(["bash", "-c", walkthrough()], env=env, cwd=work,
                                capture_output=True, text=True, timeout=90)
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        assert '"version": 1' in out
        assert re.search(r'"wouldChange": \[\s*"sim-\d+"', out)
        assert '"maintenanceMode": true' in out and '"maintenanceMode": false' in out
        assert re.search(r'"wouldDelete": \[\]', out)
        audit = [line.split()[-1] for line in out.splitlines() if line.startswith("20")]
        assert audit[:2] == ["node.maintenance_left", "node.maintenance_entered"]
        assert (work / "staging-token").read_text().startswith("vf_")
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
