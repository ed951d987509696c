"""Chart samples from heartbeats: rates from the latest two heartbeats, closed buckets, sums."""
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import Event, NodeSample, PipelineSample
from vectorflow.schemas.agent import AgentHeartbeat
from vectorflow.services import samples

from .. import factories
from ..agent.conftest import count_queries

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)  # a bucket start (60 s buckets)


def beat(pipelines=(), **host):
    """A validated heartbeat: ``pipelines`` are (id, eventsIn, eventsOut, errorsTotal)."""
    return AgentHeartbeat.model_validate({
        "pipelines": [{"pipelineId": pid, "version": 1, "status": "RUNNING", "eventsIn": i,
                       "eventsOut": o, "errorsTotal": e} for pid, i, o, e in pipelines],
        "hostMetrics": host or None})


def host(cpu_total, cpu_idle, rx, tx, used=4e9, total=8e9):
    return {"cpuSecondsTotal": cpu_total, "cpuSecondsIdle": cpu_idle, "netRxBytes": rx,
            "netTxBytes": tx, "memoryUsedBytes": used, "memoryTotalBytes": total,
            "loadAvg1": 0.5, "fsUsedBytes": 1e9, "fsTotalBytes": 4e9}


@pytest.fixture
def fleet(world):
    nodes = [factories.make_node(world.env, f"n{i}")[0] for i in range(2)]
    pipeline = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    return nodes, pipeline


def closed_events():
    return db.session.scalars(sa.select(Event).where(Event.type == samples.CLOSED_EVENT)
                              .order_by(Event.id)).all()


def test_the_host_card_has_rates_after_the_second_heartbeat_and_the_time_of_the_latest(fleet):
    (node, _), _ = fleet
    samples.record_batch([(node.id, beat(**host(100, 80, 1000, 500)), [])], T0 + timedelta(seconds=5))
    first = samples.latest_host(node.id)
    assert first["cpu_pct"] is None and first["net_rx_rate"] is None
    assert first["memory"]["pct"] == 50.0
    at = T0 + timedelta(seconds=15)
    samples.record_batch([(node.id, beat(**host(120, 90, 3000, 1500)), [])], at)
    card = samples.latest_host(node.id)
    assert card["at"] == at  # the latest heartbeat, not the bucket's start
    assert card["cpu_pct"] == 50.0  # 20 CPU-seconds, 10 of them idle
    assert card["net_rx_rate"] == pytest.approx(200.0) and card["net_tx_rate"] == pytest.approx(100.0)
    assert card["disk"]["pct"] == 25.0 and card["load"][0] == 0.5


def test_a_new_bucket_closes_the_last_one_into_the_series_and_announces_it(fleet):
    (node, _), pipeline = fleet
    pid = pipeline.id
    for seconds, total in ((10, 0), (40, 300), (70, 600)):
        samples.record_batch([(node.id, beat([(pid, total, total, 0)]), [pid])],
                             T0 + timedelta(seconds=seconds))
    # 300 events over the 30 s between the first two heartbeats: the first bucket, closed by
    # the third heartbeat, whose bucket is still open and left out.
    series = samples.node_series(node.id, "1h", now=T0 + timedelta(seconds=80))
    assert series["t"] == [int(T0.timestamp())]
    assert series["eventsIn"] == [pytest.approx(10.0)]
    assert series["eventsOut"] == [pytest.approx(10.0)] and series["errors"] == [0.0]
    db.session.commit()  # events are written at the commit
    [event] = closed_events()
    assert event.environment_id == node.environment_id and event.node_id is None
    assert event.payload["nodeIds"] == [node.id]
    [sample] = event.payload["samples"]
    assert sample["point"]["t"] == int(T0.timestamp())
    assert sample["point"]["eventsIn"] == pytest.approx(10.0)
    assert sample["pipelines"][pid]["eventsIn"] == pytest.approx(10.0)


def test_a_pipeline_series_sums_its_nodes(fleet):
    (a, _), (b, _) = [(n, None) for n in fleet[0]]
    pid = fleet[1].id
    for seconds, total in ((5, 0), (35, 600), (65, 700)):
        samples.record_batch([(a.id, beat([(pid, total, total, 0)]), [pid]),
                              (b.id, beat([(pid, 2 * total, total, total // 100)]), [pid])],
                             T0 + timedelta(seconds=seconds))
    series = samples.pipeline_series(pid, "1h", now=T0 + timedelta(seconds=65))
    assert series["t"] == [int(T0.timestamp())]
    assert series["eventsIn"] == [pytest.approx(20.0 + 40.0)]
    assert series["errors"] == [pytest.approx(0.2)]


def test_a_restarted_vector_counts_from_zero_and_a_long_silence_has_no_rate(fleet):
    (node, _), pipeline = fleet
    pid = pipeline.id
    samples.record_batch([(node.id, beat([(pid, 5000, 0, 0)]), [pid])], T0)
    samples.record_batch([(node.id, beat([(pid, 100, 0, 0)]), [pid])], T0 + timedelta(seconds=20))
    row = db.session.scalar(sa.select(PipelineSample))
    assert row.events_in == 100  # restarted: 100 since it started, not -4900
    later = T0 + samples.MAX_GAP + timedelta(minutes=5)
    samples.record_batch([(node.id, beat([(pid, 9000, 0, 0)]), [pid])], later)
    newest = db.session.scalar(sa.select(PipelineSample).order_by(PipelineSample.bucket_start.desc()))
    assert newest.events_in == 0 and newest.span == 0


def test_a_heartbeat_after_a_long_silence_in_a_long_bucket_folds_into_its_row(fleet, app):
    app.config["VECTORFLOW_SAMPLE_BUCKET_SECONDS"] = 3600  # longer than MAX_GAP
    (node, _), pipeline = fleet
    pid = pipeline.id
    samples.record_batch([(node.id, beat([(pid, 10, 0, 0)]), [pid])], T0)
    samples.record_batch([(node.id, beat([(pid, 20, 0, 0)]), [pid])], T0 + timedelta(minutes=20))
    db.session.commit()
    [row] = db.session.scalars(sa.select(NodeSample)).all()  # not a second row of the bucket
    assert row.bucket_start == T0 and row.span == 0  # no rate over the silence


def test_a_batch_writes_with_the_same_statements_whatever_its_size(fleet, world):
    (node, _), pipeline = fleet
    others = [factories.make_node(world.env, f"bulk-{i}")[0].id for i in range(20)]
    db.session.commit()
    one, pid = [node.id], pipeline.id

    def record(node_ids, at):
        items = [(n, beat([(pid, 1, 1, 0)], **host(1, 1, 1, 1)), [pid]) for n in node_ids]
        with count_queries() as queries:
            samples.record_batch(items, at)
        return len(queries.statements)

    assert record(one, T0) == record(others, T0) == 4  # read, read, insert, insert
    later = T0 + timedelta(seconds=5)
    assert record(one, later) == record(others, later) == 4  # read, read, update, update
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NodeSample)) == 21


def test_a_node_twice_in_one_batch_is_folded_in_order(fleet):
    (node, _), pipeline = fleet
    pid = pipeline.id
    samples.record_batch([(node.id, beat([(pid, 0, 0, 0)]), [pid]),
                          (node.id, beat([(pid, 50, 0, 0)]), [pid])], T0)
    samples.record_batch([(node.id, beat([(pid, 80, 0, 0)]), [pid])], T0 + timedelta(seconds=10))
    row = db.session.scalar(sa.select(NodeSample))
    assert row.events_in == 80


def test_the_sweep_prunes_samples_older_than_the_retention(fleet, app):
    (node, _), pipeline = fleet
    pid = pipeline.id
    samples.record_batch([(node.id, beat([(pid, 1, 1, 0)]), [pid])], T0)
    samples.record_batch([(node.id, beat([(pid, 2, 2, 0)]), [pid])], T0 + timedelta(hours=23))
    assert samples.prune_samples(T0 + timedelta(hours=24, minutes=1)) == 2
    kept = db.session.scalars(sa.select(NodeSample.bucket_start)).all()
    assert kept == [T0 + timedelta(hours=23)]
    assert samples.prune_samples(T0 + timedelta(hours=24, minutes=1)) == 0


def test_a_deleted_node_takes_its_samples_along(fleet):
    (node, _), pipeline = fleet
    samples.record_batch([(node.id, beat([(pipeline.id, 1, 1, 0)]), [pipeline.id])], T0)
    db.session.delete(node)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PipelineSample)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NodeSample)) == 0


def test_a_clock_that_goes_back_folds_into_the_newest_bucket(fleet):
    (node, _), pipeline = fleet
    pid = pipeline.id
    for seconds, total in ((50, 0), (80, 30), (20, 40)):  # the third from a slower clock
        samples.record_batch([(node.id, beat([(pid, total, 0, 0)]), [pid])],
                             T0 + timedelta(seconds=seconds))
    rows = db.session.scalars(sa.select(NodeSample).order_by(NodeSample.bucket_start)).all()
    assert [r.bucket_start for r in rows] == [T0, T0 + timedelta(seconds=60)]
    assert sum(r.events_in for r in rows) == 40
