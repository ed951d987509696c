"""Admin actions on nodes: audited, evented, validated, and never leaking tokens."""
import pytest
import sqlalchemy as sa

from vectorflow.live.broker import INTERNAL_EVENTS
from vectorflow.models import (
    AuditLog,
    DeploymentMode,
    Event,
    NodeStatus,
    NodeStatusEvent,
    VectorNode,
)
from vectorflow.services import ServiceError
from vectorflow.services import nodes as svc

from .. import factories

CHECKSUM = "sha256:" + "ab" * 32
URL = "https://releases.example.com/vf-agent/2.1.0/vf-agent-linux-amd64"


@pytest.fixture
def node(db, world):
    node, token = factories.make_node(world.env, "web-1", deployment_mode=DeploymentMode.STANDALONE)
    db.session.commit()
    node.token = token
    return node


def audit_rows(db):
    return db.session.scalars(sa.select(AuditLog).order_by(AuditLog.id)).all()


def event_types(db):
    """The types of the events dashboards and agents see (not the processes' own)."""
    return [e.type for e in db.session.scalars(sa.select(Event).where(
        Event.type.not_in(INTERNAL_EVENTS)).order_by(Event.id))]


def test_renaming_is_audited_with_before_and_after(db, node):
    svc.rename_node(node, "  web-primary ")
    db.session.commit()
    (row,) = audit_rows(db)
    assert (row.action, row.before, row.after) == ("node.renamed", {"name": "web-1"}, {"name": "web-primary"})
    assert row.entity_id == node.id and row.environment_id == node.environment_id
    assert event_types(db) == ["node.updated"]


def test_renaming_to_the_same_name_changes_nothing(db, node):
    svc.rename_node(node, "web-1")
    assert audit_rows(db) == [] and event_types(db) == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 254])
def test_bad_node_names_are_refused(db, node, name):
    with pytest.raises(ServiceError, match="node name"):
        svc.rename_node(node, name)


def test_revoking_clears_the_digest_marks_unreachable_and_never_audits_the_token(db, node):
    digest = node.node_token_digest
    svc.revoke_node_token(node)
    db.session.commit()
    assert node.node_token_digest is None and node.status == NodeStatus.UNREACHABLE
    (row,) = audit_rows(db)
    assert row.action == "node.token_revoked"
    text = repr((row.before, row.after, row.details))
    assert digest not in text and node.token not in text
    (history,) = db.session.scalars(sa.select(NodeStatusEvent)).all()
    assert (history.from_status, history.to_status) == (NodeStatus.HEALTHY, NodeStatus.UNREACHABLE)
    assert event_types(db) == ["node.status_changed", "node.updated"]


def test_revoking_twice_writes_one_audit_row(db, node):
    svc.revoke_node_token(node)
    svc.revoke_node_token(node)
    assert len(audit_rows(db)) == 1


def test_deleting_a_node_is_audited_and_announced(db, node):
    node_id = node.id
    svc.delete_node(node)
    db.session.commit()
    assert db.session.get(VectorNode, node_id) is None
    (row,) = audit_rows(db)
    assert row.action == "node.deleted" and row.before["name"] == "web-1"
    (event,) = db.session.scalars(sa.select(Event).where(Event.type.not_in(INTERNAL_EVENTS))).all()
    assert (event.type, event.node_id) == ("node.deleted", node_id)


def test_triggering_an_update_sets_the_pending_action_the_agent_receives(db, node):
    node.last_update_error = "checksum mismatch"
    svc.trigger_agent_update(node, " 2.1.0 ", URL, CHECKSUM.upper().replace("SHA256", "sha256"))
    db.session.commit()
    assert node.pending_action == {"type": "self_update", "targetVersion": "2.1.0",
                                   "downloadUrl": URL, "checksum": CHECKSUM}
    assert node.last_update_error is None
    (row,) = audit_rows(db)
    assert row.action == "node.update_triggered"
    assert row.after == {"pendingAction": node.pending_action}
    assert row.before["lastUpdateError"] == "checksum mismatch"
    assert event_types(db) == ["node.updated"]


@pytest.mark.parametrize("version, url, checksum, problem", [
    ("", URL, CHECKSUM, "target version"),
    ("x" * 101, URL, CHECKSUM, "target version"),
    ("2.1.0", "", CHECKSUM, "download URL"),
    ("2.1.0", "ftp://example.com/agent", CHECKSUM, "https"),
    ("2.1.0", "http://releases.example.com/agent", CHECKSUM, "https"),
    ("2.1.0", "/relative/path", CHECKSUM, "https"),
    ("2.1.0", URL, "ab" * 32, "sha256:"),
    ("2.1.0", URL, "sha256:" + "ab" * 31, "sha256:"),
    ("2.1.0", URL, "sha256:" + "zz" * 32, "sha256:"),
    ("2.1.0", URL, "md5:" + "ab" * 16, "sha256:"),
])
def test_bad_update_requests_are_refused_and_change_nothing(db, node, version, url, checksum, problem):
    with pytest.raises(ServiceError, match=problem):
        svc.trigger_agent_update(node, version, url, checksum)
    assert node.pending_action is None and audit_rows(db) == []


@pytest.mark.parametrize("url", ["http://localhost:8080/vf-agent", "http://127.0.0.1/vf-agent"])
def test_plain_http_is_allowed_for_localhost(db, node, url):
    svc.trigger_agent_update(node, "2.1.0", url, CHECKSUM)
    assert node.pending_action["downloadUrl"] == url


def test_docker_nodes_are_told_to_update_their_image(db, node):
    node.deployment_mode = DeploymentMode.DOCKER
    with pytest.raises(ServiceError, match="runs in Docker"):
        svc.trigger_agent_update(node, "2.1.0", URL, CHECKSUM)
    assert node.pending_action is None


def test_a_pending_action_can_be_cancelled(db, node):
    svc.trigger_agent_update(node, "2.1.0", URL, CHECKSUM)
    svc.cancel_pending_action(node)
    svc.cancel_pending_action(node)
    assert node.pending_action is None
    assert [r.action for r in audit_rows(db)] == ["node.update_triggered", "node.pending_action_cancelled"]
