"""GET /events and /api/v1/events: scoped, resumable event streams."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from vectorflow.extensions import db
from vectorflow.services.events import prune_events

from .. import factories
from .conftest import publish, session_cookie


@pytest.fixture
def viewer_token(world):
    return factories.make_api_token(world.users["VIEWER"])


def node_event(world, node, type="node.status_changed", **payload):
    return publish(type, team_id=world.team.id, environment_id=node.environment_id,
                   node_id=node.id, payload=payload or {"from": "HEALTHY", "to": "UNREACHABLE"})


def test_stream_answers_at_once_with_retry_and_no_buffering_headers(server, viewer_token):
    stream = server.stream("/api/v1/events", token=viewer_token)
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-cache"
    assert stream.headers["x-accel-buffering"] == "no"
    first = stream.next_block()
    assert 2000 <= first.retry <= 6000


def test_a_committed_node_event_arrives_under_its_type_and_its_node_name(server, world,
                                                                         viewer_token):
    node, _ = factories.make_node(world.env)
    db.session.commit()
    stream = server.stream("/api/v1/events", token=viewer_token)
    ev = node_event(world, node)
    typed, scoped = stream.messages(2)
    assert (typed.event, scoped.event) == ("node.status_changed", f"node-{node.id}")
    assert typed.id == scoped.id == str(ev.id)
    assert typed.json == scoped.json
    assert typed.json["type"] == "node.status_changed"
    assert typed.json["nodeId"] == node.id
    assert typed.json["payload"] == {"from": "HEALTHY", "to": "UNREACHABLE"}


def test_a_rolled_back_event_is_never_published(server, world, viewer_token):
    from vectorflow.services.events import emit

    stream = server.stream("/api/v1/events", token=viewer_token)
    emit("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id,
         payload={"version": 1})
    db.session.rollback()
    kept = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id,
                   payload={"version": 2})
    message = stream.next_message()
    assert message.id == str(kept.id)
    assert message.json["payload"] == {"version": 2}


def test_a_member_never_receives_another_teams_events(server, world, viewer_token):
    stream = server.stream("/api/v1/events", token=viewer_token)
    publish("pipeline.deployed", team_id=world.other_team.id, environment_id=world.other_env.id)
    mine = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    message = stream.next_message()
    assert message.id == str(mine.id)  # the other team's earlier event was skipped


def test_a_superadmin_receives_every_teams_events(server, world):
    token = factories.make_api_token(world.users["superadmin"])
    stream = server.stream("/api/v1/events", token=token)
    theirs = publish("pipeline.deployed", team_id=world.other_team.id,
                     environment_id=world.other_env.id)
    mine = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    assert [m.id for m in stream.messages(2)] == [str(theirs.id), str(mine.id)]


def test_the_processes_own_poll_cache_events_never_reach_a_stream(server, world):
    token = factories.make_api_token(world.users["superadmin"])  # sees every team's events
    before = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    factories.make_pipeline(world.env, "drafted")  # a config input: agent.config_changed
    db.session.commit()
    after = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    assert after.id > before.id + 1  # the internal event lies between them
    live = server.stream("/api/v1/events", token=token)
    last = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    replayed = server.stream(f"/api/v1/events?lastEventId={before.id}", token=token)
    assert [m.id for m in replayed.messages(2)] == [str(after.id), str(last.id)]
    assert [m.id for m in live.messages(1)] == [str(last.id)]


def test_a_browser_session_streams_at_events(app, server, world):
    stream = server.stream("/events", cookie=session_cookie(app, world.users["EDITOR"]))
    assert stream.status_code == 200
    ev = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    assert stream.next_message().id == str(ev.id)


def test_an_anonymous_caller_gets_no_stream(server):
    stream = server.stream("/api/v1/events")
    assert stream.status_code == 401


def test_the_node_filter_passes_only_that_nodes_events(server, world, viewer_token):
    one, _ = factories.make_node(world.env, "node-1")
    two, _ = factories.make_node(world.env, "node-2")
    db.session.commit()
    stream = server.stream(f"/api/v1/events?nodeId={two.id}", token=viewer_token)
    node_event(world, one)
    publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    wanted = node_event(world, two)
    assert stream.next_message().id == str(wanted.id)


def test_the_environment_filter_passes_only_that_environments_events(server, world,
                                                                    viewer_token):
    staging = factories.make_environment(world.team, "staging")
    db.session.commit()
    stream = server.stream(f"/api/v1/events?environmentId={staging.id}", token=viewer_token)
    publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    wanted = publish("pipeline.deployed", team_id=world.team.id, environment_id=staging.id)
    assert stream.next_message().id == str(wanted.id)


@pytest.mark.parametrize("query", ["environmentId={other_env}", "nodeId={other_node}"])
def test_filtering_on_another_teams_environment_or_node_is_not_found(server, world,
                                                                      viewer_token, query):
    other_node, _ = factories.make_node(world.other_env, "their-node")
    db.session.commit()
    path = "/api/v1/events?" + query.format(other_env=world.other_env.id, other_node=other_node.id)
    stream = server.stream(path, token=viewer_token)
    assert stream.status_code == 404


def test_a_malformed_last_event_id_is_a_bad_request(server, viewer_token):
    stream = server.stream("/api/v1/events?lastEventId=yesterday", token=viewer_token)
    assert stream.status_code == 400
    stream.response.read()
    assert stream.response.json()["details"]["lastEventId"]


@pytest.mark.parametrize("header", ["\u00b2", "١٢", "9" * 5000, "9" * 20, "-1", "1e3", "0x10"])
@pytest.mark.parametrize("path", ["/api/v1/events", "/events"])
def test_a_last_event_id_header_that_is_no_event_id_is_a_400_naming_it(
        client, world, login_as, viewer_token, header, path):
    headers = {"Accept": "application/json",
               "Last-Event-ID": header.encode().decode("latin-1")}  # the bytes sent as UTF-8
    if path == "/events":
        login_as("VIEWER")
    else:
        headers["Authorization"] = f"Bearer {viewer_token}"
    response = client.get(path, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["details"] == {
        "Last-Event-ID": "must be an event id: a non-negative integer of at most 19 digits"}


def test_the_largest_event_id_is_read_as_one_never_issued(server, viewer_token):
    stream = server.stream("/api/v1/events", token=viewer_token,
                           headers={"Last-Event-ID": str(2**63 - 1)})
    assert stream.status_code == 200
    assert stream.next_message().json == {"type": "resync", "reason": "unknown"}


def test_open_streams_hold_no_database_connection(server, world, viewer_token):
    streams = [server.stream("/api/v1/events", token=viewer_token) for _ in range(3)]
    for stream in streams:
        stream.next_block()
    db.session.close()
    # The feed thread borrows a connection for a moment per fetch; streams never keep one.
    deadline = time.monotonic() + 5
    while db.engine.pool.checkedout() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert db.engine.pool.checkedout() == 0


def test_a_quiet_stream_sends_keep_alive_comments(server, viewer_token):
    stream = server.stream("/api/v1/events", token=viewer_token)
    stream.next_block()  # retry
    stream.next_block()  # id prime
    assert stream.next_block().comments == ["keep-alive"]


@pytest.mark.parametrize("where", ["header", "query"])
def test_a_client_resuming_after_an_id_gets_what_it_missed_from_the_database(
        server, world, viewer_token, where):
    seen = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    missed = [publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id,
                      payload={"version": v}) for v in (2, 3)]
    if where == "header":
        stream = server.stream("/api/v1/events", token=viewer_token,
                               headers={"Last-Event-ID": str(seen.id)})
    else:
        stream = server.stream(f"/api/v1/events?lastEventId={seen.id}", token=viewer_token)
    assert [m.id for m in stream.messages(2)] == [str(e.id) for e in missed]
    assert stream.next_block().id == str(missed[-1].id)  # the stream's position


def test_a_client_resuming_after_an_id_gets_what_it_missed_from_memory(server, world,
                                                                       viewer_token):
    watcher = server.stream("/api/v1/events", token=viewer_token)
    seen = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    missed = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    assert [m.id for m in watcher.messages(2)] == [str(seen.id), str(missed.id)]
    stream = server.stream("/api/v1/events", token=viewer_token,
                           headers={"Last-Event-ID": str(seen.id)})
    assert stream.next_message().id == str(missed.id)


def test_the_header_wins_over_the_query_parameter(server, world, viewer_token):
    first = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    second = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    stream = server.stream(f"/api/v1/events?lastEventId={first.id - 1}", token=viewer_token,
                           headers={"Last-Event-ID": str(first.id)})
    assert stream.next_message().id == str(second.id)


def test_a_client_resuming_after_a_pruned_id_is_told_to_resync_first(server, world,
                                                                    viewer_token):
    first = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id).id
    for _ in range(2):
        publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    prune_events(older_than=timedelta(0))
    db.session.commit()
    stream = server.stream("/api/v1/events", token=viewer_token,
                           headers={"Last-Event-ID": str(first)})
    resync = stream.next_message()
    assert resync.event == "resync"
    assert resync.json == {"type": "resync", "reason": "expired"}
    fresh = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    assert stream.next_message().id == str(fresh.id)


def test_a_client_too_far_behind_is_told_to_resync_instead_of_a_long_replay(app, server,
                                                                          world, viewer_token):
    app.extensions["vectorflow.broker"].replay_limit = 2
    seen = publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    for _ in range(3):
        publish("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id)
    stream = server.stream(f"/api/v1/events?lastEventId={seen.id}", token=viewer_token)
    assert stream.next_message().event == "resync"


def test_a_client_with_an_id_this_server_never_issued_is_told_to_resync(server, viewer_token):
    stream = server.stream("/api/v1/events?lastEventId=999999", token=viewer_token)
    message = stream.next_message()
    assert (message.event, message.json["reason"]) == ("resync", "unknown")


def test_a_stream_that_falls_behind_the_memory_ring_is_told_to_resync(app, broker, server,
                                                                     world, viewer_token):
    from vectorflow.services.events import emit

    app.config["VECTORFLOW_EVENTS_RING"] = 2
    broker.reset_for_tests()
    stream = server.stream("/api/v1/events", token=viewer_token)
    stream.next_block()  # subscribed
    for version in range(5):  # one commit: the feed pushes all five at once
        emit("pipeline.deployed", team_id=world.team.id, environment_id=world.env.id,
             payload={"version": version})
    db.session.commit()
    message = stream.next_message()
    assert (message.event, message.json["reason"]) == ("resync", "behind")
