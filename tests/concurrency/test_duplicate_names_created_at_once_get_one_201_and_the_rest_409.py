"""Creating the same name ten times at once answers as creating it ten times in a row.

For every named resource of the REST API (teams, environments, pipelines, secrets): one
201, nine 409s with the same ``{"error": ...}`` body a lone duplicate gets, one audit row,
and no 500 from the database's unique constraint.
"""
from __future__ import annotations

import pytest

from .. import factories
from .scenarios import duplicate_creates

pytestmark = pytest.mark.slow

RESOURCES = {
    "team": ("root", "/teams", lambda world: {}),
    "environment": ("admin", "/environments", lambda world: {"teamId": world.team.id}),
    "pipeline": ("admin", "/pipelines", lambda world: {"environmentId": world.env.id,
                                                       "configYaml": factories.SIMPLE_CONFIG}),
    "secret": ("admin", "/secrets", lambda world: {"environmentId": world.env.id,
                                                   "value": "hunter2-but-longer"}),
}


@pytest.mark.parametrize("kind", RESOURCES)
def test_ten_simultaneous_creates_of_one_name_make_one_and_answer_409_to_the_rest(
        world, apis, kind):
    caller, path, extra = RESOURCES[kind]
    duplicate_creates(apis[caller], path, {"name": "dup", **extra(world)}, f"{kind}.created")
