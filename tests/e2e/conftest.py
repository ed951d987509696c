"""Browser end-to-end tests: a real server process, real agents, headless Debian Chromium.

The server is the production stack (gunicorn, gevent worker) on a free localhost port with a
fresh SQLite database. Nodes are enrolled through the real agent API by simulated vf-agents
that keep heartbeating. Screenshots of every step go to tests/artifacts/e2e/ (git-ignored).
"""
from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "e2e"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
PASSWORD = "e2e-password-123"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter):
    if ARTIFACTS.exists() and any(ARTIFACTS.rglob("*.png")):
        terminalreporter.write_line(f"e2e screenshots: {ARTIFACTS}")


def chromium_executable() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Debian's chromium is required for the browser tests: "
                    "`make test` installs it (apt-get install chromium)", pytrace=False)
    return path


@dataclass
class Stack:
    url: str
    database_url: str
    instance: Path
    enroll_token: str
    team_id: str
    env_id: str
    users: dict[str, str] = field(default_factory=dict)
    server: object = None
    fleet_thread: object = None

    def app(self):
        """An app bound to the stack's database, for seeding and for checking state."""
        import os

        from vectorflow import create_app

        os.environ["VECTORFLOW_INSTANCE_PATH"] = str(self.instance)
        return create_app({"SQLALCHEMY_DATABASE_URI": self.database_url, "SECRET_KEY": "e2e",
                           "VECTORFLOW_SWEEP_INTERVAL": 0})


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as p:
        user_data = tempfile.mkdtemp(prefix="vf-e2e-chromium-")
        browser = p.chromium.launch(executable_path=executable,
                                    args=CHROMIUM_FLAGS + [f"--user-data-dir={user_data}"]
                                    if False else CHROMIUM_FLAGS)
        yield browser
        browser.close()
        shutil.rmtree(user_data, ignore_errors=True)


class Shots:
    """Numbered screenshots for one test, in tests/artifacts/e2e/<test>/."""

    def __init__(self, name: str):
        self.dir = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def __call__(self, page, step: str) -> None:
        self.n += 1
        page.screenshot(path=str(self.dir / f"{self.n:02d}-{step}.png"), full_page=True)


@pytest.fixture
def shot(request):
    return Shots(request.node.name)
