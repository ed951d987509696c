"""Who is acting: a user, an API token, the system or the CLI."""
from __future__ import annotations

from dataclasses import dataclass

from flask import has_request_context
from flask_login import current_user


@dataclass(frozen=True)
class Actor:
    type: str  # user | token | system | cli | agent
    id: str | None
    label: str

    @classmethod
    def system(cls) -> "Actor":
        return cls("system", None, "system")

    @classmethod
    def cli(cls) -> "Actor":
        return cls("cli", None, "cli")

    @classmethod
    def of(cls, principal) -> "Actor":
        """Return the actor for a logged-in principal (a User or an API token principal)."""
        return cls(principal.kind, principal.id, principal.actor_label)

    @property
    def user_id(self) -> str | None:
        return self.id if self.type == "user" else None


def current_actor() -> Actor:
    """Return the actor of the current request, or the system outside requests."""
    if has_request_context() and current_user and current_user.is_authenticated:
        return Actor.of(current_user)
    return Actor.system()
