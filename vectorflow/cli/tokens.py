"""CLI: API tokens (create, list, revoke)."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..extensions import db
from ..models import ApiToken
from ..services.actors import Actor
from . import commit_or_fail
from .output import echo_json, echo_table, when


@click.group(help="Manage API tokens for scripts (Authorization: Bearer <token>).")
def tokens():
    pass


@tokens.command("create")
@click.argument("name")
@click.option("--user", "email", default=None, help="Personal token acting as this user.")
@click.option("--team", "team_name", default=None, help="Service token of this team (name or id).")
@click.option("--role", default=None, help="The service token's role: VIEWER, EDITOR or ADMIN.")
@with_appcontext
def tokens_create(name, email, team_name, role):
    """Create a token; it is printed on the last line and shown only once."""
    from ..services.accounts import find_team, find_user
    from ..services.tokens import create_personal_token, create_service_token

    if bool(email) == bool(team_name):
        raise click.ClickException("give either --user EMAIL or --team TEAM --role ROLE")
    if email:
        if role:
            raise click.ClickException("--role is for service tokens (--team); a personal token "
                                       "has its user's roles")
        user = find_user(email)
        if user is None:
            raise click.ClickException(f"no user with email {email!r}")
        token, raw = commit_or_fail(create_personal_token, user, name, actor=Actor.cli())
        owner = f"acts as {user.email}"
    else:
        if not role:
            raise click.ClickException("a service token needs --role VIEWER|EDITOR|ADMIN")
        team = find_team(team_name)
        if team is None:
            raise click.ClickException(f"no team named {team_name!r}")
        token, raw = commit_or_fail(create_service_token, team, name, role, actor=Actor.cli())
        owner = f"{token.role.name} of {team.name}"
    click.echo(f"created API token {token.name} ({token.id}, {owner}); shown once:")
    click.echo(raw)


@tokens.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def tokens_list(show_all, as_json):
    """List API tokens (never the tokens themselves)."""
    from ..schemas.api import ApiToken as TokenModel

    query = sa.select(ApiToken).order_by(ApiToken.name, ApiToken.id)
    if not show_all:
        query = query.where(ApiToken.revoked_at.is_(None))
    rows = db.session.scalars(query).all()
    if as_json:
        echo_json([TokenModel.of(t).as_json() for t in rows])
        return
    echo_table(
        ["id", "name", "owner", "role", "token", "created", "last used", "revoked"],
        [[t.id, t.name, t.user.email if t.user_id else t.team.name,
          t.role.name if t.role else "(user's)", t.token_hint, when(t.created_at),
          when(t.last_used_at), when(t.revoked_at)] for t in rows],
        empty="no API tokens",
    )


@tokens.command("revoke")
@click.argument("token_id")
@with_appcontext
def tokens_revoke(token_id):
    """Revoke a token: calls with it get 401 from now on."""
    from ..services.tokens import find_token, revoke_token

    token = find_token(token_id)
    if token is None:
        raise click.ClickException(f"no API token with id {token_id!r} (see `vectorflow tokens list`)")
    commit_or_fail(revoke_token, token, actor=Actor.cli())
    click.echo(f"revoked API token {token.name} ({token.id})")
