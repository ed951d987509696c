"""CLI: deploy a pipeline from a file."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..services.actors import Actor
from . import commit_or_fail


@click.group(help="Manage pipelines.")
def pipelines():
    pass


@pipelines.command("deploy")
@click.option("--env", "env_ref", required=True, help="Environment name or id.")
@click.option("--team", "team_ref", default=None, help="Team name or id, if environment names repeat.")
@click.option("--name", required=True, help="Pipeline name; created if the environment has none.")
@click.option("--file", "config_file", required=True, type=click.File("r", encoding="utf-8"),
              help="The Vector config (YAML); '-' reads standard input.")
@click.option("--description", default=None, help="Description (kept when omitted).")
@with_appcontext
def pipelines_deploy(env_ref, team_ref, name, config_file, description):
    """Create or update the pipeline's draft from a file, then deploy it; print the version."""
    from ..services.accounts import find_team
    from ..services.pipelines import (
        create_pipeline,
        deploy_pipeline,
        find_pipeline,
        latest_version,
        update_draft,
    )
    from .nodes import find_environment_or_fail

    config_yaml = config_file.read()
    team = None
    if team_ref:
        team = find_team(team_ref)
        if team is None:
            raise click.ClickException(f"no team named {team_ref!r}")
    env = find_environment_or_fail(env_ref, team)
    actor = Actor.cli()

    def save_and_deploy():
        pipeline = find_pipeline(env, name)
        created = pipeline is None
        if created:
            pipeline = create_pipeline(env, name, config_yaml, description or "", actor=actor)
        else:
            update_draft(pipeline, config_yaml=config_yaml, description=description, actor=actor)
        previous = latest_version(pipeline)
        version = deploy_pipeline(pipeline, actor=actor)
        unchanged = previous is not None and previous.version == version.version
        return pipeline, version.version, created, unchanged

    pipeline, number, created, unchanged = commit_or_fail(save_and_deploy)
    if unchanged:
        click.echo(f"{pipeline.name} in {env.name} is already deployed as version {number}; "
                   "nothing changed")
    else:
        what = "created and deployed" if created else "deployed"
        click.echo(f"{what} {pipeline.name} in {env.name}: version {number}")
