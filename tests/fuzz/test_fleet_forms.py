"""Property-based hostile input for the fleet table's query string and its bulk forms
(maintenance and prune): whatever comes, no 5xx, and a refused form changes nothing."""
from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from vectorflow.models import VectorNode, utcnow

from .. import factories
from ..factories import db
from .strategies import HOSTILE_NUMBERS, HOSTILE_TEXT

FUZZ = settings(max_examples=int(os.environ.get("VF_FUZZ_EXAMPLES", "12")),
                deadline=timedelta(seconds=10), database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# What a URL or a form can carry (lone surrogates cannot be encoded; NUL is refused up front).
URL_TEXT = st.one_of(HOSTILE_TEXT.filter(lambda t: "\ud800" not in t and "\udfff" not in t),
                     HOSTILE_NUMBERS.map(str), st.text(max_size=30).filter(
                         lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)),
                     st.sampled_from(["role=edge", "a=b,c", "=x", "-name", "MAINTENANCE", "1"]))
FIELDS = ["env", "status", "q", "selector", "drift", "errors", "sort", "page"]


@pytest.fixture
def nodes(world):
    old = utcnow() - timedelta(days=40)
    made = [factories.make_node(world.env, "edge-1", labels={"role": "edge"})[0],
            factories.make_node(world.env, "gone-1", last_seen=old)[0]]
    db.session.commit()
    return [n.id for n in made]


def state() -> list:
    db.session.rollback()
    return db.session.execute(sa.select(VectorNode.id, VectorNode.maintenance_mode)
                              .order_by(VectorNode.id)).all()


@FUZZ
@given(data=st.data())
def test_the_fleet_page_answers_any_query_with_a_page(client, login_as, nodes, data):
    login_as("ADMIN")
    args = data.draw(st.dictionaries(st.sampled_from(FIELDS), URL_TEXT, max_size=4))
    response = client.get("/?" + urlencode(args))
    assert response.status_code in (200, 400), (args, response.status_code)
    assert b'id="fleet-table"' in response.data or response.status_code == 400


@FUZZ
@given(data=st.data())
def test_the_bulk_forms_never_fail_and_refusals_change_nothing(client, login_as, nodes, data):
    login_as("ADMIN")
    before = state()
    form = data.draw(st.dictionaries(
        st.sampled_from(FIELDS + ["scope", "enabled", "reason", "until", "until_local", "days",
                                  "force"]), URL_TEXT, max_size=6))
    form["node"] = data.draw(st.lists(st.one_of(st.sampled_from(nodes), URL_TEXT), max_size=3))
    form["confirm"] = "1"
    url = data.draw(st.sampled_from(["/fleet/maintenance", "/fleet/prune"]))
    response = client.submit(url, form)
    assert response.status_code < 500, (url, form, response.status_code)
    if response.status_code >= 400:
        assert state() == before
