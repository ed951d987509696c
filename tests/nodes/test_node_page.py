"""The node page: what everyone sees, and what only ADMINs can do."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from vectorflow.models import (
    AuditLog,
    DeploymentMode,
    NodePipelineStatus,
    ProcessStatus,
    Role,
    VectorNode,
    utcnow,
)
from vectorflow.schemas.agent import AgentHeartbeat
from vectorflow.services import samples

from .. import factories
from ..roles import KINDS, call, check

CHECKSUM = "sha256:" + "0f" * 32
UPDATE = {"target_version": "2.1.0", "download_url": "https://dl.example.com/vf-agent",
          "checksum": CHECKSUM}


@pytest.fixture
def node(db, world):
    node, _ = factories.make_node(
        world.env, "web-1", vector_version="0.54.0", agent_version="2.0.0", os="linux",
        deployment_mode=DeploymentMode.STANDALONE, labels={"region": "eu-west-1", "role": "ingest"})
    db.session.commit()
    return node


ROUTES = [
    ("GET", "/nodes/{id}", None, Role.VIEWER, 200),
    ("POST", "/nodes/{id}/rename", {"name": "web-renamed"}, Role.ADMIN, 302),
    ("POST", "/nodes/{id}/revoke-token", {}, Role.ADMIN, 302),
    ("POST", "/nodes/{id}/delete", {}, Role.ADMIN, 302),
    ("POST", "/nodes/{id}/agent-update", UPDATE, Role.ADMIN, 302),
    ("POST", "/nodes/{id}/pending-action/cancel", {}, Role.ADMIN, 302),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method, url, data, min_role, ok", ROUTES, ids=[r[1] for r in ROUTES])
def test_node_routes_follow_the_role_table(client, login_as, node, kind, method, url, data, min_role, ok):
    response = call(client, login_as, kind, method, url.format(id=node.id), data)
    check(response, kind, min_role, ok)


def test_refused_actions_change_nothing(client, login_as, node, db):
    login_as("EDITOR")
    assert client.submit(f"/nodes/{node.id}/revoke-token", {}).status_code == 403
    assert client.submit(f"/nodes/{node.id}/delete", {}).status_code == 403
    db.session.expire_all()
    assert db.session.get(VectorNode, node.id).node_token_digest is not None


def heartbeat(node, metrics, at):
    """Fold a heartbeat with these host metrics into the node's samples, as sent at ``at``."""
    body = AgentHeartbeat.model_validate({"pipelines": [], "hostMetrics": metrics})
    samples.record_batch([(node.id, body, [])], at)


def test_the_host_card_shows_the_latest_heartbeat_and_rates_from_the_two_latest(
        client, login_as, node, db):
    first = utcnow() - timedelta(minutes=4)
    heartbeat(node, {"cpuSecondsTotal": 100, "cpuSecondsIdle": 50, "netRxBytes": 10**9}, first)
    heartbeat(node, {"cpuSecondsTotal": 110, "cpuSecondsIdle": 58, "netRxBytes": 10**9 + 20480},
              first + timedelta(seconds=10))
    db.session.commit()
    login_as("VIEWER")
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    card = page[page.index('id="node-metrics"'):]
    card = card[:card.index("</section>")]
    assert "20.0%" in card  # 2 of 10 CPU-seconds busy since the heartbeat before
    assert "2.0 KiB/s" in card  # 20 KiB over 10 s, not the 954 MiB received since boot
    assert "as of" in card and ">3m ago<" in card  # the latest heartbeat, not the first (4m)


def test_the_page_shows_details_labels_pipelines_and_metrics(client, login_as, world, node, db):
    pipeline = factories.make_pipeline(world.env, "app-logs", versions=4)
    db.session.add(NodePipelineStatus(
        node_id=node.id, pipeline_id=pipeline.id, version=3, status=ProcessStatus.RUNNING,
        uptime_seconds=3725, events_in=1200, events_out=1198, errors_total=1, bytes_in=98234,
        bytes_out=88912))
    now = utcnow()
    earlier = now - timedelta(seconds=15)
    base = {"memoryTotalBytes": 16 * 2**30, "memoryUsedBytes": 4 * 2**30, "fsTotalBytes": 100 * 2**30,
            "fsUsedBytes": 25 * 2**30, "loadAvg1": 0.7, "loadAvg5": 0.5, "loadAvg15": 0.4}
    heartbeat(node, dict(base, cpuSecondsTotal=1000, cpuSecondsIdle=800, netRxBytes=0,
                         netTxBytes=0), earlier)
    heartbeat(node, dict(base, cpuSecondsTotal=1030, cpuSecondsIdle=820, netRxBytes=15 * 1024,
                         netTxBytes=30 * 1024), now)
    db.session.commit()
    login_as("VIEWER")
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    for text in ("web-1", "web-1.example.internal", "production", "0.54.0", "2.0.0", "linux",
                 "Standalone", "region=eu-west-1", "role=ingest", "Healthy"):
        assert text in page, text
    row = page[page.index(f'id="node-pipeline-{pipeline.id}"'):]
    row = row[:row.index("</tr>")]
    for text in ("app-logs", "v3", "latest v4", "Running", "1.2k", "95.9 KiB", "86.8 KiB", "1h 2m"):
        assert text in row, text
    metrics = page[page.index('id="node-metrics"'):]
    assert "33.3%" in metrics  # CPU busy between the two heartbeats: 1 - 20/30
    assert "25.0%" in metrics and "4.0 GiB of 16.0 GiB" in metrics
    assert "1.0 KiB/s" in metrics  # 15 KiB received over 15 s
    assert 'id="node-banner"' in page  # the slot the maintenance banner fills


def test_a_node_without_reports_says_so(client, login_as, world, db):
    node, _ = factories.make_node(world.env, "fresh")
    db.session.commit()
    login_as("VIEWER")
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    assert "No host metrics reported yet." in page and "The agent reports no pipelines." in page


def test_only_admins_see_the_admin_controls(client, login_as, node):
    login_as("EDITOR")
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    assert "Revoke token" not in page and "agent-update-form" not in page
    login_as("ADMIN")
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    assert '<dialog id="revoke-dialog"' in page and '<dialog id="delete-dialog"' in page
    assert 'id="agent-update-form"' in page and "window.confirm" not in page


def test_revoking_from_the_page_makes_the_digest_null_and_is_audited(client, login_as, node, db):
    login_as("ADMIN")
    page = client.submit(f"/nodes/{node.id}/revoke-token", {}, follow_redirects=True).get_data(as_text=True)
    assert "Token revoked" in page and "Unreachable" in page and "Revoked" in page
    db.session.expire_all()
    assert db.session.get(VectorNode, node.id).node_token_digest is None
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "node.token_revoked"))
    assert row.actor_label == "admin@example.com"


def test_renaming_from_the_page(client, login_as, node, db):
    login_as("ADMIN")
    page = client.submit(f"/nodes/{node.id}/rename", {"name": "edge-7"}, follow_redirects=True)
    assert "Node renamed to edge-7" in page.get_data(as_text=True)
    assert db.session.scalar(sa.select(AuditLog.action)) == "node.renamed"


def test_deleting_from_the_page_returns_to_the_fleet(client, login_as, node, db):
    login_as("ADMIN")
    node_id = node.id
    response = client.submit(f"/nodes/{node_id}/delete", {})
    assert response.headers["Location"].endswith("/")
    assert db.session.get(VectorNode, node_id) is None


def test_triggering_an_update_shows_the_pending_action(client, login_as, node, db):
    login_as("ADMIN")
    page = client.submit(f"/nodes/{node.id}/agent-update", UPDATE, follow_redirects=True).get_data(as_text=True)
    assert "Self-update to 2.1.0 pending" in page and CHECKSUM in page
    db.session.expire_all()
    assert db.session.get(VectorNode, node.id).pending_action["targetVersion"] == "2.1.0"
    assert db.session.scalar(sa.select(AuditLog.action)) == "node.update_triggered"


@pytest.mark.parametrize("field, value, message", [
    ("checksum", "sha256:1234", "checksum must be sha256:"),
    ("download_url", "http://dl.example.com/vf-agent", "must use https"),
])
def test_a_bad_update_request_is_explained_next_to_the_field(client, login_as, node, db, field, value, message):
    login_as("ADMIN")
    response = client.submit(f"/nodes/{node.id}/agent-update", dict(UPDATE, **{field: value}))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(VectorNode, node.id).pending_action is None


def test_docker_nodes_offer_no_binary_update(client, login_as, node, db):
    node.deployment_mode = DeploymentMode.DOCKER
    db.session.commit()
    login_as("ADMIN")
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    assert 'id="agent-update-docker"' in page and 'id="agent-update-form"' not in page
    response = client.submit(f"/nodes/{node.id}/agent-update", UPDATE)
    assert response.status_code == 400 and "runs in Docker" in response.get_data(as_text=True)


def test_the_last_update_error_is_shown(client, login_as, node, db):
    node.last_update_error = "download failed: 404 Not Found"
    db.session.commit()
    login_as("VIEWER")
    assert "download failed: 404 Not Found" in client.get(f"/nodes/{node.id}").get_data(as_text=True)


def test_the_page_renders_whatever_numbers_an_agent_stored(client, login_as, world, node, db):
    pipeline = factories.make_pipeline(world.env, "app-logs")
    db.session.add(NodePipelineStatus(
        node_id=node.id, pipeline_id=pipeline.id, version=1, status=ProcessStatus.RUNNING,
        uptime_seconds=2**62, events_in=2**62, bytes_in=2**62))
    db.session.commit()
    login_as("VIEWER")
    response = client.get(f"/nodes/{node.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    row = page[page.index(f'id="node-pipeline-{pipeline.id}"'):]
    row = row[:row.index("</tr>")]
    for text in ("4611686018.4G", "4.0 EiB", "53375995583650d 7h"):
        assert text in row, text


@pytest.mark.parametrize("sent, shown, missing", [
    ({"netRxBytes": 2048}, "2.0 KiB received in total", "sent"),
    ({"netTxBytes": 3072}, "3.0 KiB sent in total", "received"),
])
def test_a_sample_with_one_network_direction_renders(client, login_as, node, db, sent, shown,
                                                     missing):
    heartbeat(node, sent, utcnow())
    db.session.commit()
    login_as("VIEWER")
    response = client.get(f"/nodes/{node.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    network = page[page.index('id="metric-network"'):]
    network = network[:network.index("</section>")]
    assert shown in network and missing not in network


def test_labels_holding_a_lone_surrogate_render(client, login_as, world, db):
    node, _ = factories.make_node(world.env, "odd", labels={"role": "in\ud800gest"})
    db.session.commit()
    login_as("VIEWER")
    response = client.get(f"/nodes/{node.id}")
    assert response.status_code == 200
    assert "role=in?gest" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # the fleet shows labels too
