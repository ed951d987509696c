"""CLI: users, teams, environments, and first-run setup."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from ..models import Role
from ..services import ServiceError
from ..services.actors import Actor
from . import commit_or_fail


@click.group(help="Manage user accounts.")
def users():
    pass


@users.command("create")
@click.argument("email")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--name", default="", help="Display name.")
@click.option("--superadmin", is_flag=True, help="Acts as ADMIN in every team.")
@with_appcontext
def users_create(email, password, name, superadmin):
    """Create a user."""
    from ..services.accounts import create_user

    user = commit_or_fail(create_user, email, password, name=name, superadmin=superadmin,
                          actor=Actor.cli())
    click.echo(f"created user {user.email} ({user.id})")


def _user_or_fail(email: str):
    from ..services.accounts import find_user

    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user with email {email!r}")
    return user


@users.command("set-password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 8 characters (asked for when not given).")
@with_appcontext
def users_set_password(email, password):
    """Set a user's password; every sign-in of the user ends."""
    from ..services.accounts import change_password

    user = _user_or_fail(email)
    commit_or_fail(change_password, user, password, actor=Actor.cli())
    click.echo(f"password of {user.email} changed; every sign-in of the user ended")


@users.command("signout-everywhere")
@click.argument("email")
@with_appcontext
def users_signout_everywhere(email):
    """End every sign-in (session and remember-me cookie) of a user."""
    from ..services.sessions import sign_out_everywhere

    user = _user_or_fail(email)
    ended = commit_or_fail(sign_out_everywhere, user, actor=Actor.cli())
    click.echo(f"{user.email} signed out everywhere ({ended} sign-in{'s' if ended != 1 else ''} ended)")


@click.group(help="Manage teams and their members.")
def teams():
    pass


@teams.command("create")
@click.argument("name")
@with_appcontext
def teams_create(name):
    """Create a team."""
    from ..services.accounts import create_team

    team = commit_or_fail(create_team, name, actor=Actor.cli())
    click.echo(f"created team {team.name} ({team.id})")


@teams.command("add-member")
@click.argument("team")
@click.argument("email")
@click.option("--role", default="VIEWER", show_default=True, help="VIEWER, EDITOR or ADMIN.")
@with_appcontext
def teams_add_member(team, email, role):
    """Add a user to a team, or change their role."""
    from ..services.accounts import find_team, set_membership

    try:
        parsed = Role.parse(role)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    team_obj = find_team(team)
    if team_obj is None:
        raise click.ClickException(f"no team named {team!r}")
    user = _user_or_fail(email)
    commit_or_fail(set_membership, team_obj, user, parsed, actor=Actor.cli())
    click.echo(f"{user.email} is {parsed.name} of {team_obj.name}")


@click.group(help="Manage environments.")
def envs():
    pass


@envs.command("create")
@click.argument("name")
@click.option("--team", "team_name", required=True, help="Team name or id.")
@click.option("--secret-backend", default="BUILTIN", show_default=True)
@with_appcontext
def envs_create(name, team_name, secret_backend):
    """Create an environment in a team."""
    from ..services.accounts import find_team
    from ..services.environments import create_environment

    team = find_team(team_name)
    if team is None:
        raise click.ClickException(f"no team named {team_name!r}")
    env = commit_or_fail(create_environment, team, name, secret_backend=secret_backend.upper(),
                         actor=Actor.cli())
    click.echo(f"created environment {env.name} ({env.id})")


@envs.command("enrollment-token")
@click.argument("env")
@click.option("--team", "team_name", default=None, help="Team name or id, if names repeat.")
@with_appcontext
def envs_enrollment_token(env, team_name):
    """Issue a new enrollment token (printed on the last line; shown only once)."""
    from ..services.accounts import find_team
    from ..services.environments import find_environment, issue_enrollment_token

    team = None
    if team_name:
        team = find_team(team_name)
        if team is None:
            raise click.ClickException(f"no team named {team_name!r}")
    try:
        environment = find_environment(env, team)
    except ServiceError as err:
        raise click.ClickException(err.message) from None
    if environment is None:
        raise click.ClickException(f"no environment named {env!r}")
    token = commit_or_fail(issue_enrollment_token, environment, actor=Actor.cli())
    click.echo(f"enrollment token for {environment.name} (shown once; hint {environment.enrollment_token_hint}):")
    click.echo(token)


@click.command("init")
@click.option("--admin-email", default="admin@example.com", show_default=True)
@with_appcontext
def init_command(admin_email):
    """Migrate the database and create a first superadmin if there is no user yet."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from ..models import User
    from ..services.accounts import create_user

    upgrade()
    password_file = Path(current_app.instance_path) / "admin-password"
    if db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0:
        password = secrets.token_urlsafe(12)
        commit_or_fail(create_user, admin_email, password, name="Admin", superadmin=True,
                       actor=Actor.cli())
        password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{admin_email}\n{password}\n")
        click.echo(f"created first admin {admin_email} with password {password}")
    elif password_file.exists():
        email, password = password_file.read_text().split("\n")[:2]
        click.echo(f"admin login: {email} / {password} (from {password_file})")
    else:
        click.echo("users exist already; log in with your account")
