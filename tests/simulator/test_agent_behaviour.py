"""The simulated agent behaves like vf-agent: checksum diffs, supervisor states, heartbeats."""
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from vectorflow.cli.simulate import parse_duration
from vectorflow.simulator import Fleet
from vectorflow.simulator.agent import Process
from vectorflow.simulator.sse import iter_messages


def make_agent(**fleet_options):
    fleet = Fleet("http://127.0.0.1:9", "vf_enroll_x", 1, **fleet_options)
    return fleet.agents[0]


def entry(pid, checksum, version=1):
    return {"pipelineId": pid, "pipelineName": pid, "version": version, "configYaml": "",
            "checksum": checksum}


def test_agents_are_named_like_hosts_with_labels():
    fleet = Fleet("http://x", "t", 12)
    assert [a.hostname for a in fleet.agents][:2] == ["sim-0001", "sim-0002"]
    assert fleet.agents[-1].hostname == "sim-0012"
    assert fleet.agents[0].labels["simulated"] == "true"


def test_unknown_pipelines_start_and_missing_ones_stop():
    agent = make_agent()
    agent.apply([entry("a", "c1"), entry("b", "c2")])
    assert set(agent.processes) == {"a", "b"}
    assert all(p.status(time.monotonic()) == "STARTING" for p in agent.processes.values())
    agent.apply([entry("b", "c2")])
    assert set(agent.processes) == {"b"} and set(agent.known) == {"b"}
    agent.apply([])
    assert agent.processes == {} and agent.known == {}


def test_a_changed_checksum_restarts_and_a_new_version_alone_relabels():
    agent = make_agent()
    agent.apply([entry("a", "c1", 1)])
    first_pid = agent.processes["a"].pid
    agent.apply([entry("a", "c1", 2)])
    assert agent.processes["a"].pid == first_pid and agent.processes["a"].version == 2
    agent.apply([entry("a", "c2", 3)])
    assert agent.processes["a"].pid != first_pid
    assert agent.processes["a"].checksum == "c2" and agent.processes["a"].version == 3
    counters = agent.fleet.stats.counters
    assert counters["pipelines relabelled"] == 1 and counters["pipelines restarted"] == 1


def test_a_process_runs_two_seconds_after_start_and_counters_grow():
    agent = make_agent()
    agent.apply([entry("a", "c1")])
    process = agent.processes["a"]
    process.started -= 1
    assert agent.heartbeat_body()["pipelines"][0]["status"] == "STARTING"
    process.started -= 10
    first = agent.heartbeat_body()["pipelines"][0]
    process.started -= 10
    second = agent.heartbeat_body()["pipelines"][0]
    assert first["status"] == "RUNNING" and first["pid"] == process.pid
    assert 0 < first["eventsIn"] < second["eventsIn"]
    assert second["bytesOut"] > first["bytesOut"] and second["configChecksum"] == "c1"


def test_the_supervisor_runs_a_started_process_without_waiting_for_a_heartbeat():
    agent = make_agent()
    agent.apply([entry("a", "c1"), entry("b", "c2")])
    assert agent.running_count() == 0
    for process in agent.processes.values():
        process.started -= 2.5          # started 2.5 s ago; no heartbeat was built since
    assert agent.running_count() == 2
    assert [p["status"] for p in agent.heartbeat_body()["pipelines"]] == ["RUNNING", "RUNNING"]


def test_host_metrics_are_sent_only_while_a_pipeline_runs():
    agent = make_agent()
    body = agent.heartbeat_body()
    assert body["pipelines"] == [] and "hostMetrics" not in body
    assert body["agentVersion"] and body["vectorVersion"] and body["deploymentMode"] == "STANDALONE"
    agent.apply([entry("a", "c1")])
    assert "hostMetrics" not in agent.heartbeat_body()   # still STARTING
    agent.processes["a"].started -= 5
    assert agent.heartbeat_body()["hostMetrics"]["memoryTotalBytes"] > 0


def test_a_crashed_pipeline_restarts_with_a_doubling_backoff():
    process = Process("a", 1, "c", pid=10, started=0.0, rate=100, bytes_per_event=200)

    class Always:
        def random(self):
            return 0.0

    assert process.status(5.0) == "RUNNING"
    assert process.advance(5.0, 1.0, Always(), lambda: 11) == "crashed"
    assert process.status(5.0) == "CRASHED" and process.restart_at == 6.0
    assert process.report(5.5)["status"] == "CRASHED"
    # The supervisor restarts it when the backoff has passed, heartbeat or not.
    assert process.status(6.5) == "STARTING" and process.status(8.0) == "RUNNING"
    assert process.advance(6.5, 0.0, Always(), lambda: 11) == "restarted"
    assert process.pid == 11 and process.status(6.5) == "STARTING"
    process.advance(8.5, 1.0, Always(), lambda: 12)
    assert process.status(8.5) == "CRASHED" and process.restart_at == 8.5 + 2.0


def test_self_update_reports_the_target_version():
    agent = make_agent()
    agent.self_update("2.0.1")
    assert agent.heartbeat_body()["agentVersion"] == "2.0.1"


def test_config_changed_on_the_push_stream_wakes_the_agent():
    agent = make_agent()
    agent.on_push('{"type": "sample_request", "requestId": "s"}')
    assert not agent.wake.is_set()
    agent.on_push('{"type": "config_changed", "reason": "maintenance_on"}')
    assert agent.wake.is_set()


def test_a_foreign_push_url_is_not_followed():
    agent = make_agent()
    agent.fleet.advertised_push_url = "https://elsewhere.example/api/agent/push"
    assert agent.push_url() == "http://127.0.0.1:9/api/agent/push"
    agent.fleet.advertised_push_url = "http://127.0.0.1:9/api/agent/push?v=2"
    assert agent.push_url().endswith("?v=2")


def test_the_node_token_is_kept_in_the_state_dir(tmp_path):
    agent = make_agent(state_dir=tmp_path)
    agent.node_token = "vf_node_abc"
    agent.save_token()
    path = tmp_path / "sim-0001" / "node-token"
    assert path.read_text() == "vf_node_abc" and path.stat().st_mode & 0o077 == 0
    again = make_agent(state_dir=tmp_path)
    again.load_token()
    assert again.node_token == "vf_node_abc"


def test_push_messages_are_parsed_as_server_sent_events():
    async def lines():
        for line in [": connected", "", "event: config_changed", 'data: {"a": 1}', "",
                     "data: x", "data: y", "", ": keep-alive", ""]:
            yield line

    async def collect():
        return [m async for m in iter_messages(lines())]

    # A thread of its own: browser tests may leave an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, collect()).result(10) == ['{"a": 1}', "x\ny"]


@pytest.mark.parametrize("text,seconds", [("15s", 15), ("500ms", 0.5), ("5m", 300),
                                          ("1m30s", 90), ("2", 2)])
def test_durations_read_like_go_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_a_bad_duration_is_refused():
    with pytest.raises(ValueError):
        parse_duration("soon")
