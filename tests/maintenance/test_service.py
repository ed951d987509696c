"""set_maintenance and friends: the one workflow every entry point uses."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.factories import make_node, make_pipeline
from tests.maintenance.conftest import report
from vectorflow.extensions import db
from vectorflow.models import (
    AuditLog,
    DrainState,
    Event,
    ExitKind,
    MaintenancePeriod,
    NodeStatus,
    ProcessStatus,
    utcnow,
)
from vectorflow.services import Conflict, ServiceError
from vectorflow.services.actors import Actor
from vectorflow.services.budgets import shortfalls
from vectorflow.services.maintenance import (
    budget_shortfalls,
    end_expired_maintenance,
    history,
    on_heartbeat,
    running_count,
    set_maintenance,
)

ALICE = Actor("user", "u-alice", "alice@example.com")


def audit_rows(node):
    return db.session.scalars(
        sa.select(AuditLog).where(AuditLog.entity_id == node.id).order_by(AuditLog.id)).all()


def events(node):
    return [e.payload for e in db.session.scalars(
        sa.select(Event).where(Event.node_id == node.id, Event.type == "node.maintenance_changed")
        .order_by(Event.id))]


def test_entering_sets_the_timestamp_reason_until_and_who(node):
    until = utcnow() + timedelta(hours=2)
    assert set_maintenance(node, True, reason="kernel patch", until=until, actor=ALICE)
    db.session.commit()
    assert node.maintenance_mode is True
    assert abs((utcnow() - node.maintenance_mode_at).total_seconds()) < 60
    assert node.maintenance_reason == "kernel patch"
    assert node.maintenance_until == until
    assert node.maintenance_by_label == "alice@example.com"
    assert node.drain_state == DrainState.DRAINING


def test_leaving_clears_the_timestamp_and_reason(node):
    set_maintenance(node, True, reason="patch", actor=ALICE)
    assert set_maintenance(node, False, actor=ALICE)
    db.session.commit()
    assert node.maintenance_mode is False
    assert node.maintenance_mode_at is None
    assert node.maintenance_reason is None and node.maintenance_until is None


def test_every_toggle_writes_an_audit_row_with_actor_node_environment_team_and_reason(node, world):
    set_maintenance(node, True, reason="disk swap", actor=ALICE)
    set_maintenance(node, False, actor=ALICE)
    db.session.commit()
    entered, left = audit_rows(node)
    assert entered.action == "node.maintenance_entered" and left.action == "node.maintenance_left"
    for row in (entered, left):
        assert row.actor_label == "alice@example.com" and row.actor_id == "u-alice"
        assert row.entity_type == "node" and row.entity_id == node.id
        assert row.team_id == world.team.id and row.environment_id == world.env.id
    assert entered.before["maintenanceMode"] is False and entered.after["maintenanceMode"] is True
    assert entered.after["reason"] == "disk swap"
    assert left.before == {"maintenanceMode": True, "reason": "disk swap", "until": None}


def test_setting_the_state_a_node_already_has_changes_nothing_and_writes_no_audit_row(node):
    set_maintenance(node, True, reason="first", actor=ALICE)
    db.session.commit()
    since = node.maintenance_mode_at
    assert set_maintenance(node, True, reason="second", actor=ALICE) is False
    db.session.commit()
    assert len(audit_rows(node)) == 1
    assert node.maintenance_mode_at == since and node.maintenance_reason == "first"
    assert len(events(node)) == 1


def test_leaving_a_node_that_is_not_in_maintenance_is_a_no_op(node):
    assert set_maintenance(node, False, actor=ALICE) is False
    assert audit_rows(node) == []


def test_entering_and_leaving_emit_maintenance_events(node):
    set_maintenance(node, True, reason="patch", actor=ALICE)
    set_maintenance(node, False, actor=ALICE)
    db.session.commit()
    entered, left = events(node)
    assert entered["state"] == "entered" and entered["reason"] == "patch"
    assert entered["by"] == "alice@example.com" and entered["since"]
    assert left["state"] == "left" and left["maintenanceMode"] is False


@pytest.mark.parametrize("reason, until, problem", [
    ("x" * 501, None, "reason"),
    (None, "tomorrow", "until"),
    (None, "2031-01-01T10:00:00", "until"),  # no timezone
    (None, "2001-01-01T10:00:00Z", "until"),  # in the past
])
def test_bad_reason_or_until_is_refused_and_nothing_changes(node, reason, until, problem):
    with pytest.raises(ServiceError) as err:
        set_maintenance(node, True, reason=reason, until=until, actor=ALICE)
    assert problem in err.value.details
    db.session.rollback()
    assert node.maintenance_mode is False and audit_rows(node) == []


def test_until_accepts_iso_8601_with_an_offset_and_stores_utc(node):
    set_maintenance(node, True, until="2099-06-01T20:00:00+02:00", actor=ALICE)
    assert node.maintenance_until.isoformat() == "2099-06-01T18:00:00+00:00"


def test_a_reason_of_500_characters_is_accepted(node):
    set_maintenance(node, True, reason="r" * 500, actor=ALICE)
    assert len(node.maintenance_reason) == 500


# ------------------------------------------------------------------ coverage

def test_coverage_warns_about_pipelines_only_this_node_runs(world, node):
    only_here = make_pipeline(world.env, "only-here")
    shared = make_pipeline(world.env, "shared")
    other, _ = make_node(world.env, "edge-2")
    for p in (only_here, shared):
        report(node, p)
    report(other, shared)
    assert [s.pipeline.name for s in budget_shortfalls(node)] == ["only-here"]


def test_nodes_in_maintenance_unhealthy_or_silent_do_not_count_as_coverage(world, node):
    pipeline = make_pipeline(world.env, "logs")
    report(node, pipeline)
    in_maintenance, _ = make_node(world.env, "maint", maintenance_mode=True)
    unreachable, _ = make_node(world.env, "down", status=NodeStatus.UNREACHABLE)
    silent, _ = make_node(world.env, "silent", last_heartbeat=utcnow() - timedelta(hours=1))
    crashed, _ = make_node(world.env, "crashed")
    for n in (in_maintenance, unreachable, silent):
        report(n, pipeline)
    report(crashed, pipeline, ProcessStatus.CRASHED)
    assert [s.pipeline.name for s in budget_shortfalls(node)] == ["logs"]


def test_undeployed_pipelines_and_other_environments_never_warn(world, node):
    make_pipeline(world.env, "draft", deployed=False)
    make_pipeline(world.other_env, "theirs")
    assert budget_shortfalls(node) == []


def test_entering_with_a_coverage_warning_is_refused_unless_forced(world, node):
    pipeline = make_pipeline(world.env, "billing-logs")
    report(node, pipeline)
    with pytest.raises(Conflict) as err:
        set_maintenance(node, True, actor=ALICE)
    assert err.value.details["pipelines"] == ["billing-logs"]
    assert node.maintenance_mode is False
    assert set_maintenance(node, True, force=True, actor=ALICE)
    db.session.commit()
    (row,) = audit_rows(node)
    assert row.details["coverageWarnings"] == ["billing-logs"] and row.details["forced"] is True


def test_bulk_coverage_counts_the_whole_set_as_gone(world, node):
    pipeline = make_pipeline(world.env, "logs")
    other, _ = make_node(world.env, "edge-2")
    report(node, pipeline)
    report(other, pipeline)
    assert budget_shortfalls(node) == [] and budget_shortfalls(other) == []
    assert [s.pipeline.name for s in shortfalls([node, other])] == ["logs"]


def test_the_running_count_is_what_the_node_last_reported_running(world, node):
    report(node, make_pipeline(world.env, "a"))
    report(node, make_pipeline(world.env, "b"))
    report(node, make_pipeline(world.env, "c"), ProcessStatus.CRASHED)
    other, _ = make_node(world.env, "edge-2")
    report(other, make_pipeline(world.env, "d"))
    assert running_count(node) == 2 and running_count(other) == 1


# ------------------------------------------------------------------ drain and resume

def test_drain_state_follows_heartbeats_and_is_kept_in_the_history(world, node):
    pipeline = make_pipeline(world.env, "logs")
    report(node, pipeline)
    set_maintenance(node, True, force=True, actor=ALICE)
    on_heartbeat(node, [{"status": "RUNNING"}])
    assert node.drain_state == DrainState.DRAINING
    on_heartbeat(node, [])
    db.session.commit()
    assert node.drain_state == DrainState.DRAINED and node.drained_at is not None
    (period,) = history(node)
    assert period.drained_at == node.drained_at and period.drain_seconds is not None
    assert [e["state"] for e in events(node)] == ["entered", "drained"]

    set_maintenance(node, False, actor=ALICE)
    assert node.drain_state == DrainState.RESUMING
    on_heartbeat(node, [{"status": "STARTING"}])
    assert node.drain_state == DrainState.RESUMING
    on_heartbeat(node, ["RUNNING"])
    db.session.commit()
    assert node.drain_state is None
    assert history(node)[0].resumed_at is not None
    assert [e["state"] for e in events(node)] == ["entered", "drained", "left", "resumed"]


def test_a_starting_pipeline_keeps_the_node_draining(node):
    set_maintenance(node, True, actor=ALICE)
    on_heartbeat(node, [ProcessStatus.STARTING])
    assert node.drain_state == DrainState.DRAINING
    on_heartbeat(node, [ProcessStatus.STOPPED])
    assert node.drain_state == DrainState.DRAINED


def test_leaving_with_nothing_deployed_does_not_wait_for_a_resume(node):
    set_maintenance(node, True, actor=ALICE)
    set_maintenance(node, False, actor=ALICE)
    assert node.drain_state is None


def test_heartbeats_of_nodes_outside_maintenance_change_nothing(node):
    on_heartbeat(node, [{"status": "RUNNING"}])
    db.session.commit()
    assert node.drain_state is None and events(node) == []


# ------------------------------------------------------------------ scheduled end

def test_maintenance_ends_by_itself_when_until_has_passed(world, node):
    other, _ = make_node(world.env, "edge-2")
    set_maintenance(node, True, reason="1h window", until=utcnow() + timedelta(hours=1), actor=ALICE)
    set_maintenance(other, True, reason="open-ended", actor=ALICE)
    db.session.commit()

    assert end_expired_maintenance(utcnow()) == []
    ended = end_expired_maintenance(utcnow() + timedelta(hours=1, seconds=1))
    db.session.commit()
    assert ended == [node]
    assert node.maintenance_mode is False and other.maintenance_mode is True
    row = audit_rows(node)[-1]
    assert row.action == "node.maintenance_left" and row.actor_type == "system"
    assert row.details["exitKind"] == "AUTO"
    (period,) = history(node)
    assert period.exit_kind == ExitKind.AUTO and period.left_by_label == "system"
    assert events(node)[-1]["state"] == "auto_exited"
    assert events(node)[-1]["reason"] == "1h window"


# ------------------------------------------------------------------ history

def test_history_keeps_every_period_newest_first(node):
    set_maintenance(node, True, reason="first", actor=ALICE)
    set_maintenance(node, False, actor=Actor("user", "u-bob", "bob@example.com"))
    set_maintenance(node, True, reason="second", actor=ALICE)
    db.session.commit()
    second, first = history(node)
    assert second.reason == "second" and second.left_at is None
    assert first.reason == "first" and first.entered_by_label == "alice@example.com"
    assert first.left_by_label == "bob@example.com" and first.exit_kind == ExitKind.MANUAL
    assert first.duration_seconds is not None


def test_deleting_a_node_deletes_its_history(node):
    set_maintenance(node, True, actor=ALICE)
    db.session.commit()
    db.session.delete(node)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MaintenancePeriod)) == 0


def test_the_servers_periodic_sweep_ends_scheduled_maintenance(node):
    from vectorflow.sweeper import run_sweeps

    set_maintenance(node, True, until=utcnow() + timedelta(minutes=30), actor=ALICE)
    db.session.commit()
    run_sweeps(utcnow() + timedelta(minutes=31))
    db.session.refresh(node)
    assert node.maintenance_mode is False
    assert audit_rows(node)[-1].actor_type == "system"
