"""Reading nodes over the API: filters, pagination, cross-team ids."""
from __future__ import annotations

import sqlalchemy as sa

from tests import factories
from vectorflow.extensions import db
from vectorflow.models import NodePipelineStatus, NodeStatus, Pipeline, ProcessStatus


def ids(response) -> list[str]:
    return [item["id"] for item in response.get_json()["items"]]


def make_fleet(world):
    web, _ = factories.make_node(world.env, "web-1", labels={"role": "web", "region": "eu"})
    db1, _ = factories.make_node(world.env, "db-1", labels={"role": "db", "region": "eu"},
                                 status=NodeStatus.UNREACHABLE)
    pay, _ = factories.make_node(world.other_env, "pay-1", labels={"role": "web"})
    db.session.commit()
    return web, db1, pay


def test_a_member_lists_the_nodes_of_their_teams_only(api, world):
    web, db1, pay = make_fleet(world)
    assert sorted(ids(api.get("/api/v1/nodes", "VIEWER"))) == sorted([web.id, db1.id])
    assert ids(api.get("/api/v1/nodes", "outsider")) == [pay.id]
    assert len(ids(api.get("/api/v1/nodes", "superadmin"))) == 3
    assert sorted(ids(api.get("/api/v1/nodes", "service:VIEWER"))) == sorted([web.id, db1.id])


def test_nodes_filter_by_environment_status_and_labels(api, world):
    web, db1, _ = make_fleet(world)
    staging = factories.make_environment(world.team, "staging")
    other, _ = factories.make_node(staging, "web-2", labels={"role": "web"})
    db.session.commit()
    assert ids(api.get(f"/api/v1/nodes?environmentId={staging.id}", "VIEWER")) == [other.id]
    assert ids(api.get("/api/v1/nodes?status=UNREACHABLE", "VIEWER")) == [db1.id]
    assert sorted(ids(api.get("/api/v1/nodes?label=role=web", "VIEWER"))) == sorted([web.id, other.id])
    assert ids(api.get("/api/v1/nodes?label=role=web&label=region=eu", "VIEWER")) == [web.id]
    assert ids(api.get("/api/v1/nodes?label=role=cache", "VIEWER")) == []


def test_bad_node_filters_are_400s_and_other_teams_environments_404(api, world):
    make_fleet(world)
    assert api.get("/api/v1/nodes?status=ASLEEP", "VIEWER").get_json()["details"] == {
        "status": "must be one of HEALTHY, DEGRADED, UNREACHABLE, UNKNOWN"}
    assert "label" in api.get("/api/v1/nodes?label=role", "VIEWER").get_json()["details"]
    assert api.get("/api/v1/nodes?label=a'b=c", "VIEWER").status_code == 400
    assert api.get(f"/api/v1/nodes?environmentId={world.other_env.id}", "VIEWER").status_code == 404


def test_node_pages_cover_every_node_once(api, world):
    made = {factories.make_node(world.env, f"n-{i:02d}")[0].id for i in range(7)}
    db.session.commit()
    seen, url = [], "/api/v1/nodes?limit=3"
    while url:
        body = api.get(url, "VIEWER").get_json()
        seen += [n["id"] for n in body["items"]]
        url = f"/api/v1/nodes?limit=3&cursor={body['nextCursor']}" if body["nextCursor"] else None
    assert len(seen) == 7 and set(seen) == made


def test_a_node_shows_its_pipeline_statuses_labels_and_pending_action(api, world):
    node, _ = factories.make_node(
        world.env, "web-1", labels={"role": "web"}, last_update_error="checksum mismatch",
        pending_action={"type": "self_update", "targetVersion": "2.0.1",
                        "downloadUrl": "https://updates.example.test/vf-agent",
                        "checksum": "sha256:abc"},
    )
    pipeline = Pipeline(environment=world.env, name="logs", draft_yaml="sources: {}")
    db.session.add(pipeline)
    db.session.flush()
    db.session.add(NodePipelineStatus(node=node, pipeline=pipeline, version=3,
                                      status=ProcessStatus.RUNNING, events_in=10))
    db.session.commit()
    body = api.get(f"/api/v1/nodes/{node.id}", "VIEWER").get_json()
    assert body["labels"] == {"role": "web"}
    assert body["pendingAction"]["targetVersion"] == "2.0.1"
    assert body["lastUpdateError"] == "checksum mismatch"
    assert body["environmentName"] == "production" and body["teamId"] == world.team.id
    [status] = body["pipelineStatuses"]
    assert (status["pipelineName"], status["version"], status["status"], status["eventsIn"]) == \
        ("logs", 3, "RUNNING", 10)


def test_a_node_of_another_team_is_not_found(api, world):
    _, _, pay = make_fleet(world)
    assert api.get(f"/api/v1/nodes/{pay.id}", "ADMIN").status_code == 404
    assert api.get(f"/api/v1/nodes/{pay.id}", "service:ADMIN").status_code == 404
    assert api.get("/api/v1/nodes/nope", "ADMIN").status_code == 404


def test_a_page_of_nodes_costs_the_same_queries_however_big_the_fleet(api, world, app):
    def queries_for_a_page() -> int:
        db.session.expire_all()
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert api.get("/api/v1/nodes?limit=50", "VIEWER").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    pipeline = Pipeline(environment=world.env, name="logs", draft_yaml="")
    db.session.add(pipeline)
    for i in range(5):
        node, _ = factories.make_node(world.env, f"a-{i}")
        db.session.add(NodePipelineStatus(node=node, pipeline=pipeline, version=1))
    db.session.commit()
    queries_for_a_page()  # the first call of a token also records its use
    small = queries_for_a_page()
    for i in range(60):
        node, _ = factories.make_node(world.env, f"b-{i}")
        db.session.add(NodePipelineStatus(node=node, pipeline=pipeline, version=1))
    db.session.commit()
    assert queries_for_a_page() == small


def test_nodes_filter_by_maintenance_and_show_its_fields(api, world):
    from vectorflow.services.actors import Actor
    from vectorflow.services.maintenance import set_maintenance

    web, db1, _ = make_fleet(world)
    set_maintenance(web, True, reason="kernel upgrade", actor=Actor.cli())
    db.session.commit()
    assert ids(api.get("/api/v1/nodes?maintenance=true", "VIEWER")) == [web.id]
    assert ids(api.get("/api/v1/nodes?maintenance=false", "VIEWER")) == [db1.id]
    body = api.get(f"/api/v1/nodes/{web.id}", "VIEWER").get_json()
    assert body["maintenanceMode"] is True and body["maintenanceReason"] == "kernel upgrade"
    assert body["maintenanceModeAt"] and body["drainState"] == "DRAINING"
    assert body["maintenanceUntil"] is None


def test_the_maintenance_endpoints_answer_as_documented(api, world):
    web, db1, _ = make_fleet(world)
    entered = api.post(f"/api/v1/nodes/{web.id}/maintenance", "service:ADMIN",
                       json={"enabled": True, "reason": "patching"})
    assert entered.status_code == 200 and entered.get_json()["maintenanceMode"] is True
    dry = api.post("/api/v1/nodes/maintenance", "ADMIN", json={
        "selector": {"environmentId": world.env.id, "labels": {"region": "eu"}},
        "enabled": True, "dryRun": True})
    assert dry.status_code == 200
    assert [n["id"] for n in dry.get_json()["nodes"]] == [db1.id]
    assert api.post(f"/api/v1/nodes/{web.id}/maintenance", "EDITOR",
                    json={"enabled": False}).status_code == 403


CHECKSUM = "sha256:" + "ab" * 32


def test_an_admin_triggers_an_agent_update(api, world):
    web, _, _ = make_fleet(world)
    body = {"targetVersion": "2.1.0", "downloadUrl": "https://updates.example.test/vf-agent",
            "checksum": CHECKSUM}
    response = api.post(f"/api/v1/nodes/{web.id}/agent-update", "service:ADMIN", json=body)
    assert response.status_code == 200
    assert response.get_json()["pendingAction"] == {"type": "self_update", **body}
    bad = api.post(f"/api/v1/nodes/{web.id}/agent-update", "ADMIN",
                   json={**body, "downloadUrl": "ftp://x"})
    assert bad.status_code == 400 and "downloadUrl" in bad.get_json()["details"]
    missing = api.post(f"/api/v1/nodes/{web.id}/agent-update", "ADMIN", json={})
    assert set(missing.get_json()["details"]) == {"targetVersion", "downloadUrl", "checksum"}
    assert api.post(f"/api/v1/nodes/{web.id}/agent-update", "EDITOR", json=body).status_code == 403


def test_an_admin_renames_and_deletes_a_node(api, world):
    from vectorflow.models import VectorNode

    web, db1, pay = make_fleet(world)
    db1_id, pay_id = db1.id, pay.id
    renamed = api.call("PATCH", f"/api/v1/nodes/{web.id}", "ADMIN", json={"name": "web-eu-1"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "web-eu-1"
    assert api.call("PATCH", f"/api/v1/nodes/{web.id}", "EDITOR",
                    json={"name": "x"}).status_code == 403
    assert api.delete(f"/api/v1/nodes/{db1.id}", "EDITOR").status_code == 403
    assert api.delete(f"/api/v1/nodes/{pay.id}", "ADMIN").status_code == 404
    assert api.delete(f"/api/v1/nodes/{db1.id}", "ADMIN").status_code == 204
    assert db.session.get(VectorNode, db1_id) is None and db.session.get(VectorNode, pay_id)


def test_a_silent_node_is_listed_as_unreachable_before_any_sweep(api, world):
    from datetime import timedelta

    from vectorflow.models import utcnow

    stale, _ = factories.make_node(world.env, "stale", last_heartbeat=utcnow() - timedelta(hours=1))
    db.session.commit()
    assert api.get(f"/api/v1/nodes/{stale.id}", "VIEWER").get_json()["status"] == "UNREACHABLE"
    assert ids(api.get("/api/v1/nodes?status=UNREACHABLE", "VIEWER")) == [stale.id]
