"""Alert rules with a controllable clock and a real receiver: firing, resolving, maintenance."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.agent.test_heartbeat import status
from tests.factories import make_node, make_pipeline
from vectorflow.extensions import db
from vectorflow.models import Event, VectorNode, utcnow
from vectorflow.services import alerts, notifications
from vectorflow.services.maintenance import set_maintenance

from .conftest import alerts_of, deliver, deliveries, evaluate, sweep


def silent_node(world, clock, name="edge-1"):
    """A node whose last heartbeat is the clock's time (then it falls silent)."""
    node, _token = make_node(world.env, name, last_heartbeat=clock.now, last_seen=clock.now)
    db.session.commit()
    return node


def test_a_node_that_stops_heartbeating_fires_once_notifies_once_and_resolves_once(
        world, webhook, receiver, clock, make_agent):
    agent = make_agent("edge-1", last_heartbeat=clock.now, last_seen=clock.now)

    sweep(clock.advance(minutes=1))  # unreachable, but not for 5 minutes yet
    assert alerts_of(agent.node.id) == []
    sweep(clock.advance(minutes=5))
    sweep(clock.advance(minutes=1))
    [alert] = alerts_of(agent.node.id)
    assert (alert.rule, alert.state, alert.suppressed) == ("node_unreachable", "firing", False)
    assert alert.since == agent.node.last_heartbeat + timedelta(seconds=45)
    deliver()
    deliver()
    assert receiver.kinds() == ["alert.firing"]
    body = receiver.requests[0].json()
    assert body["alert"]["nodeId"] == agent.node.id
    assert body["alert"]["rule"] == "node_unreachable"
    assert body["links"]["node"].endswith(f"/nodes/{agent.node.id}")

    assert agent.heartbeat({"pipelines": []}).status_code == 200  # back: resolved at once
    [alert] = alerts_of(agent.node.id)
    assert alert.state == "resolved" and alert.ended_at is not None
    sweep(utcnow())
    deliver()
    deliver()
    assert receiver.kinds() == ["alert.firing", "alert.resolved"]
    assert [d.status for d in deliveries()] == ["delivered", "delivered"]
    changes = [e.payload["change"] for e in db.session.scalars(
        db.select(Event).where(Event.type == "alert.changed").order_by(Event.id))]
    assert changes == ["fired", "resolved"]


def test_a_node_in_maintenance_fires_suppressed_then_fires_after_the_grace_period(
        world, webhook, receiver, clock):
    node = silent_node(world, clock)
    set_maintenance(node, True, reason="kernel upgrade", force=True)
    db.session.commit()
    now = utcnow()
    sweep(now)
    [alert] = alerts_of(node.id)
    assert (alert.state, alert.suppressed) == ("firing", True)
    deliver()
    assert receiver.kinds() == ["maintenance.entered"]  # the alert itself notifies no one

    receiver.requests.clear()
    set_maintenance(db.session.get(VectorNode, node.id), False)
    db.session.commit()
    left = utcnow()
    evaluate(left + timedelta(seconds=90))  # still down, but within the 2-minute grace
    assert alerts_of(node.id)[0].suppressed is True
    evaluate(left + timedelta(seconds=121))
    [alert] = alerts_of(node.id)
    assert (alert.state, alert.suppressed) == ("firing", False)
    deliver(left + timedelta(seconds=121))
    assert receiver.kinds() == ["maintenance.left", "alert.firing"]


def test_a_suppressed_alert_that_clears_in_maintenance_resolves_and_notifies_nobody(
        world, webhook, receiver, clock, make_agent):
    agent = make_agent("edge-1", last_heartbeat=clock.now, last_seen=clock.now)
    webhook.events = []
    set_maintenance(agent.node, True, force=True)
    db.session.commit()
    sweep(utcnow())
    assert alerts_of(agent.node.id)[0].suppressed is True
    agent.heartbeat({"pipelines": []})
    [alert] = alerts_of(agent.node.id)
    assert alert.state == "resolved"
    deliver()
    assert receiver.requests == []


def test_a_notified_alert_keeps_notifying_its_resolution_when_maintenance_begins(
        world, webhook, receiver, clock, make_agent):
    webhook.events = []
    agent = make_agent("edge-1", last_heartbeat=clock.now, last_seen=clock.now)
    sweep(utcnow())
    set_maintenance(db.session.get(VectorNode, agent.node.id), True, force=True)
    db.session.commit()
    agent.heartbeat({"pipelines": []})
    deliver()
    assert receiver.kinds() == ["alert.firing", "alert.resolved"]


@pytest.mark.parametrize("rule", ["drain_overrun", "maintenance_overrun"])
def test_drain_and_scheduled_end_overruns_notify_even_in_maintenance(
        world, webhook, receiver, rule):
    node, _ = make_node(world.env, "edge-1")
    pipeline = make_pipeline(world.env)
    from tests.maintenance.conftest import report

    report(node, pipeline)  # still running: the drain cannot finish
    db.session.commit()
    set_maintenance(node, True, until=utcnow() + timedelta(minutes=30), force=True)
    db.session.commit()
    later = utcnow() + timedelta(minutes=30 + 16)  # past both thresholds (15 minutes)
    evaluate(later)  # (the sweep that ends maintenance at its end could not, say)
    [alert] = alerts_of(node.id, rule)
    assert (alert.state, alert.suppressed) == ("firing", False)
    deliver(later)
    fired = [r.json()["alert"]["rule"] for r in receiver.requests if r.json()["type"] == "alert.firing"]
    assert rule in fired
    assert "node_unreachable" not in fired  # suppressed: the node is in maintenance


def test_a_channel_taking_only_the_overrun_event_gets_overrun_alerts(world, allow_private,
                                                                       receiver):
    notifications.create_channel(world.team, type="webhook", name="maint", url=receiver.url,
                                 secret="x" * 16, rules=[], events=["overrun"])
    node, _ = make_node(world.env, "edge-1")
    pipeline = make_pipeline(world.env)
    from tests.maintenance.conftest import report

    report(node, pipeline)
    db.session.commit()
    set_maintenance(node, True, force=True)
    db.session.commit()
    later = utcnow() + timedelta(minutes=16)
    evaluate(later)
    deliver(later)
    assert [r.json()["alert"]["rule"] for r in receiver.requests] == ["drain_overrun"]


def test_a_crashed_pipeline_fires_at_once_and_resolves_after_running_steadily(
        world, webhook, receiver, make_agent):
    webhook.rules = ["pipeline_crashed"]
    pipeline = make_pipeline(world.env)
    agent = make_agent("edge-1")
    agent.heartbeat({"pipelines": [status(pipeline.id, "CRASHED")]})
    [alert] = alerts_of(agent.node.id, "pipeline_crashed")
    assert alert.state == "firing" and alert.pipeline_id == pipeline.id
    agent.heartbeat({"pipelines": [status(pipeline.id, "RUNNING", uptimeSeconds=20)]})
    agent.heartbeat({"pipelines": [status(pipeline.id, "CRASHED")]})  # restarting in a loop
    agent.heartbeat({"pipelines": [status(pipeline.id, "RUNNING", uptimeSeconds=5)]})
    assert [a.state for a in alerts_of(agent.node.id, "pipeline_crashed")] == ["firing"]
    agent.heartbeat({"pipelines": [status(pipeline.id, "RUNNING", uptimeSeconds=301)]})
    evaluate(utcnow())  # (a steady heartbeat changes nothing: the sweep sees it)
    assert [a.state for a in alerts_of(agent.node.id, "pipeline_crashed")] == ["resolved"]
    deliver()
    assert receiver.kinds() == ["alert.firing", "alert.resolved"]


def test_a_failed_agent_update_fires_and_is_suppressed_in_maintenance(world, make_agent):
    busy = make_agent("edge-1")
    resting = make_agent("edge-2")
    set_maintenance(resting.node, True, force=True)
    db.session.commit()
    for agent in (busy, resting):
        agent.heartbeat({"pipelines": [], "updateError": "checksum mismatch"})
    assert [(a.subject, a.suppressed) for a in alerts_of(rule="agent_update_failed")] == [
        ("edge-1", False), ("edge-2", True)]
    assert "checksum mismatch" in alerts_of(busy.node.id)[0].message


def test_a_pipeline_on_no_healthy_node_fires_after_its_threshold_and_resolves(world, clock):
    pipeline = make_pipeline(world.env)
    node, _ = make_node(world.env, "edge-1")
    db.session.commit()
    now = utcnow()
    evaluate(now)
    assert alerts_of(rule="pipeline_below_budget") == []  # pending, not shown
    evaluate(now + timedelta(minutes=5, seconds=1))
    [alert] = alerts_of(rule="pipeline_below_budget")
    assert alert.pipeline_id == pipeline.id and alert.since == now
    from tests.maintenance.conftest import report

    report(node, pipeline)
    db.session.commit()
    evaluate(utcnow())
    assert alerts_of(rule="pipeline_below_budget")[0].state == "resolved"


def test_a_disabled_rule_fires_nothing_and_resolves_what_fired(world, clock):
    node = silent_node(world, clock)
    evaluate(utcnow())
    assert [a.state for a in alerts_of(node.id)] == ["firing"]
    alerts.update_rule(world.env, "node_unreachable", enabled=False)
    db.session.commit()
    evaluate(utcnow())
    assert [a.state for a in alerts_of(node.id)] == ["resolved"]
    evaluate(utcnow())
    assert len(alerts_of(node.id)) == 1


def test_a_changed_threshold_is_what_the_rule_waits_for(world, clock):
    node = silent_node(world, clock)
    alerts.update_rule(world.env, "node_unreachable", threshold_minutes=90)
    db.session.commit()
    evaluate(utcnow())
    assert alerts_of(node.id) == []
    evaluate(clock.now + timedelta(minutes=91))
    assert [a.rule for a in alerts_of(node.id)] == ["node_unreachable"]


def test_other_teams_channels_hear_nothing(world, allow_private, receiver, clock):
    notifications.create_channel(world.other_team, type="webhook", name="theirs",
                                 url=receiver.url, secret="y" * 16)
    db.session.commit()
    silent_node(world, clock)
    evaluate(utcnow())
    deliver()
    assert receiver.requests == []


def test_a_channel_gets_only_the_rules_it_lists(world, allow_private, receiver, clock):
    notifications.create_channel(world.team, type="webhook", name="degraded-only",
                                 url=receiver.url, secret="z" * 16, rules=["node_degraded"])
    db.session.commit()
    silent_node(world, clock)
    evaluate(utcnow())
    deliver()
    assert receiver.requests == []


def test_maintenance_changes_go_to_the_channels_that_take_them(world, allow_private, receiver):
    notifications.create_channel(world.team, type="webhook", name="entered-only",
                                 url=receiver.url, secret="w" * 16, rules=[], events=["entered"])
    notifications.create_channel(world.team, type="webhook", name="alerts-only",
                                 url=receiver.url + "/other", secret="w" * 16)
    node, _ = make_node(world.env, "edge-1")
    db.session.commit()
    set_maintenance(node, True, reason="disk swap", force=True)
    db.session.commit()
    set_maintenance(db.session.get(VectorNode, node.id), False)
    db.session.commit()
    deliver()
    [entered] = receiver.requests
    body = entered.json()
    assert body["type"] == "maintenance.entered" and entered.path == "/hook"
    assert body["maintenance"]["reason"] == "disk swap" and body["node"]["name"] == "edge-1"


def test_a_deleted_node_s_alert_resolves(world, clock):
    from vectorflow.services.nodes import delete_node

    node = silent_node(world, clock)
    evaluate(utcnow())
    [alert] = alerts_of(node.id)
    delete_node(db.session.get(VectorNode, node.id))
    db.session.commit()
    evaluate(utcnow())
    db.session.expire_all()
    assert db.session.get(type(alert), alert.id).state == "resolved"


def test_two_evaluations_of_the_same_change_notify_once(world, webhook, receiver, clock):
    webhook.events = []
    node = silent_node(world, clock)
    evaluate(utcnow())
    alerts.evaluate_nodes([node.id], utcnow())  # the heartbeat's hook, as a second evaluator
    db.session.commit()
    evaluate(utcnow())
    deliver()
    assert receiver.kinds() == ["alert.firing"]


def test_the_sweep_leaves_a_node_being_changed_to_the_next_round(app, world, clock):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time; row locks are a PostgreSQL matter")
    import sqlalchemy as sa

    node = silent_node(world, clock)
    with db.engine.connect() as other:  # a heartbeat of this node, mid-transaction
        other.execute(sa.select(VectorNode.id).where(VectorNode.id == node.id)
                      .with_for_update(key_share=True))
        evaluate(utcnow())  # does not wait for it, and decides nothing about it
        assert alerts_of(node.id) == []
        other.rollback()
    evaluate(utcnow())
    assert [a.rule for a in alerts_of(node.id)] == ["node_unreachable"]


def test_a_window_that_skips_nodes_tells_the_channels_that_take_window_skipped(
        world, allow_private, receiver):
    from datetime import datetime, timezone

    from tests.maintenance.conftest import report
    from vectorflow import transactions
    from vectorflow.services.actors import Actor
    from vectorflow.services.windows import create_window, sweep_windows

    notifications.create_channel(world.team, type="webhook", name="windows", url=receiver.url,
                                 secret="w" * 16, rules=[], events=["window_skipped"])
    pipeline = make_pipeline(world.env, "logs")
    a, _ = make_node(world.env, "edge-a", labels={"tier": "edge"})
    b, _ = make_node(world.env, "edge-b", labels={"tier": "edge"})
    report(a, pipeline)
    report(b, pipeline)
    db.session.commit()
    start = datetime(2027, 1, 5, 2, tzinfo=timezone.utc)
    window = transactions.run(lambda: create_window(world.env, {
        "name": "patch-night", "durationMinutes": 60, "selector": {"labels": {"tier": "edge"}},
        "start": start.isoformat()}, actor=Actor.system(), now=start.replace(day=4)))
    db.session.execute(sa.update(VectorNode).values(last_heartbeat=start, last_seen=start))
    db.session.commit()
    transactions.run(lambda: sweep_windows(start))  # the budget of 1 keeps edge-b out
    deliver(start)
    [skipped] = receiver.requests
    body = skipped.json()
    assert body["type"] == "maintenance.window_skipped"
    assert body["window"]["windowName"] == window.name == "patch-night"
    assert [s["nodeId"] for s in body["window"]["skipped"]] == [b.id]
    assert "disruption budget: logs" in body["window"]["skipped"][0]["reason"]
