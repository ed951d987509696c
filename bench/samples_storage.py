"""Chart samples: bytes per node per day on disk, and the cost of folding heartbeats in.

A day of 60 s buckets for ``--nodes`` nodes with 3 pipelines each, one heartbeat per node per
15 s (the default interval) folded by ``services.samples.record_batch`` in batches of
``--batch`` (1: today's one heartbeat per transaction; more: a group commit). Storage is the
tables' and their indexes' size (PostgreSQL: pg_total_relation_size; SQLite: dbstat pages)
divided by node-days. Time is CPU of this process per heartbeat (Python and the database
driver; PostgreSQL's own work is not counted).

    .venv/bin/python bench/samples_storage.py --backend both
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from common import backends, bench_app, bench_parser, fresh_database, machine, save, seed, workdir

HEARTBEAT_SECONDS = 15
BUCKET_SECONDS = 60


def heartbeat(pipeline_ids, n: int):
    from vectorflow.schemas.agent import AgentHeartbeat

    return AgentHeartbeat.model_validate({
        "pipelines": [{"pipelineId": pid, "version": 1, "status": "RUNNING",
                       "eventsIn": 400 * n, "eventsOut": 398 * n, "errorsTotal": n // 50}
                      for pid in pipeline_ids],
        "hostMetrics": {"cpuSecondsTotal": 30.0 * n, "cpuSecondsIdle": 21.0 * n,
                        "netRxBytes": 1_800_000 * n, "netTxBytes": 1_200_000 * n,
                        "memoryUsedBytes": 4e9 + n, "memoryTotalBytes": 8e9,
                        "fsUsedBytes": 4e10, "fsTotalBytes": 1e11, "loadAvg1": 0.5,
                        "loadAvg5": 0.4, "loadAvg15": 0.3}})


def table_bytes(db, backend: str) -> int:
    import sqlalchemy as sa

    if backend == "postgresql":
        return sum(db.session.scalar(sa.text(f"SELECT pg_total_relation_size('{t}')"))
                   for t in ("node_samples", "pipeline_samples"))
    return db.session.scalar(sa.text(
        "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%samples%'"))


def run(backend: str, nodes: int, hours: float, batch: int) -> list[str]:
    from vectorflow.extensions import db
    from vectorflow.services import samples

    work = workdir("samples_storage")
    url = fresh_database(backend, "samples_storage", work)
    app = bench_app(url, work)
    with app.app_context():
        seeded = seed(app, nodes=nodes, pipelines=3)
        pipeline_ids = seeded.pipeline_ids
        items = [(node_id, pipeline_ids) for node_id in seeded.node_ids]
        start = datetime(2026, 12, 1, tzinfo=UTC)
        steps = int(hours * 3600 / HEARTBEAT_SECONDS)
        cpu = time.process_time()
        beats = 0
        for step in range(steps):
            at = start + timedelta(seconds=step * HEARTBEAT_SECONDS)
            body = heartbeat(pipeline_ids, step)
            for i in range(0, len(items), batch):
                samples.record_batch([(node_id, body, pids) for node_id, pids
                                      in items[i:i + batch]], at)
                db.session.commit()
                beats += len(items[i:i + batch])
        cpu = time.process_time() - cpu
        size = table_bytes(db, backend)
        rows = db.session.scalar(db.text("SELECT COUNT(*) FROM node_samples"))
        prow = db.session.scalar(db.text("SELECT COUNT(*) FROM pipeline_samples"))
        node_days = nodes * hours / 24
        db.engine.dispose()
    return [backend, str(nodes), f"{hours:g}", str(batch), str(rows), str(prow),
            f"{size / node_days / 1024:.0f}", f"{size / node_days * 10_000 / 2**30:.1f}",
            f"{cpu / beats * 1000:.2f}"]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 20])
    args = parser.parse_args()
    rows = [run(backend, args.nodes, args.hours, batch)
            for backend in backends(args.backend) for batch in args.batch]
    save("samples_storage", "Chart samples: storage and fold cost",
         ["database", "nodes", "hours", "batch", "node rows", "pipeline rows",
          "KiB/node/day", "GiB/day at 10k nodes", "CPU ms/heartbeat"], rows,
         notes=f"60 s buckets, 3 pipelines per node, a heartbeat every {HEARTBEAT_SECONDS} s. "
               "Sizes include the primary keys and the bucket_start indexes.",
         machine_line=machine())


if __name__ == "__main__":
    main()
