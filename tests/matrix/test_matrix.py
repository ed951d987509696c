"""The deployment matrix: who sees it, what each cell says, and how it pages."""
import re

import pytest

from vectorflow.models import NodePipelineStatus, ProcessStatus, Role
from vectorflow.services import secrets
from vectorflow.services.config_render import checksum, render_environment_pipelines

from .. import factories
from ..factories import SIMPLE_CONFIG
from ..roles import KINDS, call, check


def cell(page: str, node_id: str, pipeline_id: str) -> str:
    match = re.search(rf'<td class="cell[^"]*" data-node-id="{node_id}" data-pipeline-id="{pipeline_id}"'
                      r'[^>]*>.*?</td>', page, re.DOTALL)
    assert match, (node_id, pipeline_id)
    return match.group(0)


def column_names(page: str) -> list[str]:
    """The node names heading the matrix columns, left to right."""
    return re.findall(r'<th scope="col" class="matrix-node[^"]*"[^>]*>\s*<a [^>]*>([^<]*)</a>', page)


def report(db, node, pipeline, version, status=ProcessStatus.RUNNING, config_checksum=None):
    db.session.add(NodePipelineStatus(node_id=node.id, pipeline_id=pipeline.id, version=version,
                                      status=status, config_checksum=config_checksum))


@pytest.mark.parametrize("kind", KINDS)
def test_the_matrix_of_an_environment_follows_the_role_table(client, login_as, world, kind):
    check(call(client, login_as, kind, "GET", f"/matrix/{world.env.id}"), kind, Role.VIEWER, 200)


@pytest.mark.parametrize("kind", ["VIEWER", "outsider", "superadmin"])
def test_the_matrix_entry_point_opens_an_environment_the_user_can_see(client, login_as, world, kind):
    login_as(kind)
    response = client.get("/matrix/")
    assert response.status_code == 302
    expected = world.other_env if kind == "outsider" else world.env
    if kind != "superadmin":
        assert response.headers["Location"].endswith(f"/matrix/{expected.id}")


def test_the_switcher_ignores_an_environment_of_another_team(client, login_as, world):
    login_as("VIEWER")
    response = client.get(f"/matrix/?env={world.other_env.id}")
    assert response.headers["Location"].endswith(f"/matrix/{world.env.id}")


def test_a_user_in_no_team_is_told_there_are_no_environments(client, db, login_as):
    lonely = factories.make_user("lonely@example.com")
    db.session.commit()
    login_as(lonely)
    assert "No environments yet" in client.get("/matrix/").get_data(as_text=True)


def test_cells_show_status_and_flag_old_versions_and_config_drift(client, login_as, world, db):
    logs = factories.make_pipeline(world.env, "logs", versions=4)
    metrics = factories.make_pipeline(world.env, "metrics", versions=1)
    factories.make_pipeline(world.env, "draft-only", deployed=False, versions=0)
    current, _ = factories.make_node(world.env, "a-current")
    behind, _ = factories.make_node(world.env, "b-behind")
    drifted, _ = factories.make_node(world.env, "c-drifted")
    idle, _ = factories.make_node(world.env, "d-idle")
    good = checksum(SIMPLE_CONFIG)
    report(db, current, logs, 4, config_checksum=good)
    report(db, current, metrics, 1, status=ProcessStatus.CRASHED)
    report(db, behind, logs, 3)
    report(db, drifted, logs, 4, config_checksum="0" * 64)
    db.session.commit()

    login_as("VIEWER")
    page = client.get(f"/matrix/{world.env.id}").get_data(as_text=True)
    assert "draft-only" not in page  # rows are deployed pipelines only
    assert len(re.findall(r'id="matrix-row-[0-9a-f]+" data-pipeline-id', page)) == 2
    for node in (current, behind, drifted, idle):
        assert f'id="matrix-col-{node.id}" data-node-id="{node.id}"' in page

    ok = cell(page, current.id, logs.id)
    assert 'data-state="ok"' in ok and "dot-running" in ok and "badge" not in ok
    assert 'data-status="CRASHED"' in cell(page, current.id, metrics.id)
    old = cell(page, behind.id, logs.id)
    assert 'data-state="outdated"' in old and ">v3</span>" in old and "Deployed v3, latest v4" in old
    drift = cell(page, drifted.id, logs.id)
    assert 'data-state="drift"' in drift and "config differs" in drift
    absent = cell(page, idle.id, logs.id)
    assert 'data-state="absent"' in absent and ">—</td>" in absent


def test_rotating_a_secret_shows_nodes_on_the_old_value_as_drifted(client, login_as, world, db):
    config = SIMPLE_CONFIG.replace("codec: json", "codec: json\n    token: SECRET[tok]")
    secret = factories.make_secret(world.env, "tok", "before")
    pipeline = factories.make_pipeline(world.env, "logs", config)
    node, _ = factories.make_node(world.env, "n1")
    db.session.commit()
    login_as("VIEWER")
    (entry,) = render_environment_pipelines(world.env)
    report(db, node, pipeline, 1, config_checksum=entry.checksum)
    db.session.commit()
    assert 'data-state="ok"' in cell(client.get(f"/matrix/{world.env.id}").get_data(as_text=True),
                                     node.id, pipeline.id)
    secrets.rotate_secret(secret, "after")
    db.session.commit()
    assert 'data-state="drift"' in cell(client.get(f"/matrix/{world.env.id}").get_data(as_text=True),
                                        node.id, pipeline.id)


def test_columns_are_paginated_fifty_nodes_at_a_time(client, login_as, world, db):
    factories.make_pipeline(world.env, "logs")
    for i in range(120):
        factories.make_node(world.env, f"node-{i:03d}")
    db.session.commit()
    login_as("VIEWER")
    first = client.get(f"/matrix/{world.env.id}").get_data(as_text=True)
    assert column_names(first) == [f"node-{i:03d}" for i in range(50)]
    assert "1–50 of 120 nodes" in first
    last = client.get(f"/matrix/{world.env.id}?page=3").get_data(as_text=True)
    assert column_names(last) == [f"node-{i:03d}" for i in range(100, 120)]


def test_an_environment_without_deployed_pipelines_or_nodes_says_so(client, login_as, world, db):
    login_as("VIEWER")
    assert "No deployed pipelines" in client.get(f"/matrix/{world.env.id}").get_data(as_text=True)
    factories.make_pipeline(world.env, "logs")
    db.session.commit()
    assert "No nodes enrolled" in client.get(f"/matrix/{world.env.id}").get_data(as_text=True)
