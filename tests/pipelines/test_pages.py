"""Pipeline and secret pages: who may do what, and what people see."""
import re

import pytest
import sqlalchemy as sa

from vectorflow.models import Pipeline, Role, Secret

from .. import factories
from ..factories import SIMPLE_CONFIG
from ..roles import KINDS, call, check

NEW_FORM = {"name": "shipper", "description": "", "log_level": "", "config_yaml": SIMPLE_CONFIG}


@pytest.fixture
def objs(db, world):
    deployed = factories.make_pipeline(world.env, "deployed-logs", versions=2)
    draft = factories.make_pipeline(world.env, "draft-logs", deployed=False, versions=0)
    secret = factories.make_secret(world.env, "unused-token")
    db.session.commit()
    return {"env": world.env.id, "deployed": deployed.id, "draft": draft.id, "secret": secret.id}


# (method, url template, form data, least role, status when allowed)
ROUTES = [
    ("GET", "/pipelines", None, Role.VIEWER, 200),
    ("GET", "/environments/{env}/pipelines", None, Role.VIEWER, 200),
    ("GET", "/environments/{env}/pipelines/new", None, Role.EDITOR, 200),
    ("POST", "/environments/{env}/pipelines", NEW_FORM, Role.EDITOR, 302),
    ("GET", "/pipelines/{deployed}", None, Role.VIEWER, 200),
    ("POST", "/pipelines/{deployed}", dict(NEW_FORM, name="renamed"), Role.EDITOR, 302),
    ("POST", "/pipelines/{draft}/deploy", {}, Role.EDITOR, 302),
    ("POST", "/pipelines/{deployed}/undeploy", {}, Role.EDITOR, 302),
    ("POST", "/pipelines/{draft}/delete", {}, Role.EDITOR, 302),
    ("GET", "/pipelines/{deployed}/versions", None, Role.VIEWER, 200),
    ("GET", "/environments/{env}/secrets", None, Role.VIEWER, 200),
    ("POST", "/environments/{env}/secrets", {"name": "new-token", "value": "v"}, Role.EDITOR, 302),
    ("POST", "/secrets/{secret}/rotate", {"value": "rotated"}, Role.EDITOR, 302),
    ("POST", "/secrets/{secret}/delete", {}, Role.EDITOR, 302),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method, url, data, min_role, ok", ROUTES,
                         ids=[f"{r[0]} {r[1]}" for r in ROUTES])
def test_pipeline_and_secret_routes_follow_the_role_table(
        client, login_as, objs, kind, method, url, data, min_role, ok):
    response = call(client, login_as, kind, method, url.format(**objs), data)
    check(response, kind, min_role, ok, scoped=url != "/pipelines")


def test_the_overview_lists_only_the_callers_environments(client, login_as, world):
    login_as("outsider")
    page = client.get("/pipelines").get_data(as_text=True)
    assert "payments-prod" in page and "production" not in page


def test_an_editor_creates_a_pipeline_and_lands_on_its_page(client, login_as, world, db):
    login_as("EDITOR")
    response = client.submit(f"/environments/{world.env.id}/pipelines",
                             dict(NEW_FORM, description="Ships app logs", log_level="WARN"),
                             follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Pipeline shipper created" in page and "Never deployed" in page
    pipeline = db.session.scalar(sa.select(Pipeline).where(Pipeline.name == "shipper"))
    assert pipeline.draft_log_level.value == "WARN" and not pipeline.deployed


def test_an_invalid_config_is_shown_next_to_the_form_and_nothing_is_saved(client, login_as, world, db):
    login_as("EDITOR")
    bad = "sources:\n  in:\n    type: demo_logs\nsinks:\n  out:\n    type: console\n    inputs: [parse]\n"
    response = client.submit(f"/environments/{world.env.id}/pipelines", dict(NEW_FORM, config_yaml=bad))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "sinks.out: input &#34;parse&#34; does not exist" in page
    assert "inputs: [parse]" in page  # the text is kept for fixing
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Pipeline)) == 0


def test_a_yaml_syntax_error_shows_its_line(client, login_as, world):
    login_as("EDITOR")
    response = client.submit(f"/environments/{world.env.id}/pipelines",
                             dict(NEW_FORM, config_yaml="sources:\n  in: [\n"))
    assert re.search(r"YAML syntax error at line \d+", response.get_data(as_text=True))


def test_saving_a_draft_shows_that_it_differs_from_the_deployed_version(client, login_as, world, db):
    pipeline = factories.make_pipeline(world.env, "logs", versions=3)
    db.session.commit()
    login_as("EDITOR")
    page = client.get(f"/pipelines/{pipeline.id}").get_data(as_text=True)
    assert 'id="draft-same"' in page and "Deployed v3" in page

    edited = SIMPLE_CONFIG.replace("codec: json", "codec: text")
    response = client.submit(f"/pipelines/{pipeline.id}",
                             dict(NEW_FORM, name="logs", config_yaml=edited), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Draft saved" in page
    assert "Draft differs from deployed v3" in page
    assert "Deployed v3" in page and "Deploy v4" in page
    assert "+      codec: text" in page  # the diff against v3

    listing = client.get(f"/environments/{world.env.id}/pipelines").get_data(as_text=True)
    assert 'data-draft="differs"' in listing


def test_deploying_from_the_page_creates_the_next_version(client, login_as, world, db):
    pipeline = factories.make_pipeline(world.env, "logs", versions=1)
    pipeline.draft_yaml = SIMPLE_CONFIG + "# next\n"
    db.session.commit()
    login_as("EDITOR")
    page = client.submit(f"/pipelines/{pipeline.id}/deploy", {}, follow_redirects=True).get_data(as_text=True)
    assert "Deployed version 2" in page and "Deployed v2" in page
    history = client.get(f"/pipelines/{pipeline.id}/versions").get_data(as_text=True)
    assert 'id="version-2"' in history and 'id="version-1"' in history
    assert "# next" in history


def test_deploying_with_a_missing_secret_shows_which_one(client, login_as, world, db):
    config = SIMPLE_CONFIG.replace("codec: json", "codec: json\n    token: SECRET[splunk-hec]")
    pipeline = factories.make_pipeline(world.env, "logs", config, deployed=False, versions=0)
    db.session.commit()
    login_as("EDITOR")
    response = client.submit(f"/pipelines/{pipeline.id}/deploy", {})
    assert response.status_code == 400
    assert "secret &#39;splunk-hec&#39;" in response.get_data(as_text=True)
    assert not db.session.get(Pipeline, pipeline.id).deployed


def test_undeploy_and_delete_ask_for_confirmation_in_a_dialog(client, login_as, world, db):
    deployed = factories.make_pipeline(world.env, "logs")
    draft = factories.make_pipeline(world.env, "draft", deployed=False, versions=0)
    db.session.commit()
    login_as("EDITOR")
    page = client.get(f"/pipelines/{deployed.id}").get_data(as_text=True)
    assert '<dialog id="undeploy-dialog"' in page and 'data-dialog-open="undeploy-dialog"' in page
    page = client.get(f"/pipelines/{draft.id}").get_data(as_text=True)
    assert '<dialog id="delete-dialog"' in page
    assert "window.confirm" not in page


def test_a_viewer_sees_the_config_but_no_edit_controls(client, login_as, world, db):
    pipeline = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    login_as("VIEWER")
    page = client.get(f"/pipelines/{pipeline.id}").get_data(as_text=True)
    assert "type: demo_logs" in page
    assert "Save draft" not in page and "Undeploy" not in page and "New pipeline" not in page


def test_a_deployed_pipeline_cannot_be_deleted_from_the_page(client, login_as, world, db):
    pipeline = factories.make_pipeline(world.env, "logs")
    db.session.commit()
    login_as("EDITOR")
    response = client.submit(f"/pipelines/{pipeline.id}/delete", {})
    assert response.status_code == 409
    assert "undeploy it before deleting" in response.get_data(as_text=True)


def test_a_secret_value_never_appears_on_any_page_after_saving(client, login_as, world, db):
    value = "sup3r-s3cret-VALUE-4711"
    pipeline = factories.make_pipeline(
        world.env, "logs", SIMPLE_CONFIG.replace("codec: json", "codec: json\n    token: SECRET[hec]"),
        deployed=False, versions=0)
    db.session.commit()
    login_as("EDITOR")
    response = client.submit(f"/environments/{world.env.id}/secrets", {"name": "hec", "value": value},
                             follow_redirects=True)
    assert "Secret hec saved" in response.get_data(as_text=True)
    stored = db.session.scalar(sa.select(Secret).where(Secret.name == "hec"))
    assert value not in stored.encrypted_value
    client.submit(f"/pipelines/{pipeline.id}/deploy", {})
    for url in [f"/environments/{world.env.id}/secrets", f"/pipelines/{pipeline.id}",
                f"/pipelines/{pipeline.id}/versions", f"/environments/{world.env.id}/pipelines",
                "/pipelines", f"/teams/{world.team.id}"]:
        page = client.get(url).get_data(as_text=True)
        assert value not in page, url
    # A refused form does not echo the value either.
    again = client.submit(f"/environments/{world.env.id}/secrets", {"name": "hec", "value": value})
    assert again.status_code == 409 and value not in again.get_data(as_text=True)


def test_the_secrets_page_lists_names_and_the_pipelines_using_them(client, login_as, world, db):
    factories.make_secret(world.env, "hec")
    factories.make_pipeline(world.env, "logs",
                            SIMPLE_CONFIG.replace("codec: json", "codec: json\n    token: SECRET[hec]"))
    db.session.commit()
    login_as("VIEWER")
    page = client.get(f"/environments/{world.env.id}/secrets").get_data(as_text=True)
    row = page[page.index('id="secret-row-'):]
    assert "hec" in row and ">logs</a>" in row
    assert "Rotate" not in page  # viewers only read


def test_deleting_a_used_secret_from_the_page_is_refused_naming_the_pipeline(client, login_as, world, db):
    secret = factories.make_secret(world.env, "hec")
    factories.make_pipeline(world.env, "logs",
                            SIMPLE_CONFIG.replace("codec: json", "codec: json\n    token: SECRET[hec]"))
    db.session.commit()
    login_as("EDITOR")
    response = client.submit(f"/secrets/{secret.id}/delete", {})
    assert response.status_code == 409
    assert "used by deployed pipeline &#39;logs&#39;" in response.get_data(as_text=True)
    assert db.session.get(Secret, secret.id) is not None


def test_the_team_page_links_each_environment_to_its_pipelines_and_secrets(client, login_as, world):
    login_as("VIEWER")
    page = client.get(f"/teams/{world.team.id}").get_data(as_text=True)
    assert f"/environments/{world.env.id}/pipelines" in page
    assert f"/environments/{world.env.id}/secrets" in page


def test_the_pipelines_menu_lists_pipelines_with_where_they_run(client, login_as, world, db):
    from vectorflow.models import NodePipelineStatus, ProcessStatus

    logs = factories.make_pipeline(world.env, "app-logs")
    factories.make_pipeline(world.env, "draft-only", deployed=False, versions=0)
    factories.make_pipeline(world.other_env, "their-logs")
    for i in range(2):
        node, _ = factories.make_node(world.env, f"n{i}")
        if i == 0:
            db.session.add(NodePipelineStatus(node_id=node.id, pipeline_id=logs.id, version=1,
                                              status=ProcessStatus.RUNNING))
    db.session.commit()
    login_as("VIEWER")
    page = client.get("/pipelines").get_data(as_text=True)
    rows = re.findall(r'<tr data-pipeline-id="\w+">\s*<td><a [^>]*>([^<]+)</a>', page)
    assert rows == ["app-logs", "draft-only"]
    assert "1/2 nodes" in page and "their-logs" not in page
