"""Time GET /api/v1/nodes on a 10,000-node fleet: first page, deep pages, filters.

    .venv/bin/python bench/api_nodes.py                       # temporary SQLite file
    DATABASE_URL=postgresql://postgres@127.0.0.1/vf_bench .venv/bin/python bench/api_nodes.py

Keyset pagination keeps every page one indexed range query, so the last page of the
fleet should cost what the first does; the SQL statement count per page is printed too.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NODES = int(os.environ.get("BENCH_NODES", "10000"))
REPEAT = 20


def main() -> None:
    from flask_migrate import upgrade

    from vectorflow import create_app
    from vectorflow.extensions import db
    from vectorflow.models import (
        Environment, NodePipelineStatus, NodeStatus, Pipeline, Role, Team, VectorNode, utcnow,
    )
    from vectorflow.models.base import new_id
    from vectorflow.services.tokens import create_service_token

    tmp = tempfile.mkdtemp(prefix="vf-bench-")
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    os.environ["VECTORFLOW_INSTANCE_PATH"] = tmp
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "VECTORFLOW_SWEEP_INTERVAL": 0})
    with app.app_context():
        upgrade()
        team = Team(name=f"bench-{new_id()[:6]}")
        env = Environment(team=team, name="production")
        pipelines = [Pipeline(environment=env, name=f"p{i}", draft_yaml="") for i in range(2)]
        db.session.add_all([team, env, *pipelines])
        db.session.flush()
        now = utcnow()
        rows = [dict(id=new_id(), environment_id=env.id, name=f"node-{i:05d}", host=f"h{i}",
                     status=NodeStatus.HEALTHY, last_heartbeat=now, last_seen=now,
                     labels={"role": "web" if i % 4 else "db", "rack": str(i % 40)},
                     maintenance_mode=(i % 100 == 0))
                for i in range(NODES)]
        db.session.execute(sa.insert(VectorNode), rows)
        db.session.execute(sa.insert(NodePipelineStatus), [
            dict(node_id=r["id"], pipeline_id=p.id, version=1, last_updated=now)
            for r in rows for p in pipelines
        ])
        _, raw = create_service_token(team, "bench", Role.VIEWER)
        db.session.commit()

        client = app.test_client()
        headers = {"Authorization": f"Bearer {raw}"}
        statements: list[str] = []
        sa.event.listen(db.engine, "before_cursor_execute",
                        lambda *args: statements.append(args[2]))

        def timed(url: str) -> tuple[float, int, dict]:
            samples, count, body = [], 0, {}
            for _ in range(REPEAT):
                db.session.expire_all()
                statements.clear()
                start = time.perf_counter()
                response = client.get(url, headers=headers)
                samples.append((time.perf_counter() - start) * 1000)
                count = len(statements)
                body = response.get_json()
                assert response.status_code == 200, body
            return statistics.median(samples), count, body

        # Walk to the last page once to get a deep cursor.
        cursor, pages = None, 0
        while True:
            url = "/api/v1/nodes?limit=100" + (f"&cursor={cursor}" if cursor else "")
            body = client.get(url, headers=headers).get_json()
            pages += 1
            if not body["nextCursor"]:
                break
            last_cursor, cursor = cursor, body["nextCursor"]

        cases = [
            ("first page (100 nodes)", "/api/v1/nodes?limit=100"),
            (f"last page (page {pages})", f"/api/v1/nodes?limit=100&cursor={last_cursor}"),
            ("label=role=db", "/api/v1/nodes?limit=100&label=role=db"),
            ("label=rack=7 (1 in 40)", "/api/v1/nodes?limit=100&label=rack=7"),
            ("status=HEALTHY", "/api/v1/nodes?limit=100&status=HEALTHY"),
            ("maintenance=true", "/api/v1/nodes?limit=100&maintenance=true"),
            ("one node", f"/api/v1/nodes/{rows[NODES // 2]['id']}"),
        ]
        print(f"{db.engine.dialect.name}, {NODES} nodes, 2 pipeline statuses each, "
              f"median of {REPEAT}")
        print(f"{'request':32} {'ms':>8} {'queries':>8} {'items':>6}")
        for label, url in cases:
            ms, count, body = timed(url)
            items = len(body.get("items", [body]))
            print(f"{label:32} {ms:8.1f} {count:8d} {items:6d}")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
