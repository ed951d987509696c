"""The automation commands: tokens, nodes, audit."""
from __future__ import annotations

import json
import re

import sqlalchemy as sa

from tests import factories
from vectorflow.extensions import db
from vectorflow.models import (
    ApiToken,
    AuditLog,
    NodePipelineStatus,
    Pipeline,
    ProcessStatus,
    Role,
)
from vectorflow.services.actors import Actor
from vectorflow.services.audit import record


def test_tokens_create_prints_a_working_personal_token_last(runner, client, world):
    result = runner.invoke(args=["tokens", "create", "laptop", "--user", "editor@example.com"])
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"vf_api_[0-9a-f]{64}", raw)
    response = client.get("/api/v1/teams", headers={"Authorization": f"Bearer {raw}"})
    assert [t["name"] for t in response.get_json()["items"]] == ["Platform"]


def test_tokens_create_makes_a_service_token_with_a_role(runner, world):
    result = runner.invoke(args=["tokens", "create", "ci", "--team", "Platform", "--role", "admin"])
    assert result.exit_code == 0, result.output
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == "ci"))
    assert (token.team_id, token.role) == (world.team.id, Role.ADMIN)
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "token.created"))
    assert row.actor_type == "cli"


def test_tokens_create_refuses_unclear_owners_in_one_line(runner, world):
    for args, message in [
        ([], "either --user EMAIL or --team TEAM"),
        (["--user", "editor@example.com", "--team", "Platform"], "either --user EMAIL or --team"),
        (["--team", "Platform"], "needs --role"),
        (["--team", "Platform", "--role", "king"], "unknown role 'king'"),
        (["--team", "Nope", "--role", "ADMIN"], "no team named 'Nope'"),
        (["--user", "nobody@example.com"], "no user with email"),
        (["--user", "editor@example.com", "--role", "ADMIN"], "--role is for service tokens"),
    ]:
        result = runner.invoke(args=["tokens", "create", "x", *args])
        assert result.exit_code == 1, args
        assert len(result.output.strip().splitlines()) == 1 and message in result.output, result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_tokens_list_and_revoke(runner, client, world):
    raw = runner.invoke(args=["tokens", "create", "ci", "--team", "Platform", "--role", "VIEWER"]) \
        .output.strip().splitlines()[-1]
    listing = runner.invoke(args=["tokens", "list"]).output
    assert "ci" in listing and "Platform" in listing and "VIEWER" in listing and raw not in listing
    token_id = json.loads(runner.invoke(args=["tokens", "list", "--json"]).output)[0]["id"]
    result = runner.invoke(args=["tokens", "revoke", token_id])
    assert result.exit_code == 0 and "revoked" in result.output
    assert client.get("/api/v1/teams", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert "no API tokens" in runner.invoke(args=["tokens", "list"]).output
    assert token_id in runner.invoke(args=["tokens", "list", "--all"]).output
    missing = runner.invoke(args=["tokens", "revoke", "nope"])
    assert missing.exit_code == 1 and "no API token with id 'nope'" in missing.output


def fleet(world):
    web, _ = factories.make_node(world.env, "web-1", labels={"role": "web"}, agent_version="2.0.0")
    pay, _ = factories.make_node(world.other_env, "pay-1")
    pipeline = Pipeline(environment=world.env, name="logs", draft_yaml="")
    db.session.add(pipeline)
    db.session.flush()
    db.session.add(NodePipelineStatus(node=web, pipeline=pipeline, version=2,
                                      status=ProcessStatus.RUNNING, events_in=5))
    db.session.commit()
    return web, pay


def test_nodes_list_prints_a_table_or_json(runner, world):
    fleet(world)
    table = runner.invoke(args=["nodes", "list"]).output.splitlines()
    assert table[0].split()[:4] == ["ID", "NAME", "ENVIRONMENT", "STATUS"]
    assert any("web-1" in line and "1/1 running" in line and "role=web" in line for line in table)
    only_prod = runner.invoke(args=["nodes", "list", "--env", "production", "--json"])
    listed = json.loads(only_prod.output)  # the representation of GET /api/v1/nodes
    assert set(listed) == {"items", "nextCursor"} and listed["nextCursor"] is None
    assert [n["name"] for n in listed["items"]] == ["web-1"]
    unknown = runner.invoke(args=["nodes", "list", "--env", "nowhere"])
    assert unknown.exit_code == 1 and "no environment" in unknown.output


def test_nodes_show_finds_a_node_by_name_or_id(runner, world):
    web, _ = fleet(world)
    by_name = runner.invoke(args=["nodes", "show", "web-1"])
    assert by_name.exit_code == 0, by_name.output
    assert web.id in by_name.output and "logs" in by_name.output and "RUNNING" in by_name.output
    by_id = json.loads(runner.invoke(args=["nodes", "show", web.id, "--json"]).output)
    assert by_id["name"] == "web-1" and by_id["pipelineStatuses"][0]["eventsIn"] == 5
    missing = runner.invoke(args=["nodes", "show", "ghost"])
    assert missing.exit_code == 1 and missing.output.strip() == "Error: no node with id or name 'ghost'"


def test_nodes_show_asks_for_an_id_when_names_repeat(runner, world):
    factories.make_node(world.env, "web-1")
    factories.make_node(world.other_env, "web-1")
    db.session.commit()
    result = runner.invoke(args=["nodes", "show", "web-1"])
    assert result.exit_code == 1 and "'web-1' is ambiguous; use its id" in result.output


def test_audit_lists_rows_newest_first_filtered_by_node(runner, world):
    web, pay = fleet(world)
    record("node.maintenance_changed", entity_type="node", entity_id=web.id, team_id=world.team.id,
           before={"maintenanceMode": False}, after={"maintenanceMode": True},
           actor=Actor("token", "t1", "ci-admin"))
    record("node.updated", entity_type="node", entity_id=pay.id, team_id=world.other_team.id,
           actor=Actor.cli())
    db.session.commit()
    table = runner.invoke(args=["audit", "--node", "web-1"]).output
    assert "node.maintenance_changed" in table and "ci-admin (token)" in table
    assert "maintenanceMode: False -> True" in table and "node.updated" not in table
    rows = json.loads(runner.invoke(args=["audit", "--json"]).output)
    assert [r["action"] for r in rows] == ["node.updated", "node.maintenance_changed"]
    deleted = runner.invoke(args=["audit", "--node", "gone0000000000000000"])
    assert deleted.exit_code == 0 and "no audit rows" in deleted.output


def test_pipelines_deploy_creates_then_updates_and_prints_the_version(runner, world, tmp_path):
    config = tmp_path / "logs.yaml"
    config.write_text(factories.SIMPLE_CONFIG)
    args = ["pipelines", "deploy", "--env", "production", "--name", "logs", "--file", str(config)]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "created and deployed logs in production: version 1"
    same = runner.invoke(args=args)
    assert "already deployed as version 1; nothing changed" in same.output
    config.write_text(factories.SIMPLE_CONFIG + "# tuned\n")
    second = runner.invoke(args=args)
    assert second.output.strip() == "deployed logs in production: version 2"
    pipeline = db.session.scalar(sa.select(Pipeline).where(Pipeline.name == "logs"))
    assert pipeline.deployed and pipeline.draft_yaml.endswith("# tuned\n")
    authors = db.session.scalars(sa.select(AuditLog.actor_type)
                                 .where(AuditLog.action == "pipeline.deployed")).all()
    assert authors == ["cli", "cli"]


def test_pipelines_deploy_refuses_a_bad_config_in_one_line_and_changes_nothing(runner, world, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("sources: [")
    result = runner.invoke(args=["pipelines", "deploy", "--env", "production", "--name", "logs",
                                 "--file", str(config)])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "invalid Vector config" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Pipeline)) == 0
    missing = runner.invoke(args=["pipelines", "deploy", "--env", "nowhere", "--name", "logs",
                                  "--file", str(config)])
    assert missing.exit_code == 1 and "no environment" in missing.output
