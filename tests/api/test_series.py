"""Chart series over the API: a node's, a pipeline's, sparklines; scoped by team."""
from datetime import timedelta

import pytest

from vectorflow.extensions import db
from vectorflow.models import utcnow
from vectorflow.schemas.agent import AgentHeartbeat
from vectorflow.services import samples

from .. import factories


def fold(node, pipeline, events_in, at, cpu=(0, 0)):
    beat = AgentHeartbeat.model_validate({
        "pipelines": [{"pipelineId": pipeline.id, "version": 1, "status": "RUNNING",
                       "eventsIn": events_in, "eventsOut": events_in, "errorsTotal": 0}],
        "hostMetrics": {"cpuSecondsTotal": cpu[0], "cpuSecondsIdle": cpu[1],
                        "memoryUsedBytes": 1, "memoryTotalBytes": 4}})
    samples.record_batch([(node.id, beat, [pipeline.id])], at)


@pytest.fixture
def charted(world):
    """Two nodes of the first team running one pipeline for the last three buckets."""
    nodes = [factories.make_node(world.env, f"n{i}")[0] for i in range(2)]
    pipeline = factories.make_pipeline(world.env, "logs")
    other, _ = factories.make_node(world.other_env, "theirs")
    db.session.commit()
    start = samples.bucket_of(utcnow()) - timedelta(minutes=3)
    for step in range(4):
        for node in nodes:
            fold(node, pipeline, 600 * step, start + timedelta(seconds=60 * step),
                 cpu=(40 * step, 30 * step))
    db.session.commit()
    return nodes, pipeline, other, start


def test_a_node_series_has_its_closed_buckets_as_columns(api, charted):
    (node, _), pipeline, _, start = charted
    body = api.get(f"/api/v1/nodes/{node.id}/series", "VIEWER").get_json()
    assert body["bucketSeconds"] == 60
    # Three closed buckets, the fourth open (closed too if the clock turned a minute since);
    # the first heartbeat had nothing to compare with, so its bucket has no rates.
    t = [int((start + timedelta(minutes=m)).timestamp()) for m in range(4)]
    assert body["t"] in (t[:3], t)
    assert body["eventsIn"][:3] == [None, 10.0, 10.0] and body["errors"][:3] == [None, 0.0, 0.0]
    assert body["cpu"][:3] == [None, 25.0, 25.0] and body["memory"][:3] == [25.0, 25.0, 25.0]


def test_a_pipeline_series_sums_its_nodes(api, charted):
    _, pipeline, _, _ = charted
    body = api.get(f"/api/v1/pipelines/{pipeline.id}/series?range=6h", "VIEWER").get_json()
    assert body["eventsIn"][:3] == [None, 20.0, 20.0]


def test_sparklines_leave_out_nodes_of_other_teams(api, charted):
    nodes, _, other, _ = charted
    query = "&".join(f"ids={n.id}" for n in nodes + [other])
    body = api.get(f"/api/v1/nodes/sparklines?{query}", "VIEWER").get_json()
    assert set(body["nodes"]) == {n.id for n in nodes}
    assert [v for _, v in body["nodes"][nodes[0].id]][:3] == [None, 10.0, 10.0]


def test_another_teams_node_or_pipeline_answers_404(api, charted, world):
    _, pipeline, other, _ = charted
    assert api.get(f"/api/v1/nodes/{other.id}/series", "VIEWER").status_code == 404
    theirs = factories.make_pipeline(world.other_env, "theirs")
    db.session.commit()
    assert api.get(f"/api/v1/pipelines/{theirs.id}/series", "VIEWER").status_code == 404
    assert api.get(f"/api/v1/pipelines/{pipeline.id}/series", "outsider").status_code == 404


@pytest.mark.parametrize("query, field", [
    ("range=2h", "range"), ("range=1h&range=6h", "range"), ("bogus=1", "bogus"),
    ("range=%00", "range"),
])
def test_a_bad_range_is_a_400_naming_it(api, charted, query, field):
    (node, _), _, _, _ = charted
    response = api.get(f"/api/v1/nodes/{node.id}/series?{query}", "VIEWER")
    assert response.status_code == 400 and field in response.get_json()["details"]


@pytest.mark.parametrize("query", ["", "ids=" + "&ids=".join(["a" * 20] * 101), "ids=%00"])
def test_bad_sparkline_ids_are_a_400(api, charted, query):
    response = api.get(f"/api/v1/nodes/sparklines?{query}", "VIEWER")
    assert response.status_code == 400 and "ids" in str(response.get_json()["details"])


def test_series_need_a_sign_in(api, charted):
    (node, _), _, _, _ = charted
    assert api.get(f"/api/v1/nodes/{node.id}/series").status_code == 401
