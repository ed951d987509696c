"""Deleting a node while its agent polls and heartbeats: the node goes once, cleanly.

Two DELETEs race the node's own agent ticking without pause: one answers 204 and the other
404 (as a repeat does), one audit row is written, and the agent's calls answer 200 until
the node is gone and 401 after, never a 5xx.
"""
from __future__ import annotations

import pytest

from vectorflow.extensions import db

from .. import factories
from .scenarios import delete_racing_its_agent

pytestmark = pytest.mark.slow


def test_a_delete_racing_its_agent_answers_204_then_404_and_the_agent_gets_401(
        world, admin, enroll_agents):
    factories.make_pipeline(world.env, "logs")
    db.session.commit()
    for agent in enroll_agents(world.env, 4, prefix="doomed"):
        delete_racing_its_agent(admin, agent)
