"""The races, each a function, so the quiet tests and the 200-agent test run the same ones.

Each scenario fires truly parallel requests and then asserts what a user would notice:
no 5xx, the answers the serial path gives, one audit row and one event per real
transition, at most one open maintenance period per node, and the coverage guard.
"""
from __future__ import annotations

import random

from vectorflow.extensions import db
from vectorflow.models import VectorNode

from .. import factories
from .races import (
    Agent,
    Api,
    Meanwhile,
    assert_one_change_per_transition,
    audit_count,
    fire,
    in_maintenance,
    statuses,
)


def shuffled(calls: list, seed: int) -> list:
    calls = list(calls)
    random.Random(seed).shuffle(calls)
    return calls


# ---------------------------------------------------------------- 1. bursts on one node

def toggle_bursts_on_one_node(api: Api, node_id: str, burst: int = 20, mixed_rounds: int = 4):
    """Many identical toggles make one change; mixed on/off bursts stay a clean alternation."""
    entering = fire([api.enter(node_id, force=True)] * burst)
    assert statuses(entering) == {200: burst}
    assert_one_change_per_transition(node_id, entered=1, left=0)

    leaving = fire([api.leave(node_id)] * burst)
    assert statuses(leaving) == {200: burst}
    assert_one_change_per_transition(node_id, entered=1, left=1)

    half = burst // 2
    for seed in range(mixed_rounds):
        mixed = fire(shuffled([api.enter(node_id, force=True)] * half
                              + [api.leave(node_id)] * half, seed))
        assert statuses(mixed) == {200: 2 * half}
        assert_one_change_per_transition(node_id)


# ---------------------------------------------------------------- 2. the coverage guard

def two_nodes_covering_one_pipeline(env, enroll_agents) -> tuple[Agent, Agent, str]:
    """Deploy the environment's only pipeline; enroll two agents that run it."""
    pipeline = factories.make_pipeline(env, "only-pipeline")
    db.session.commit()
    first, second = enroll_agents(env, 2, prefix=f"cover-{env.name}")
    assert all(len(agent.running) == 1 for agent in (first, second))
    return first, second, pipeline.name


def enter_by(route: str, api: Api, node_id: str):
    """Return the call that enters maintenance without force through one node's route or bulk."""
    if route == "bulk":
        return lambda: api.bulk_maintenance([node_id], True)
    return api.enter(node_id)


def guard_race(api: Api, agents: tuple[Agent, Agent], pipeline_name: str,
               routes: tuple[str, str] = ("single", "single"), rounds: int = 10):
    """Both nodes enter at once, ``rounds`` times: one wins, the other gets the serial 409."""
    calls = [enter_by(route, api, agent.node_id) for route, agent in zip(routes, agents)]
    node_ids = [agent.node_id for agent in agents]
    outcomes, both_in, losers = [], 0, []
    for _ in range(rounds):
        for agent in agents:  # both healthy and reporting the pipeline RUNNING
            assert [r.status_code for r in agent.cycle()] == [200, 200]
        responses = fire(calls)
        outcomes.append(sorted(r.status_code for r in responses))
        entered = in_maintenance(node_ids)
        both_in += len(entered) == 2
        for call, response in zip(calls, responses):
            if response.status_code == 409:
                losers.append((response.json(), call()))  # the same request, sent alone
        for node_id in entered:
            assert api.maintenance(node_id, False).status_code == 200
    assert outcomes == [[200, 409]] * rounds, f"{both_in} rounds put both nodes in maintenance"
    for raced, serial in losers:
        assert serial.status_code == 409
        assert raced == serial.json()
        assert raced["details"]["pipelines"] == [pipeline_name]
    for node_id in node_ids:
        assert_one_change_per_transition(node_id)


# ---------------------------------------------------------------- 3. bulk calls

def bulk_bursts_in_reversed_orders(api: Api, node_ids: list[str], calls: int = 10):
    """Bulk calls naming the same nodes in opposite orders: each node changes once per burst."""
    orders = [sorted(node_ids), sorted(node_ids, reverse=True)]

    def burst(enabled: list[bool]) -> list:
        responses = fire([lambda i=i: api.bulk_maintenance(orders[i % 2], enabled[i], force=True)
                          for i in range(calls)])
        assert statuses(responses) == {200: calls}
        return [node["id"] for r in responses for node in r.json()["nodes"]]

    for expected, enabled in (((1, 0), True), ((1, 1), False)):
        assert sorted(burst([enabled] * calls)) == sorted(node_ids)  # each changed by one call
        for node_id in node_ids:
            assert_one_change_per_transition(node_id, entered=expected[0], left=expected[1])
    burst([i // 2 % 2 == 0 for i in range(calls)])  # every order with every direction
    for node_id in node_ids:
        assert_one_change_per_transition(node_id)


# ---------------------------------------------------------------- 4. heartbeats racing a leave

def heartbeats_racing_leaves(api: Api, agent: Agent, others: list[Agent], rounds: int = 3,
                             burst: int = 6):
    """The node's agent (and others) tick without pause while leaves and entries race."""
    node_id = agent.node_id
    assert api.maintenance(node_id, True, force=True).status_code == 200
    answers = []
    with Meanwhile(agent.cycle, agent.cycle, *(other.cycle for other in others)) as agents:
        for _ in range(rounds):
            answers += fire([api.leave(node_id)] * burst)
            answers += fire([api.enter(node_id, force=True)] * burst)
        answers += fire([api.leave(node_id)] * burst)
    assert statuses(answers) == {200: len(answers)}
    assert statuses(agents.responses) == {200: len(agents.responses)}
    assert_one_change_per_transition(node_id, entered=rounds + 1, left=rounds + 1)


# ---------------------------------------------------------------- 5. duplicate names

def duplicate_creates(api: Api, path: str, body: dict, action: str, calls: int = 10):
    """Creates of one name at once: one 201, the rest the serial path's 409, one audit row."""
    responses = fire([lambda: api.post(path, body)] * calls)
    assert statuses(responses) == {201: 1, 409: calls - 1}
    serial = api.post(path, body)
    assert serial.status_code == 409 and "error" in serial.json()
    assert all(r.json() == serial.json() for r in responses if r.status_code == 409)
    assert audit_count(action, name=body["name"]) == 1


# ---------------------------------------------------------------- 6. a delete racing its agent

def delete_racing_its_agent(api: Api, agent: Agent):
    """Two DELETEs while the agent ticks: 204 then 404; the agent gets 200 until 401."""
    with Meanwhile(agent.cycle, agent.cycle) as talk:
        deletes = fire([lambda: api.delete_node(agent.node_id)] * 2)
    assert sorted(r.status_code for r in deletes) == [204, 404]
    assert set(statuses(talk.responses)) <= {200, 401}
    assert [r.status_code for r in agent.cycle()] == [401, 401]
    assert audit_count("node.deleted", entity_id=agent.node_id) == 1
    assert db.session.get(VectorNode, agent.node_id) is None
