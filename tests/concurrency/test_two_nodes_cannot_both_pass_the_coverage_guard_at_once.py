"""The coverage guard holds when two nodes ask to enter maintenance at the same moment.

Two healthy nodes, enrolled and heartbeating through the agent API, run the only deployed
pipeline. Entering maintenance on both at once without force must end as it does one after
the other: one 200, one 409 with the serial path's body, and never both nodes in
maintenance; through the node route, the bulk route, or one of each.
"""
from __future__ import annotations

import pytest

from .scenarios import guard_race, two_nodes_covering_one_pipeline

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("routes, rounds", [(("single", "single"), 10), (("bulk", "bulk"), 5),
                                            (("single", "bulk"), 5)],
                         ids=["single+single", "bulk+bulk", "single+bulk"])
def test_of_two_nodes_entering_at_once_one_gets_in_and_the_other_gets_409(
        world, admin, enroll_agents, routes, rounds):
    first, second, pipeline = two_nodes_covering_one_pipeline(world.env, enroll_agents)
    guard_race(admin, (first, second), pipeline, routes, rounds)
