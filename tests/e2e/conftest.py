"""Browser end-to-end tests: a real server process, real agents, headless Debian Chromium.

The server is the production stack (gunicorn, gevent worker) on a free localhost port with a
fresh SQLite database. Nodes are enrolled through the real agent API by simulated vf-agents
that keep heartbeating. Screenshots of every step go to tests/artifacts/e2e/ (git-ignored).
"""
from __future__ import annotations

import re
import shutil
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
        # Playwright gives every launch a fresh, temporary user-data dir.
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


PIPELINE_YAML = """sources:
  demo:
    type: demo_logs
    format: json
transforms:
  parse:
    type: remap
    inputs: [demo]
    source: '. = parse_json!(.message)'
sinks:
  out:
    type: blackhole
    inputs: [parse]
"""


def seed(stack: "Stack") -> None:
    """Create users, a team, an environment with a token, and two deployed pipelines."""
    from vectorflow.extensions import db
    from vectorflow.models import Role
    from vectorflow.services import accounts, environments, pipelines

    app = stack.app()
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        team = accounts.create_team("Platform")
        other = accounts.create_team("Payments")
        for role in ("ADMIN", "VIEWER", "EDITOR"):
            user = accounts.create_user(f"{role.lower()}@example.com", PASSWORD, name=role.title())
            accounts.set_membership(team, user, Role[role])
            stack.users[role] = user.email
        outsider = accounts.create_user("outsider@example.com", PASSWORD)
        accounts.set_membership(other, outsider, Role.ADMIN)
        env = environments.create_environment(team, "production")
        token = environments.issue_enrollment_token(env)
        for name in ("ingest-logs", "metrics-forward"):
            pipeline = pipelines.create_pipeline(env, name, PIPELINE_YAML)
            pipelines.deploy_pipeline(pipeline)
        db.session.commit()
        stack.enroll_token, stack.team_id, stack.env_id = token, team.id, env.id
        db.engine.dispose()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The running server with three heartbeating agents enrolled through the agent API."""
    from vectorflow.simulator.fleet import Fleet, FleetThread
    from vectorflow.simulator.server import ServerProcess

    base = tmp_path_factory.mktemp("e2e")
    stack = Stack(url="", database_url=f"sqlite:///{base / 'vectorflow.db'}", instance=base,
                  enroll_token="", team_id="", env_id="")
    seed(stack)
    server = ServerProcess(database_url=stack.database_url, instance_path=base,
                           env={"SECRET_KEY": "e2e-secret", "VECTORFLOW_SWEEP_INTERVAL": "1",
                                "VECTORFLOW_SAMPLE_BUCKET_SECONDS": "3"},
                           log_path=ARTIFACTS / "server.log").start()
    stack.server, stack.url = server, server.url
    fleet = Fleet(server.url, stack.enroll_token, 3, poll=1.0, push=True, prefix="edge",
                  state_dir=base / "agents", ramp=0.5, log_interval=1.0)
    stack.fleet_thread = FleetThread(fleet)
    stack.fleet_thread.start()
    try:
        wait_for(lambda: at_rest(fleet), timeout=AT_REST_TIMEOUT,
                 message="three agents running two pipelines each")
        yield stack
    finally:
        stack.fleet_thread.stop()
        server.stop()


# Reaching rest after a test can take one heartbeat interval (15 s, the server's default) for
# the server to hear that restarted pipelines run, and a push reconnect after the server
# restarted (the agent's backoff, jittered up to 1.5 x 16 s after a short outage).
AT_REST_TIMEOUT = 60


def at_rest(fleet) -> bool:
    """Whether every agent runs both pipelines, has told the server so, and is listening for pushes.

    Tests rely on all three: a dialog shows the server's running count, and a toggle reaches an
    agent at once only through its push stream (otherwise on its next poll, up to 15 s later).
    """
    return all(agent.running_count() == 2 and agent.last_report is not None
               and agent.last_report[1] == 2 and agent.push_connected for agent in fleet.agents)


@pytest.fixture(autouse=True)
def fleet_at_rest(stack):
    """Start each test with the shared fleet at rest (see ``at_rest``)."""
    wait_for(lambda: at_rest(stack.fleet_thread.fleet), timeout=AT_REST_TIMEOUT,
             message="every agent running its two pipelines, reported, push connected")


def wait_for(predicate, timeout: float, message: str, interval: float = 0.2):
    """Poll ``predicate`` until it is true; fail with ``message`` after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for: {message}")


@pytest.fixture
def login(browser, stack):
    """Open a new browser context signed in as ``role``; returns its page."""
    contexts = []
    blocked = []  # what the Content-Security-Policy refused: a page that needs it is broken

    def open_as(role: str, path: str = "/"):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: blocked.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text else None)
        page.goto(stack.url + "/login")
        page.fill("input[name=email]", f"{role.lower()}@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        if path != "/":
            page.goto(stack.url + path)
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert not blocked, "the Content-Security-Policy blocked:\n" + "\n".join(blocked)


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


@pytest.fixture(scope="session")
def admin_token(stack):
    """A personal API token of the stack's team ADMIN."""
    import sqlalchemy as sa

    from tests import factories
    from vectorflow.extensions import db
    from vectorflow.models import User

    app = stack.app()
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.email == stack.users["ADMIN"]))
        token = factories.make_api_token(admin)
        db.engine.dispose()
    return token
