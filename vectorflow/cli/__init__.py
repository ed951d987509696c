"""The ``vectorflow`` command line: a Flask CLI group over ``create_app``.

Each domain has its own module with click groups; ``register`` attaches them.
Errors are one line on stderr and a non-zero exit (click.ClickException).
"""
from __future__ import annotations

import click
from flask.cli import FlaskGroup

from .. import transactions
from ..services import ServiceError


def main() -> None:
    """Entry point of the ``vectorflow`` console script."""
    from .. import create_app

    cli = FlaskGroup(create_app=lambda: create_app(), help="VectorFlow control plane.")
    cli.main(prog_name="vectorflow")


def commit_or_fail(fn, *args, **kwargs):
    """Run a service call in a transaction (retried as requests are); turn a ServiceError
    into a one-line CLI error."""
    try:
        return transactions.run(lambda: fn(*args, **kwargs))
    except ServiceError as err:
        raise click.ClickException(err.message) from None


def register(app) -> None:
    """Attach the command groups to the app."""
    from . import accounts, nodes

    for command in (accounts.users, accounts.teams, accounts.envs, accounts.init_command,
                    nodes.nodes):
        app.cli.add_command(command)

    from . import audit, pipelines, tokens

    for command in (tokens.tokens, pipelines.pipelines, audit.audit_command):
        app.cli.add_command(command)

    from .windows import windows

    app.cli.add_command(windows)

    from .demo import demo_command
    from .simulate import simulate_command

    app.cli.add_command(simulate_command)
    app.cli.add_command(demo_command)
