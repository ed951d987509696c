"""POST /api/agent/enroll: an agent trades its environment's enrollment token for a node token."""
import pytest
import sqlalchemy as sa

from vectorflow.models import AuditLog, Event, NodeStatus, VectorNode
from vectorflow.security import token_digest


def enroll(client, **body):
    return client.post("/api/agent/enroll", json=body)


def test_enrolling_with_a_valid_token_answers_200_with_the_node_credentials(client, world,
                                                                            enrollment_token, db):
    response = enroll(client, token=enrollment_token, hostname="web-1.internal", os="linux",
                      agentVersion="2.0.0", vectorVersion="0.54.0",
                      labels={"region": "us-east-1"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"nodeId", "nodeToken", "environmentId", "environmentName"}
    assert body["environmentId"] == world.env.id
    assert body["environmentName"] == "production"
    assert body["nodeToken"].startswith("vf_node_") and len(body["nodeToken"]) == len("vf_node_") + 64

    node = db.session.get(VectorNode, body["nodeId"])
    assert node.status == NodeStatus.HEALTHY
    assert node.enrolled_at is not None and node.last_heartbeat is not None
    assert (node.name, node.host, node.os) == ("web-1.internal", "web-1.internal", "linux")
    assert (node.agent_version, node.vector_version) == ("2.0.0", "0.54.0")
    assert node.labels == {"region": "us-east-1"}
    # Only the digest of the node token is stored.
    assert node.node_token_digest == token_digest(body["nodeToken"])
    assert body["nodeToken"] not in str(node.__dict__)


def test_enrolling_is_audited_as_the_agent_and_emits_node_enrolled(client, world, enrollment_token,
                                                                   db):
    node_id = enroll(client, token=enrollment_token, hostname="web-1").get_json()["nodeId"]
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "node.enrolled"))
    assert (audit.actor_type, audit.entity_id, audit.team_id) == ("agent", node_id, world.team.id)
    assert enrollment_token not in str(audit.after) and "Token" not in str(audit.after)
    event = db.session.scalar(sa.select(Event).where(Event.type == "node.enrolled"))
    assert (event.node_id, event.team_id, event.environment_id) == (node_id, world.team.id,
                                                                     world.env.id)


def test_the_node_token_from_enrollment_authenticates_config_polls(client, enrollment_token):
    token = enroll(client, token=enrollment_token, hostname="web-1").get_json()["nodeToken"]
    response = client.get("/api/agent/config", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["pipelines"] == []


def test_an_unknown_enrollment_token_is_refused_with_401(client, world, enrollment_token, db):
    response = enroll(client, token="vf_enroll_" + "0" * 64, hostname="web-1")
    assert response.status_code == 401
    assert response.get_json() == {"error": "Invalid enrollment token"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VectorNode)) == 0


def test_a_replaced_enrollment_token_no_longer_enrolls(client, world, enrollment_token, db):
    from vectorflow.services.environments import issue_enrollment_token

    issue_enrollment_token(world.env)
    db.session.commit()
    assert enroll(client, token=enrollment_token, hostname="web-1").status_code == 401


DROP = object()


@pytest.mark.parametrize("change, field", [
    ({"token": DROP}, "token"),
    ({"token": ""}, "token"),
    ({"token": 12345}, "token"),
    ({"hostname": DROP}, "hostname"),
    ({"hostname": ""}, "hostname"),
    ({"hostname": "x" * 254}, "hostname"),
    ({"hostname": 42}, "hostname"),
    ({"os": ["linux"]}, "os"),
    ({"agentVersion": "v" * 101}, "agentVersion"),
    ({"labels": {"region": 1}}, "labels.region"),
    ({"labels": ["a"]}, "labels"),
])
def test_a_malformed_enrollment_is_a_400_naming_the_field(client, enrollment_token, db, change,
                                                          field):
    body = {"token": enrollment_token, "hostname": "web-1", **change}
    body = {key: value for key, value in body.items() if value is not DROP}
    response = client.post("/api/agent/enroll", json=body)
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["error"] == "Invalid input"
    assert field in payload["details"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VectorNode)) == 0


@pytest.mark.parametrize("data", [b"[1, 2]", b"", b"null"])
def test_a_body_that_is_not_a_json_object_is_a_400(client, data):
    response = client.post("/api/agent/enroll", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": "Invalid input",
                                   "details": {"body": "must be a JSON object"}}


@pytest.mark.parametrize("data", [b"not json", b'{"token": NaN}'])
def test_a_body_that_is_not_json_is_a_400_saying_so(client, data):
    response = client.post("/api/agent/enroll", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "Invalid input"
    assert response.get_json()["details"]["body"].startswith("malformed JSON: ")


def test_unknown_enrollment_keys_from_newer_agents_are_ignored(client, enrollment_token):
    response = enroll(client, token=enrollment_token, hostname="web-1", architecture="arm64",
                      capabilities=["push"])
    assert response.status_code == 200
