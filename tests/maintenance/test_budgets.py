"""Disruption budgets: every way into maintenance keeps each deployed pipeline on enough nodes."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.factories import make_node, make_pipeline
from tests.maintenance.conftest import report
from vectorflow.extensions import db
from vectorflow.models import AuditLog, ProcessStatus, VectorNode
from vectorflow.services import Conflict
from vectorflow.services.actors import Actor
from vectorflow.services.budgets import Budget, admit, set_budget, shortfalls
from vectorflow.services.maintenance import set_maintenance, set_maintenance_many

ALICE = Actor("user", "u-alice", "alice@example.com")


@pytest.fixture
def fleet(world):
    """Four healthy nodes running the deployed pipeline 'logs' with a budget of 2."""
    pipeline = make_pipeline(world.env, "logs")
    pipeline.min_available = 2
    nodes = [make_node(world.env, f"edge-{i}")[0] for i in range(1, 5)]
    for node in nodes:
        report(node, pipeline)
    db.session.commit()
    return pipeline, nodes


def in_maintenance() -> list[str]:
    return sorted(db.session.scalars(
        sa.select(VectorNode.name).where(VectorNode.maintenance_mode.is_(True))))


def entered_rows():
    return db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "node.maintenance_entered").order_by(AuditLog.id)).all()


def test_a_budget_of_2_refuses_the_third_node_naming_the_pipeline_and_the_numbers(fleet):
    _, (a, b, c, _) = fleet
    assert set_maintenance(a, True, actor=ALICE)
    assert set_maintenance(b, True, actor=ALICE)
    db.session.commit()
    with pytest.raises(Conflict) as err:
        set_maintenance(c, True, actor=ALICE)
    assert err.value.status_code == 409
    assert "logs (needs 2 healthy nodes outside maintenance; 1 would remain)" in err.value.message
    (warning,) = err.value.details["coverageWarnings"]
    assert warning | {"pipelineId": None} == {
        "pipelineId": None, "pipelineName": "logs", "environmentId": a.environment_id,
        "requiredNodes": 2, "availableNodes": 2, "remainingNodes": 1}
    db.session.rollback()
    assert in_maintenance() == ["edge-1", "edge-2"]


def test_force_enters_anyway_and_is_audited_as_forced_with_the_numbers(fleet):
    _, (a, b, c, _) = fleet
    set_maintenance_many([a, b], True, actor=ALICE)
    assert set_maintenance(c, True, force=True, actor=ALICE)
    db.session.commit()
    row = entered_rows()[-1]
    assert row.entity_id == c.id and row.details["forced"] is True
    assert row.details["budgetShortfalls"][0]["remainingNodes"] == 1
    assert row.details["budgetShortfalls"][0]["requiredNodes"] == 2
    assert "forced" not in entered_rows()[0].details


def test_bulk_checks_the_set_as_a_whole(fleet):
    _, (a, b, c, _) = fleet
    with pytest.raises(Conflict) as err:
        set_maintenance_many([a, b, c], True, actor=ALICE)
    assert err.value.details["pipelines"] == ["logs"]
    db.session.rollback()
    assert in_maintenance() == []
    dry = set_maintenance_many([a, b, c], True, dry_run=True, actor=ALICE)
    assert [(s.pipeline.name, s.remaining) for s in dry.warnings] == [("logs", 1)]
    assert len(set_maintenance_many([a, b], True, actor=ALICE).changed) == 2


def test_a_percentage_budget_rounds_up_over_the_environments_nodes(world, fleet):
    pipeline, (a, b, *_) = fleet
    set_budget(pipeline, Budget(min_available_percent=60), actor=ALICE)  # 60 % of 4 = 2.4 -> 3
    assert set_maintenance(a, True, actor=ALICE)
    with pytest.raises(Conflict) as err:
        set_maintenance(b, True, actor=ALICE)
    assert err.value.details["coverageWarnings"][0]["requiredNodes"] == 3


def test_a_budget_of_0_lets_every_node_go(fleet):
    pipeline, nodes = fleet
    set_budget(pipeline, Budget(min_available=0), actor=ALICE)
    assert len(set_maintenance_many(nodes, True, actor=ALICE).changed) == 4


def test_nodes_that_do_not_count_toward_a_pipeline_never_break_its_budget(world, fleet):
    pipeline, (a, b, c, _) = fleet
    set_maintenance_many([a, b], True, actor=ALICE)
    crashed, _ = make_node(world.env, "crashed")
    report(crashed, pipeline, ProcessStatus.CRASHED)
    bystander, _ = make_node(world.env, "bystander")  # runs nothing
    pipeline.min_available = 3  # already short: 2 count, 3 required
    db.session.commit()
    assert set_maintenance(bystander, True, actor=ALICE)
    assert set_maintenance(crashed, True, actor=ALICE)
    with pytest.raises(Conflict):
        set_maintenance(c, True, actor=ALICE)


def test_undeployed_pipelines_have_no_budget_to_break(world, fleet):
    pipeline, nodes = fleet
    pipeline.deployed = False
    db.session.commit()
    assert shortfalls(nodes) == []


def test_admit_takes_nodes_in_order_while_the_budget_allows_and_says_why_not(fleet):
    _, nodes = fleet
    admitted, refused = admit(nodes)
    assert [n.name for n in admitted] == ["edge-1", "edge-2"]
    why = "disruption budget: logs (needs 2 healthy nodes outside maintenance; 1 would remain)"
    assert [(n.name, reason) for n, reason in refused] == [("edge-3", why), ("edge-4", why)]


def test_the_most_restrictive_pipeline_decides(world, fleet):
    _, (a, b, c, d) = fleet
    strict = make_pipeline(world.env, "audit")
    strict.min_available = 3
    for node in (a, b, c, d):
        report(node, strict)
    db.session.commit()
    admitted, refused = admit([a, b, c])
    assert [n.name for n in admitted] == ["edge-1"]
    assert "audit (needs 3" in refused[0][1] and "logs" not in refused[0][1]


# ------------------------------------------------------------------ entry points

def test_the_rest_api_refuses_the_third_node_with_a_409_unless_forced(api, fleet):
    _, (a, b, c, _) = fleet
    for node in (a, b):
        assert api.post(f"/api/v1/nodes/{node.id}/maintenance", "ADMIN",
                        json={"enabled": True}).status_code == 200
    response = api.post(f"/api/v1/nodes/{c.id}/maintenance", "ADMIN", json={"enabled": True})
    assert response.status_code == 409
    body = response.get_json()
    assert body["details"]["pipelines"] == ["logs"]
    assert "needs 2 healthy nodes" in body["error"] and "1 would remain" in body["error"]
    response = api.post(f"/api/v1/nodes/{c.id}/maintenance", "ADMIN",
                        json={"enabled": True, "force": True})
    assert response.status_code == 200
    assert entered_rows()[-1].details["forced"] is True


def test_the_bulk_api_reports_the_numbers_in_a_dry_run(api, world, fleet):
    _, nodes = fleet
    response = api.post("/api/v1/nodes/maintenance", "ADMIN",
                        json={"nodeIds": [n.id for n in nodes[:3]], "enabled": True, "dryRun": True})
    assert response.status_code == 200
    (warning,) = response.get_json()["coverageWarnings"]
    assert (warning["requiredNodes"], warning["availableNodes"], warning["remainingNodes"]) == (2, 4, 1)
    response = api.post("/api/v1/nodes/maintenance", "ADMIN",
                        json={"selector": {"environmentId": world.env.id}, "enabled": True})
    assert response.status_code == 409 and in_maintenance() == []


def test_the_cli_refuses_with_a_one_line_error_and_force_enters(runner, fleet):
    _, (a, b, c, _) = fleet
    for node in (a, b):
        assert runner.invoke(args=["nodes", "maintenance", node.name, "on"]).exit_code == 0
    result = runner.invoke(args=["nodes", "maintenance", c.name, "on"])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "logs (needs 2 healthy nodes outside maintenance; 1 would remain)" in result.output
    assert runner.invoke(args=["nodes", "maintenance", c.name, "on", "--force"]).exit_code == 0
    assert entered_rows()[-1].details["forced"] is True


def test_the_dialog_names_the_budget_and_the_numbers(client, login_as, fleet):
    from tests.maintenance.conftest import open_dialog

    _, (a, b, c, _) = fleet
    set_maintenance_many([a, b], True, actor=ALICE)
    db.session.commit()
    login_as("ADMIN")
    dialog = open_dialog(client, client.get(f"/nodes/{c.id}").get_data(as_text=True))
    warning = dialog[dialog.index('data-testid="coverage-warning"'):]
    assert "logs" in warning and "needs 2 healthy nodes" in warning
    assert 'data-remaining="1"' in warning and 'name="force" value="1"' in warning


# ------------------------------------------------------------------ setting a budget

def patch(api, pipeline, budget, who="ADMIN"):
    return api.patch(f"/api/v1/pipelines/{pipeline.id}", who, json={"disruptionBudget": budget})


def test_patch_sets_the_budget_and_the_pipeline_json_shows_it_with_the_count_now(api, fleet):
    pipeline, (a, *_) = fleet
    set_maintenance(a, True, actor=ALICE)
    db.session.commit()
    response = patch(api, pipeline, {"minAvailablePercent": 50})
    assert response.status_code == 200
    assert response.get_json()["disruptionBudget"] == {
        "minAvailable": None, "minAvailablePercent": 50, "default": False,
        "requiredNodes": 2, "availableNodes": 3}
    response = patch(api, pipeline, None)
    assert response.get_json()["disruptionBudget"] == {
        "minAvailable": None, "minAvailablePercent": None, "default": True,
        "requiredNodes": 1, "availableNodes": 3}
    listed = api.get(f"/api/v1/pipelines?environmentId={pipeline.environment_id}", "VIEWER")
    assert listed.get_json()["items"][0]["disruptionBudget"]["availableNodes"] == 3
    rows = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "pipeline.disruption_budget_changed").order_by(AuditLog.id)).all()
    assert [(r.before, r.after) for r in rows] == [
        ({"minAvailable": 2, "minAvailablePercent": None},
         {"minAvailable": None, "minAvailablePercent": 50}),
        ({"minAvailable": None, "minAvailablePercent": 50},
         {"minAvailable": None, "minAvailablePercent": None})]
    assert rows[0].actor_label == "admin-laptop"


@pytest.mark.parametrize("budget, field", [
    ({"minAvailable": 1, "minAvailablePercent": 50}, "disruptionBudget"),
    ({"minAvailable": -1}, "disruptionBudget.minAvailable"),
    ({"minAvailablePercent": 101}, "disruptionBudget.minAvailablePercent"),
    ({"minAvailable": "2"}, "disruptionBudget.minAvailable"),
    ({"minimum": 2}, "disruptionBudget.minimum"),
    ([2], "disruptionBudget"),
])
def test_a_bad_budget_is_a_400_naming_the_field_and_changes_nothing(api, fleet, budget, field):
    pipeline, _ = fleet
    response = patch(api, pipeline, budget)
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    db.session.refresh(pipeline)
    assert (pipeline.min_available, pipeline.min_available_percent) == (2, None)


def test_patch_without_the_budget_is_a_400(api, fleet):
    pipeline, _ = fleet
    response = api.patch(f"/api/v1/pipelines/{pipeline.id}", "ADMIN", json={})
    assert response.status_code == 400 and "disruptionBudget" in response.get_json()["details"]


@pytest.mark.parametrize("who, status", [
    (None, 401), ("VIEWER", 403), ("EDITOR", 403), ("outsider", 404), ("ADMIN", 200),
    ("superadmin", 200), ("service:EDITOR", 403), ("service:ADMIN", 200),
])
def test_only_admins_of_the_team_set_a_budget(api, fleet, who, status):
    pipeline, _ = fleet
    assert patch(api, pipeline, {"minAvailable": 3}, who).status_code == status


def test_the_pipeline_page_shows_the_budget_and_the_count_that_holds_now(client, login_as, fleet):
    pipeline, (a, *_) = fleet
    set_maintenance(a, True, actor=ALICE)
    db.session.commit()
    login_as("VIEWER")
    page = client.get(f"/pipelines/{pipeline.id}").get_data(as_text=True)
    budget = page[page.index('id="disruption-budget"'):]
    budget = budget[:budget.index("</p>")]
    assert 'data-required="2"' in budget and 'data-available="3"' in budget
    assert "set to 2" in budget
    assert 'id="budget-form"' not in page  # only ADMINs change it

    login_as("ADMIN")
    response = client.submit(f"/pipelines/{pipeline.id}/budget", {"kind": "percent", "value": "75"},
                             follow_redirects=True)
    assert response.status_code == 200 and "Disruption budget saved." in response.get_data(as_text=True)
    db.session.refresh(pipeline)
    assert (pipeline.min_available, pipeline.min_available_percent) == (None, 75)
    page = response.get_data(as_text=True)
    assert 'data-required="3"' in page and "75 % of the environment" in page


def test_the_page_form_refuses_a_missing_number_with_a_message(client, login_as, fleet):
    pipeline, _ = fleet
    login_as("ADMIN")
    response = client.submit(f"/pipelines/{pipeline.id}/budget", {"kind": "count", "value": ""})
    assert response.status_code == 400 and "Enter a number." in response.get_data(as_text=True)
    response = client.submit(f"/pipelines/{pipeline.id}/budget", {"kind": "percent", "value": "150"})
    assert response.status_code == 400
    assert "from 0 to 100" in response.get_data(as_text=True)
    db.session.refresh(pipeline)
    assert (pipeline.min_available, pipeline.min_available_percent) == (2, None)
