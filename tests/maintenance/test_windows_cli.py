"""CLI: vectorflow windows list|create|preview|delete."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.factories import make_node, make_pipeline
from tests.maintenance.conftest import report
from tests.maintenance.test_windows import sweep, t
from vectorflow.extensions import db
from vectorflow.models import AuditLog, MaintenanceWindow


@pytest.fixture
def nodes(world):
    made = [make_node(world.env, name, labels={"rack": "r1"})[0] for name in ("web-1", "web-2")]
    db.session.commit()
    return made


CREATE = ["windows", "create", "--env", "production", "--name", "patch-tuesday",
          "--label", "rack=r1", "--start", "2099-03-03T02:00", "--duration", "60",
          "--timezone", "Europe/Berlin", "--rrule", "FREQ=WEEKLY;BYDAY=TU",
          "--reason", "kernel upgrades"]


def test_create_list_preview_and_delete(runner, world, nodes):
    result = runner.invoke(args=CREATE)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("created maintenance window patch-tuesday in production; "
                                     "next start 2099-03-03 02:00 CET (01:00 UTC)")
    window = db.session.scalar(sa.select(MaintenanceWindow))
    assert window.selector == {"labels": {"rack": "r1"}} and window.reason == "kernel upgrades"
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "maintenance_window.created"))
    assert row.actor_type == "cli"

    listed = runner.invoke(args=["windows", "list"])
    assert listed.exit_code == 0
    assert "patch-tuesday" in listed.output and "rack=r1" in listed.output
    assert "FREQ=WEEKLY;BYDAY=TU" in listed.output and "enabled" in listed.output
    as_json = json.loads(runner.invoke(args=["windows", "list", "--json"]).output)
    assert as_json[0]["nextStart"] == "2099-03-03T02:00:00+01:00"

    shown = runner.invoke(args=["windows", "preview", "patch-tuesday", "--count", "5"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == "next occurrences (Europe/Berlin):"
    assert lines[1] == "  2099-03-03 02:00 CET (01:00 UTC) -> 03:00"
    assert lines[5] == "  2099-03-31 02:00 CEST (00:00 UTC) -> 03:00"  # after the DST change
    assert lines[6] == "would take now: web-1, web-2"
    preview_json = json.loads(runner.invoke(
        args=["windows", "preview", window.id, "--json"]).output)
    assert len(preview_json["occurrences"]) == 5

    deleted = runner.invoke(args=["windows", "delete", "patch-tuesday", "--env", "production"])
    assert deleted.exit_code == 0 and "deleted maintenance window patch-tuesday" in deleted.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MaintenanceWindow)) == 0


def test_create_with_preview_shows_skips_and_saves_nothing(runner, world, nodes):
    pipeline = make_pipeline(world.env, "logs")
    for node in nodes:
        report(node, pipeline)
    db.session.commit()
    result = runner.invoke(args=[*CREATE, "--preview"])
    assert result.exit_code == 0, result.output
    assert "would take now: web-1\n" in result.output
    assert ("would skip web-2: disruption budget: logs (needs 1 healthy node outside "
            "maintenance; 0 would remain)") in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MaintenanceWindow)) == 0


def test_nodes_by_name_and_a_window_that_runs_once(runner, world, nodes):
    result = runner.invoke(args=["windows", "create", "--env", "production", "--name", "swap",
                                 "--node", "web-2", "--start", "2099-01-05T02:00:00Z",
                                 "--duration", "30"])
    assert result.exit_code == 0, result.output
    window = db.session.scalar(sa.select(MaintenanceWindow))
    assert window.node_ids == [nodes[1].id] and window.rrule is None and window.timezone == "UTC"
    sweep(t("2099-01-05T02:00:00Z"))
    listed = runner.invoke(args=["windows", "list", "--env", "production"])
    assert "OPEN" in listed.output


@pytest.mark.parametrize("args, message", [
    (["--label", "rack=r1", "--duration", "0"], "durationMinutes"),
    (["--label", "rack=r1", "--timezone", "Nowhere/Land"], "unknown IANA time zone"),
    (["--label", "rack=r1", "--rrule", "FREQ=NEVER"], "rrule"),
    (["--label", "rack"], "--label 'rack' is not key=value"),
    (["--node", "nope"], "no node 'nope' in environment production"),
    (["--node", "web-1", "--all-nodes"], "one kind"),
    ([], "one kind"),
])
def test_bad_options_are_one_line_errors_and_create_nothing(runner, world, nodes, args, message):
    base = ["windows", "create", "--env", "production", "--name", "w", "--start",
            "2099-03-03T02:00", "--duration", "60"]
    result = runner.invoke(args=[*base, *args])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1 and message in result.output, result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MaintenanceWindow)) == 0


def test_an_unknown_window_is_a_one_line_error(runner, world):
    for command in ("preview", "delete"):
        result = runner.invoke(args=["windows", command, "nope"])
        assert result.exit_code != 0
        assert result.output.strip() == "Error: no maintenance window with id or name 'nope'"
