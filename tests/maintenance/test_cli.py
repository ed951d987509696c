"""CLI: vectorflow nodes maintenance NODE on|off."""
from __future__ import annotations

import sqlalchemy as sa

from tests.factories import make_node, make_pipeline
from tests.maintenance.conftest import report
from vectorflow.extensions import db
from vectorflow.models import AuditLog


def test_maintenance_on_and_off_by_name(runner, node):
    result = runner.invoke(args=["nodes", "maintenance", "edge-1", "on", "--reason", "swap disk",
                                 "--until", "2099-01-01T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "edge-1 is in maintenance until 2099-01-01" in result.output
    db.session.refresh(node)
    assert node.maintenance_mode and node.maintenance_reason == "swap disk"
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "node.maintenance_entered"))
    assert row.actor_type == "cli"

    result = runner.invoke(args=["nodes", "maintenance", node.id, "off"])
    assert result.exit_code == 0 and "left maintenance" in result.output
    db.session.refresh(node)
    assert not node.maintenance_mode


def test_repeating_the_state_says_nothing_changed(runner, node):
    runner.invoke(args=["nodes", "maintenance", "edge-1", "on"])
    result = runner.invoke(args=["nodes", "maintenance", "edge-1", "on"])
    assert result.exit_code == 0 and "already in maintenance" in result.output


def test_an_unknown_node_is_a_one_line_error(runner, world):
    result = runner.invoke(args=["nodes", "maintenance", "nope", "on"])
    assert result.exit_code != 0
    assert result.output.strip() == "Error: no node with id or name 'nope'"


def test_an_ambiguous_name_asks_for_the_id(runner, world):
    make_node(world.env, "twin")
    make_node(world.other_env, "twin")
    db.session.commit()
    result = runner.invoke(args=["nodes", "maintenance", "twin", "on"])
    assert result.exit_code != 0 and "ambiguous" in result.output


def test_bad_until_is_a_one_line_error_and_changes_nothing(runner, node):
    result = runner.invoke(args=["nodes", "maintenance", "edge-1", "on", "--until", "soon"])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1 and "ISO 8601" in result.output
    db.session.refresh(node)
    assert not node.maintenance_mode


def test_coverage_warning_needs_force(runner, world, node):
    report(node, make_pipeline(world.env, "metrics"))
    db.session.commit()
    result = runner.invoke(args=["nodes", "maintenance", "edge-1", "on"])
    assert result.exit_code != 0 and "metrics" in result.output
    result = runner.invoke(args=["nodes", "maintenance", "edge-1", "on", "--force"])
    assert result.exit_code == 0
