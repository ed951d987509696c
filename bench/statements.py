#!/usr/bin/env python3
"""The SQL a steady config poll and a steady heartbeat send, statement by statement.

Prints what reaches the database driver (BEGIN, COMMIT and ROLLBACK included) for one poll
and one heartbeat of an enrolled node whose caches are warm, on each backend (SQLite's
driver sends no BEGIN before a SELECT either):

    .venv/bin/python bench/statements.py --backend postgresql
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_app, fresh_database, seed
from instructions import HEARTBEAT


def trace(backend: str) -> None:
    from vectorflow.extensions import db

    wd = Path(tempfile.mkdtemp(prefix="vf-statements-"))
    app = bench_app(fresh_database(backend, "statements", wd), wd)
    seed(app, nodes=2, pipelines=3, state_dir=wd / "state")
    token = min((wd / "state").glob("*/node-token")).read_text()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    pipelines = client.get("/api/agent/config", headers=headers).get_json()["pipelines"]
    body = dict(HEARTBEAT, pipelines=[
        {"pipelineId": p["pipelineId"], "version": p["version"], "status": "RUNNING",
         "configChecksum": p["checksum"]} for p in pipelines])
    client.post("/api/agent/heartbeat", json=body, headers=headers)
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def statement(conn, cursor, text, params, context, many):
        seen.append(" ".join(text.split())[:110])

    def marker(conn, name):
        # An autocommit connection's begin/rollback never reach the server.
        autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        seen.append(name.upper() + (" (autocommit: not sent)" if autocommit else ""))

    for name in ("begin", "commit", "rollback"):
        sa.event.listen(engine, name, lambda conn, name=name: marker(conn, name))
    sa.event.listen(engine, "before_cursor_execute", statement)
    for label, call in (("poll", lambda: client.get("/api/agent/config", headers=headers)),
                        ("heartbeat", lambda: client.post("/api/agent/heartbeat", json=body,
                                                          headers=headers))):
        seen.clear()
        assert call().status_code == 200
        print(f"{backend} {label}: {len(seen)}")
        for line in seen:
            print("   ", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    args = parser.parse_args()
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        trace(backend)


if __name__ == "__main__":
    main()
