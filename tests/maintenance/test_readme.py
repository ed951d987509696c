"""The README's maintenance examples (windows, budgets) run as written, with curl and jq,
against a real server, and print what the README says they print.

The blocks are read from README.md under their headings and run with the walk-through's own
``auth=(...)`` line, after the variables the walk-through defines before them (VF, TOKEN, ENV,
PIPELINE).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def readme_block(heading: str) -> str:
    """Return the first indented code block under ``### heading``, dedented."""
    text = README.read_text()
    lines = text[text.index(f"\n### {heading}\n"):].splitlines()[2:]
    start = next(i for i, line in enumerate(lines) if line.startswith("    "))
    block = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip() + "\n"


def walkthrough_auth_line() -> str:
    line = next(line for line in README.read_text().splitlines() if line.startswith("    auth=("))
    return line.strip()


def promised_output(block: str) -> str:
    """The last comment line of a block: what the README says it prints."""
    return [line for line in block.splitlines() if line.startswith("# ")][-1][2:]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server on a fresh SQLite database with the walk-through's team, an environment with
    three healthy nodes (two in rack r1) running one deployed pipeline, and an ADMIN token."""
    from vectorflow import create_app
    from vectorflow.extensions import db
    from vectorflow.models import (
        NodePipelineStatus,
        NodeStatus,
        ProcessStatus,
        Role,
        VectorNode,
        utcnow,
    )
    from vectorflow.services import accounts, environments, pipelines, tokens
    from vectorflow.simulator.server import ServerProcess

    if not (shutil.which("curl") and shutil.which("jq")):
        pytest.fail("the README's examples need curl and jq", pytrace=False)
    base = tmp_path_factory.mktemp("readme")
    url = f"sqlite:///{base / 'vectorflow.db'}"
    os.environ["VECTORFLOW_INSTANCE_PATH"] = str(base)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "readme",
                      "VECTORFLOW_SWEEP_INTERVAL": 0})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        team = accounts.create_team("Platform")
        env = environments.create_environment(team, "staging")
        pipeline = pipelines.create_pipeline(env, "app-logs", "sources:\n  in:\n    type: demo_logs\n"
                                             "    format: json\nsinks:\n  out:\n    type: blackhole\n"
                                             "    inputs: [in]\n")
        pipelines.deploy_pipeline(pipeline)
        now = utcnow()
        for name, rack in (("rack1-a", "r1"), ("rack1-b", "r1"), ("db-1", "r2")):
            node = VectorNode(environment=env, name=name, host=name, status=NodeStatus.HEALTHY,
                              labels={"rack": rack}, enrolled_at=now, last_heartbeat=now,
                              last_seen=now)
            db.session.add(node)
            db.session.flush()
            db.session.add(NodePipelineStatus(node_id=node.id, pipeline_id=pipeline.id, version=1,
                                              status=ProcessStatus.RUNNING))
        _, token = tokens.create_service_token(team, "walkthrough", Role.ADMIN)
        db.session.commit()
        ids = {"ENV": env.id, "PIPELINE": pipeline.id, "TOKEN": token}
        db.engine.dispose()
    process = ServerProcess(database_url=url, instance_path=base,
                            env={"SECRET_KEY": "readme", "VECTORFLOW_SWEEP_INTERVAL": "0"},
                            log_path=base / "server.log").start()
    try:
        yield {**ids, "VF": process.url, "app": app}
    finally:
        process.stop()


def run(server, block: str) -> str:
    script = f"set -euo pipefail\n{walkthrough_auth_line()}\n{block}"
    env = {**os.environ, **{k: v for k, v in server.items() if k != "app"}}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, f"the README block failed:\n{block}\n{done.stderr}"
    return done.stdout


def test_the_windows_example_creates_the_window_and_previews_it_as_the_readme_says(server):
    block = readme_block("Maintenance windows")
    assert "/api/v1/maintenance-windows" in block
    out = run(server, block)
    assert out.split() == promised_output(block).split()

    from vectorflow.extensions import db
    from vectorflow.models import MaintenanceWindow

    with server["app"].app_context():
        (window,) = db.session.query(MaintenanceWindow).all()
        assert (window.name, window.rrule, window.timezone) == (
            "patch-tuesday", "FREQ=WEEKLY;BYDAY=TU", "Europe/Berlin")
        db.engine.dispose()


def test_the_budget_example_sets_the_budget_and_answers_as_the_readme_says(server):
    block = readme_block("Disruption budgets")
    assert "disruptionBudget" in block
    got = json.loads(run(server, block))
    promised = json.loads(promised_output(block))
    # How many nodes count now depends on how fresh their heartbeats still are.
    assert isinstance(got.pop("availableNodes"), int)
    promised.pop("availableNodes")
    assert got == promised
