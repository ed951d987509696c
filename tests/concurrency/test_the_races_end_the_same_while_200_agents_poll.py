"""The races end the same way while a fleet of 200 simulated agents polls the server.

With 200 agents (``vectorflow.simulator``) polling and heartbeating every 5 s, the on/off
bursts, the two-node guard race, bulk calls in opposite orders, leaves racing heartbeats
and a delete racing its agent all keep their answers and their one-row-per-transition
history; the server log shows no 5xx and no traceback, and the simulated agents see no
error but the 401s of the node that was deleted.
"""
from __future__ import annotations

import pytest

from vectorflow.extensions import db
from vectorflow.simulator import Fleet, FleetThread

from .. import factories
from ..simulator.test_live_fleet import eventually
from .races import Agent, database_settled
from .scenarios import (
    bulk_bursts_in_reversed_orders,
    delete_racing_its_agent,
    guard_race,
    heartbeats_racing_leaves,
    toggle_bursts_on_one_node,
    two_nodes_covering_one_pipeline,
)

pytestmark = pytest.mark.slow

AGENTS = 200


@pytest.fixture
def fleet_nodes(world, tmp_path) -> dict[str, tuple[str, str]]:
    """200 nodes of the world's environment, which runs one deployed pipeline; return their
    id and token by name. Each token is saved where the simulator keeps it, as a restarted
    simulator finds them: 200 enrollments would only slow the test down."""
    factories.make_pipeline(world.env, "fleet-logs")
    nodes = {}
    for n in range(1, AGENTS + 1):
        node, token = factories.make_node(world.env, f"sim-{n:04d}")
        (tmp_path / node.name).mkdir()
        (tmp_path / node.name / "node-token").write_text(token)
        nodes[node.name] = (node.id, token)
    db.session.commit()
    return nodes


@pytest.fixture
def fleet(fleet_nodes, base_url, tmp_path):
    """The simulated agents of those nodes, polling every 5 s, each heartbeating once first."""
    fleet = Fleet(base_url, "vf_enroll_unused", AGENTS, poll=5.0, ramp=2.0, push=False,
                  honour_server_interval=False, state_dir=tmp_path)
    thread = FleetThread(fleet)
    thread.start()
    try:
        eventually(lambda: all(agent.last_report for agent in fleet.agents),
                   timeout=90, what=f"{AGENTS} agents to heartbeat")
        yield fleet
    finally:
        thread.stop()
        # Requests the stopped agents had sent are still being answered: let them finish
        # before the tables are emptied, so their answers are this test's, not the next one's.
        eventually(database_settled, what="the server to answer the fleet's last requests")
    assert thread.error is None


# A bound for a hang, not a target: on a machine loaded four times over, the fleet's first
# heartbeats alone take 15 s.
@pytest.mark.timeout(240)
def test_every_race_keeps_its_answers_and_history_under_a_fleet_of_200(
        world, admin, enroll_agents, agent_http, fleet_nodes, fleet):
    guarded = factories.make_environment(world.team, "guarded")
    first, second, pipeline = two_nodes_covering_one_pipeline(guarded, enroll_agents)
    sims = [Agent(agent_http, *fleet_nodes[sim.hostname]) for sim in fleet.agents[:9]]

    toggle_bursts_on_one_node(admin, sims[0].node_id, mixed_rounds=2)
    guard_race(admin, (first, second), pipeline, rounds=5)
    bulk_bursts_in_reversed_orders(admin, [sim.node_id for sim in sims[1:5]])
    heartbeats_racing_leaves(admin, sims[5], sims[6:8], rounds=2)
    delete_racing_its_agent(admin, sims[8])

    errors = {op: dict(kinds) for op, kinds in fleet.stats.errors.items() if kinds}
    assert set(errors) <= {"poll", "heartbeat"} and all(
        set(kinds) == {"401"} for kinds in errors.values()), errors
    failing = [sim.hostname for sim in fleet.agents
               if sim.health["pollErrorsTotal"] or sim.health["heartbeatErrorsTotal"]]
    assert failing in ([], [fleet.agents[8].hostname]), failing
