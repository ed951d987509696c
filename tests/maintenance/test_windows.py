"""Maintenance windows: the sweep opens and closes them on time, with a controllable clock.

Times are given to the services as ``now``; nothing sleeps. Nodes heartbeat "at" the test's
clock (``sweep`` refreshes them first), so they count as healthy for the disruption budgets.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import make_node, make_pipeline
from tests.maintenance.conftest import report
from vectorflow import transactions
from vectorflow.extensions import db
from vectorflow.models import (
    AuditLog,
    Event,
    ExitKind,
    MaintenancePeriod,
    MaintenanceWindow,
    VectorNode,
)
from vectorflow.services import Conflict, ServiceError
from vectorflow.services.actors import Actor
from vectorflow.services.maintenance import set_maintenance
from vectorflow.services.windows import (
    create_window,
    delete_window,
    last_run,
    preview,
    spec_of,
    sweep_windows,
    update_window,
)

ALICE = Actor("user", "u-alice", "alice@example.com")
ROOT = Path(__file__).resolve().parents[2]


def t(text: str) -> datetime:
    """An aware instant from ISO 8601 (Z or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def heartbeat(now: datetime) -> None:
    """Let every node heartbeat at ``now`` (so it is healthy by the test's clock)."""
    db.session.execute(sa.update(VectorNode).values(last_heartbeat=now, last_seen=now))
    db.session.commit()


def sweep(now: datetime) -> None:
    """Let every node heartbeat at ``now``, then run the windows' sweep at ``now`` (committed)."""
    heartbeat(now)
    transactions.run(lambda: sweep_windows(now))
    db.session.expire_all()


def in_maintenance() -> list[str]:
    return sorted(db.session.scalars(
        sa.select(VectorNode.name).where(VectorNode.maintenance_mode.is_(True))))


def make_window(env, now, **values) -> MaintenanceWindow:
    values.setdefault("name", "patch-night")
    values.setdefault("durationMinutes", 60)
    window = transactions.run(lambda: create_window(env, values, actor=ALICE, now=now))
    return window


def events(kind: str) -> list[dict]:
    return [e.payload for e in db.session.scalars(
        sa.select(Event).where(Event.type == f"maintenance_window.{kind}").order_by(Event.id))]


@pytest.fixture
def nodes(world):
    """Three healthy nodes: web-1 and web-2 in rack r1, db-1 in rack r2."""
    made = {name: make_node(world.env, name, labels={"rack": rack})[0]
            for name, rack in (("web-1", "r1"), ("web-2", "r1"), ("db-1", "r2"))}
    db.session.commit()
    return made


# ------------------------------------------------------------------ on time, across DST

def test_a_weekly_window_opens_and_closes_on_time_across_a_daylight_saving_change(world, nodes):
    # Tuesdays 02:00-03:00 in Berlin: 01:00-02:00 UTC in winter, 00:00-01:00 UTC from 28 March.
    window = make_window(world.env, t("2027-03-20T12:00Z"), selector={"labels": {"rack": "r1"}},
                         start="2027-03-16T02:00:00+01:00", timezone="Europe/Berlin",
                         rrule="FREQ=WEEKLY;BYDAY=TU")
    assert window.next_start_at == t("2027-03-23T01:00Z")

    sweep(t("2027-03-23T00:59:59Z"))
    assert in_maintenance() == []
    sweep(t("2027-03-23T01:00:00Z"))
    assert in_maintenance() == ["web-1", "web-2"]
    sweep(t("2027-03-23T01:59:59Z"))
    assert in_maintenance() == ["web-1", "web-2"]
    sweep(t("2027-03-23T02:00:00Z"))
    assert in_maintenance() == []

    db.session.refresh(window)
    assert window.next_start_at == t("2027-03-30T00:00Z")  # 02:00 CEST
    sweep(t("2027-03-29T23:59:59Z"))
    assert in_maintenance() == []
    sweep(t("2027-03-30T00:00:00Z"))
    assert in_maintenance() == ["web-1", "web-2"]
    run = last_run(window)
    assert (run.started_at, run.ends_at) == (t("2027-03-30T00:00Z"), t("2027-03-30T01:00Z"))
    sweep(t("2027-03-30T01:00:00Z"))
    assert in_maintenance() == []

    opened = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "maintenance_window.opened").order_by(AuditLog.id)).all()
    assert len(opened) == 2 and all(r.actor_type == "system" for r in opened)
    entered = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "node.maintenance_entered")).all()
    assert len(entered) == 4
    assert all(r.actor_type == "system" and r.details["windowName"] == "patch-night"
               for r in entered)
    left = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "node.maintenance_left")).all()
    assert len(left) == 4 and all(r.details["exitKind"] == "AUTO" for r in left)


def test_a_0230_window_on_the_day_without_0230_runs_an_hour_later_on_the_clock(world, nodes):
    # Europe/Berlin springs forward at 02:00 on 2027-03-28: 02:30 does not exist that day.
    # RFC 5545 reads it with the offset before the gap: 02:30+01:00, which is 03:30 CEST.
    window = make_window(world.env, t("2027-03-26T12:00Z"), nodeIds=[nodes["db-1"].id],
                         start="2027-03-27T02:30:00+01:00", timezone="Europe/Berlin",
                         rrule="FREQ=DAILY")
    shown = preview(world.env, spec_of(window), now=t("2027-03-26T12:00Z"), count=3)
    assert [(s.isoformat(), e.isoformat()) for s, e in shown.occurrences] == [
        ("2027-03-27T01:30:00+00:00", "2027-03-27T02:30:00+00:00"),  # 02:30 CET
        ("2027-03-28T01:30:00+00:00", "2027-03-28T02:30:00+00:00"),  # 03:30-04:30 CEST
        ("2027-03-29T00:30:00+00:00", "2027-03-29T01:30:00+00:00"),  # 02:30 CEST
    ]
    assert [shown.shifted(s) for s, _ in shown.occurrences] == [False, True, False]

    sweep(t("2027-03-28T01:29:59Z"))  # 03:29:59 CEST
    assert in_maintenance() == []
    sweep(t("2027-03-28T01:30:00Z"))
    assert in_maintenance() == ["db-1"]
    sweep(t("2027-03-28T02:30:00Z"))  # sixty minutes of elapsed time later
    assert in_maintenance() == []


def test_a_0230_window_on_the_day_0230_happens_twice_runs_at_the_first(world, nodes):
    window = make_window(world.env, t("2027-10-29T12:00Z"), nodeIds=[nodes["db-1"].id],
                         start="2027-10-30T02:30:00+02:00", timezone="Europe/Berlin",
                         rrule="FREQ=DAILY")
    starts = [s for s, _ in spec_of(window).occurrences(t("2027-10-30T12:00Z"), 2)]
    assert starts == [t("2027-10-31T00:30Z"), t("2027-11-01T01:30Z")]  # 02:30 CEST, 02:30 CET


def test_a_start_typed_inside_the_gap_is_refused(world, nodes):
    with pytest.raises(ServiceError) as err:
        create_window(world.env, {"name": "gap", "nodeIds": [nodes["db-1"].id],
                                  "start": "2027-03-28T02:30", "durationMinutes": 30,
                                  "timezone": "Europe/Berlin"}, actor=ALICE,
                      now=t("2027-03-01T00:00Z"))
    assert "does not exist in Europe/Berlin" in err.value.details["start"]


# ------------------------------------------------------------------ who joins, who stays

def test_a_selector_window_takes_a_node_enrolled_or_relabelled_mid_window(client, world, nodes):
    from vectorflow.services.environments import issue_enrollment_token

    make_window(world.env, t("2027-01-04T00:00Z"), selector={"labels": {"rack": "r1"}},
                start="2027-01-05T02:00Z", durationMinutes=120)
    sweep(t("2027-01-05T02:00Z"))
    assert in_maintenance() == ["web-1", "web-2"]

    # During the window: an agent enrolls into the rack, db-1's agent reports it moved there,
    # and an agent outside the rack enrolls (all through the agent API).
    token = issue_enrollment_token(world.env)
    db.session.commit()
    for hostname, rack in (("web-3", "r1"), ("cache-1", "r9")):
        response = client.post("/api/agent/enroll", json={
            "token": token, "hostname": hostname, "labels": {"rack": rack}})
        assert response.status_code == 200, response.get_json()
    _, db1_token = make_node(world.env, "db-1b")  # a node whose agent we can speak for
    db.session.commit()
    response = client.post("/api/agent/heartbeat", json={"pipelines": [], "labels": {"rack": "r1"}},
                           headers={"Authorization": f"Bearer {db1_token}"})
    assert response.status_code == 200
    sweep(t("2027-01-05T02:00:05Z"))
    assert in_maintenance() == ["db-1b", "web-1", "web-2", "web-3"]
    (joined,) = events("joined")
    assert len(joined["nodeIds"]) == 2 and joined["skipped"] == []

    sweep(t("2027-01-05T04:00Z"))
    assert in_maintenance() == []


def test_a_manual_maintenance_survives_a_windows_end(world, nodes):
    set_maintenance(nodes["web-1"], True, reason="disk swap", actor=ALICE)
    db.session.commit()
    window = make_window(world.env, t("2027-01-04T00:00Z"), selector={"labels": {"rack": "r1"}},
                         start="2027-01-05T02:00Z")
    sweep(t("2027-01-05T02:00Z"))
    run = last_run(window)
    assert run.node_ids == [nodes["web-2"].id]
    assert run.skipped == [{"nodeId": nodes["web-1"].id,
                            "reason": "already in maintenance (put there by alice@example.com)"}]
    sweep(t("2027-01-05T03:00Z"))
    assert in_maintenance() == ["web-1"]
    db.session.refresh(nodes["web-1"])
    assert nodes["web-1"].maintenance_reason == "disk swap"


def test_a_node_taken_out_by_hand_is_not_taken_again_and_one_put_back_by_hand_stays(world, nodes):
    window = make_window(world.env, t("2027-01-04T00:00Z"), selector={"labels": {"rack": "r1"}},
                         start="2027-01-05T02:00Z")
    sweep(t("2027-01-05T02:00Z"))
    web1, web2 = nodes["web-1"], nodes["web-2"]
    set_maintenance(web1, False, actor=ALICE)  # done early
    set_maintenance(web2, False, actor=ALICE)
    db.session.commit()
    set_maintenance(web2, True, reason="needs longer", actor=ALICE)
    db.session.commit()
    sweep(t("2027-01-05T02:30Z"))
    assert in_maintenance() == ["web-2"]  # web-1 is not taken back
    sweep(t("2027-01-05T03:00Z"))
    assert in_maintenance() == ["web-2"]  # web-2 is the admin's now
    assert last_run(window).ended_at == t("2027-01-05T03:00Z")


def test_overlapping_windows_hand_over_the_nodes_they_share(world, nodes):
    web1, web2, db1 = nodes["web-1"], nodes["web-2"], nodes["db-1"]
    first = make_window(world.env, t("2027-01-04T00:00Z"), name="racks",
                        nodeIds=[web1.id, web2.id], start="2027-01-05T02:00Z")  # 02:00-03:00
    second = make_window(world.env, t("2027-01-04T00:00Z"), name="web-tier",
                         nodeIds=[web2.id, db1.id], start="2027-01-05T02:30Z",
                         durationMinutes=90)  # 02:30-04:00
    sweep(t("2027-01-05T02:00Z"))
    assert in_maintenance() == ["web-1", "web-2"]
    sweep(t("2027-01-05T02:30Z"))
    assert in_maintenance() == ["db-1", "web-1", "web-2"]
    assert last_run(second).skipped == [
        {"nodeId": web2.id, "reason": "already in maintenance for window racks"}]

    sweep(t("2027-01-05T03:00Z"))
    assert in_maintenance() == ["db-1", "web-2"]  # web-2 is still covered by web-tier
    assert sorted(last_run(second).node_ids) == sorted([db1.id, web2.id])
    assert last_run(second).skipped == []
    (closed,) = events("closed")
    assert closed["releasedNodeIds"] == [web1.id]
    assert closed["handedOver"] == [{"nodeId": web2.id, "windowId": second.id,
                                     "windowName": "web-tier"}]
    period = db.session.scalar(sa.select(MaintenancePeriod).where(
        MaintenancePeriod.node_id == web2.id, MaintenancePeriod.left_at.is_(None)))
    assert period.window_run_id == last_run(second).id and period.window_name == "racks"

    sweep(t("2027-01-05T04:00Z"))
    assert in_maintenance() == []
    assert last_run(first).ended_at == t("2027-01-05T03:00Z")


def test_a_window_that_begins_as_another_ends_keeps_the_node_in_without_a_gap(world, nodes):
    web1 = nodes["web-1"]
    make_window(world.env, t("2027-01-04T00:00Z"), name="early", nodeIds=[web1.id],
                start="2027-01-05T02:00Z")
    make_window(world.env, t("2027-01-04T00:00Z"), name="late", nodeIds=[web1.id],
                start="2027-01-05T03:00Z")
    sweep(t("2027-01-05T02:00Z"))
    sweep(t("2027-01-05T03:00Z"))
    assert in_maintenance() == ["web-1"]
    periods = db.session.scalars(sa.select(MaintenancePeriod)).all()
    assert len(periods) == 1  # one period, handed from early to late
    sweep(t("2027-01-05T04:00Z"))
    assert in_maintenance() == []


# ------------------------------------------------------------------ budgets

@pytest.fixture
def budgeted(world):
    """Four healthy nodes running 'logs', whose budget is 2."""
    pipeline = make_pipeline(world.env, "logs")
    pipeline.min_available = 2
    made = [make_node(world.env, f"edge-{i}", labels={"tier": "edge"})[0] for i in range(1, 5)]
    for node in made:
        report(node, pipeline)
    db.session.commit()
    return made


def test_a_window_skips_nodes_beyond_the_budget_and_reports_them(world, budgeted):
    window = make_window(world.env, t("2027-01-04T00:00Z"), selector={"labels": {"tier": "edge"}},
                         start="2027-01-05T02:00Z")
    heartbeat(t("2027-01-05T01:00Z"))
    shown = preview(world.env, spec_of(window), now=t("2027-01-05T01:00Z"))
    assert [n.name for n in shown.nodes] == ["edge-1", "edge-2"]
    assert [n.name for n, _ in shown.skipped] == ["edge-3", "edge-4"]

    sweep(t("2027-01-05T02:00Z"))
    assert in_maintenance() == ["edge-1", "edge-2"]
    run = last_run(window)
    reason = ("disruption budget: logs (needs 2 healthy nodes outside maintenance; "
              "1 would remain)")
    assert run.skipped == [{"nodeId": budgeted[2].id, "reason": reason},
                           {"nodeId": budgeted[3].id, "reason": reason}]
    (opened,) = events("opened")
    assert opened["windowName"] == "patch-night" and opened["skipped"] == run.skipped
    assert sorted(opened["nodeIds"]) == sorted(n.id for n in budgeted[:2])
    audit = db.session.scalar(sa.select(AuditLog).where(
        AuditLog.action == "maintenance_window.opened"))
    assert audit.details["skipped"] == run.skipped
    # Windows never force: nothing was audited as forced.
    assert not db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "node.maintenance_entered")).all()[0].details.get("forced")


def test_a_skipped_node_is_not_retried_within_the_same_occurrence(world, budgeted):
    window = make_window(world.env, t("2027-01-04T00:00Z"), selector={"labels": {"tier": "edge"}},
                         start="2027-01-05T02:00Z")
    sweep(t("2027-01-05T02:00Z"))
    sweep(t("2027-01-05T02:10Z"))
    assert in_maintenance() == ["edge-1", "edge-2"]
    assert len(last_run(window).skipped) == 2 and events("joined") == []


# ------------------------------------------------------------------ restarts, changes

RESTART_SCRIPT = """
import json, sys
from datetime import datetime
from vectorflow import create_app
from vectorflow.sweeper import run_sweeps
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "x",
                  "VECTORFLOW_SWEEP_INTERVAL": 0})
with app.app_context():
    run_sweeps(datetime.fromisoformat(sys.argv[2]))
"""


def sweep_in_a_new_process(app, now: datetime) -> None:
    """Run the sweeps once in a freshly started server process (nothing kept in memory)."""
    heartbeat(now)
    db.session.remove()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    env = {**os.environ, "VECTORFLOW_INSTANCE_PATH": app.instance_path}
    subprocess.run([sys.executable, "-c", RESTART_SCRIPT, url, now.isoformat()], cwd=ROOT,
                   env=env, check=True, capture_output=True, timeout=120)
    db.session.expire_all()


def test_a_restart_during_an_open_window_closes_it_on_time(app, world, nodes):
    window = make_window(world.env, t("2027-01-04T00:00Z"), selector={"labels": {"rack": "r1"}},
                         start="2027-01-05T02:00Z", rrule="FREQ=DAILY")
    window_id = window.id
    sweep_in_a_new_process(app, t("2027-01-05T02:00:03Z"))
    assert in_maintenance() == ["web-1", "web-2"]
    # The server was down from 02:10 to 03:00:04: the first sweep after it closes the window.
    sweep_in_a_new_process(app, t("2027-01-05T03:00:04Z"))
    assert in_maintenance() == []
    run = last_run(db.session.get(MaintenanceWindow, window_id))
    assert run.ended_at == t("2027-01-05T03:00:04Z") and run.ends_at == t("2027-01-05T03:00Z")
    left = db.session.scalars(sa.select(MaintenancePeriod)).all()
    assert {p.exit_kind for p in left} == {ExitKind.AUTO}


def test_an_occurrence_missed_while_the_server_was_down_is_not_opened_late(world, nodes):
    window = make_window(world.env, t("2027-01-04T00:00Z"), nodeIds=[nodes["web-1"].id],
                         start="2027-01-05T02:00Z", rrule="FREQ=DAILY")
    sweep(t("2027-01-05T03:30Z"))  # the whole 02:00-03:00 occurrence passed unswept
    assert in_maintenance() == [] and last_run(window) is None
    db.session.refresh(window)
    assert window.next_start_at == t("2027-01-06T02:00Z")
    sweep(t("2027-01-06T02:20Z"))  # up again in the middle of the next one: it opens, late
    assert in_maintenance() == ["web-1"]
    assert last_run(window).started_at == t("2027-01-06T02:00Z")
    assert last_run(window).opened_at == t("2027-01-06T02:20Z")


def test_disabling_an_open_window_ends_it_at_once_as_the_admin(world, nodes):
    window = make_window(world.env, t("2027-01-04T00:00Z"), selector={"labels": {"rack": "r1"}},
                         start="2027-01-05T02:00Z")
    sweep(t("2027-01-05T02:00Z"))
    transactions.run(lambda: update_window(window, {"enabled": False}, actor=ALICE,
                                           now=t("2027-01-05T02:15Z")))
    assert in_maintenance() == []
    left = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "node.maintenance_left")).all()
    assert {(r.actor_label, r.details["exitKind"]) for r in left} == {("alice@example.com", "MANUAL")}
    db.session.refresh(window)
    assert window.next_start_at is None
    sweep(t("2027-01-05T02:16Z"))
    assert in_maintenance() == []


def test_a_longer_duration_moves_the_end_of_the_open_run(world, nodes):
    window = make_window(world.env, t("2027-01-04T00:00Z"), nodeIds=[nodes["db-1"].id],
                         start="2027-01-05T02:00Z")
    sweep(t("2027-01-05T02:00Z"))
    transactions.run(lambda: update_window(window, {"durationMinutes": 90}, actor=ALICE,
                                           now=t("2027-01-05T02:30Z")))
    sweep(t("2027-01-05T03:00Z"))
    assert in_maintenance() == ["db-1"]
    sweep(t("2027-01-05T03:30Z"))
    assert in_maintenance() == []


def test_deleting_an_open_window_takes_its_nodes_out_first(world, nodes):
    window = make_window(world.env, t("2027-01-04T00:00Z"), nodeIds=[nodes["db-1"].id],
                         start="2027-01-05T02:00Z")
    sweep(t("2027-01-05T02:00Z"))
    transactions.run(lambda: delete_window(window, actor=ALICE, now=t("2027-01-05T02:05Z")))
    assert in_maintenance() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MaintenanceWindow)) == 0
    period = db.session.scalar(sa.select(MaintenancePeriod))
    assert period.window_run_id is None and period.window_name == "patch-night"
    actions = db.session.scalars(sa.select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions[-3:] == ["node.maintenance_left", "maintenance_window.closed",
                            "maintenance_window.deleted"]


def test_a_window_created_during_its_occurrence_opens_on_the_next_sweep(world, nodes):
    make_window(world.env, t("2027-01-05T02:10Z"), nodeIds=[nodes["db-1"].id],
                start="2027-01-05T02:00Z")
    sweep(t("2027-01-05T02:10:05Z"))
    assert in_maintenance() == ["db-1"]


def test_the_registered_sweep_runs_windows(world, nodes):
    from vectorflow.sweeper import run_sweeps

    make_window(world.env, t("2027-01-04T00:00Z"), nodeIds=[nodes["db-1"].id],
                start="2027-01-05T02:00Z")
    heartbeat(t("2027-01-05T02:00Z"))
    run_sweeps(t("2027-01-05T02:00:01Z"))
    db.session.expire_all()
    assert in_maintenance() == ["db-1"]


# ------------------------------------------------------------------ settings

NOW = t("2027-01-01T00:00Z")


@pytest.mark.parametrize("values, field", [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"nodeIds": None, "selector": None}, "nodeIds"),
    ({"selector": {"labels": {"rack": "r1"}}}, "selector"),  # with nodeIds as well
    ({"nodeIds": []}, "nodeIds"),
    ({"nodeIds": ["nope"]}, "nodeIds"),
    ({"start": "next tuesday"}, "start"),
    ({"start": "2026-01-01T00:00Z"}, "start"),  # over before now
    ({"durationMinutes": 0}, "durationMinutes"),
    ({"durationMinutes": 60 * 24 * 32}, "durationMinutes"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"rrule": "FREQ=FORTNIGHTLY"}, "rrule"),
    ({"rrule": "BYDAY=TU"}, "rrule"),
    ({"rrule": "FREQ=MINUTELY"}, "rrule"),
    ({"rrule": "DTSTART:20270101T000000Z\nRRULE:FREQ=DAILY"}, "rrule"),
    ({"rrule": "FREQ=DAILY;UNTIL=20270301T000000"}, "rrule"),
    ({"rrule": "FREQ=DAILY;COUNT=2", "start": "2026-06-01T00:00Z"}, "rrule"),
    ({"rrule": "FREQ=HOURLY", "durationMinutes": 90}, "durationMinutes"),
    ({"reason": "r" * 501}, "reason"),
    ({"colour": "red"}, "colour"),
])
def test_bad_settings_are_refused_naming_the_field_and_nothing_is_created(world, nodes, values,
                                                                        field):
    base = {"name": "w", "nodeIds": [nodes["db-1"].id], "start": "2027-01-05T02:00Z",
            "durationMinutes": 60}
    with pytest.raises(ServiceError) as err:
        create_window(world.env, base | values, actor=ALICE, now=NOW)
    assert err.value.status_code == 400
    assert field in err.value.details, err.value.details
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MaintenanceWindow)) == 0


def test_a_node_of_another_environment_is_not_a_target(world, nodes):
    theirs, _ = make_node(world.other_env, "theirs")
    with pytest.raises(ServiceError) as err:
        create_window(world.env, {"name": "w", "nodeIds": [theirs.id], "start": "2027-01-05T02:00Z",
                                  "durationMinutes": 60}, actor=ALICE, now=NOW)
    assert "not nodes of environment production" in err.value.details["nodeIds"]


def test_names_are_unique_per_environment(world, nodes):
    make_window(world.env, NOW, nodeIds=[nodes["db-1"].id], start="2027-01-05T02:00Z")
    with pytest.raises(Conflict):
        create_window(world.env, {"name": "patch-night", "nodeIds": [nodes["db-1"].id],
                                  "start": "2027-01-06T02:00Z", "durationMinutes": 5},
                      actor=ALICE, now=NOW)


def test_creating_and_changing_a_window_is_audited(world, nodes):
    window = make_window(world.env, NOW, nodeIds=[nodes["db-1"].id], start="2027-01-05T02:00Z",
                         reason="kernel")
    transactions.run(lambda: update_window(window, {"reason": "kernel 6.12"}, actor=ALICE, now=NOW))
    rows = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.entity_type == "maintenance_window").order_by(AuditLog.id)).all()
    assert [r.action for r in rows] == ["maintenance_window.created", "maintenance_window.updated"]
    assert rows[0].actor_label == "alice@example.com" and rows[0].after["reason"] == "kernel"
    assert rows[1].before["reason"] == "kernel" and rows[1].after["reason"] == "kernel 6.12"
    assert json.dumps(rows[0].after)  # stored as plain JSON


def test_the_reason_is_the_nodes_maintenance_reason(world, nodes):
    make_window(world.env, NOW, nodeIds=[nodes["db-1"].id], start="2027-01-05T02:00Z",
                reason="firmware OPS-7")
    sweep(t("2027-01-05T02:00Z"))
    node = db.session.get(VectorNode, nodes["db-1"].id)
    assert node.maintenance_reason == "firmware OPS-7" and node.maintenance_by_label == "system"
    assert node.maintenance_until is None


def test_an_edited_schedule_moves_the_next_start(world, nodes):
    window = make_window(world.env, NOW, nodeIds=[nodes["db-1"].id], start="2027-01-05T02:00Z",
                         rrule="FREQ=DAILY")
    transactions.run(lambda: update_window(
        window, {"start": "2027-01-05T04:00:00+01:00", "timezone": "Europe/Berlin"},
        actor=ALICE, now=NOW + timedelta(days=1)))
    assert window.next_start_at == t("2027-01-05T03:00Z")


def test_an_rrule_prefix_spaces_and_lower_case_are_tolerated_and_stored_plainly(world, nodes):
    window = make_window(world.env, NOW, nodeIds=[nodes["db-1"].id], start="2027-01-05T02:00Z",
                         rrule="RRULE:freq=daily; interval=2")
    assert window.rrule == "FREQ=DAILY;INTERVAL=2"
    starts = [s for s, _ in spec_of(window).occurrences(NOW, 2)]
    assert starts == [t("2027-01-05T02:00Z"), t("2027-01-07T02:00Z")]
