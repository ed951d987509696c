"""Role x endpoint tables: who gets through, who is refused, and how."""
from __future__ import annotations

from vectorflow.models import Role

KINDS = ["anonymous", "VIEWER", "EDITOR", "ADMIN", "outsider", "superadmin"]


def expected_status(kind: str, min_role: Role, ok: int, scoped: bool = True) -> int:
    """Return the status a caller of ``kind`` gets from a route of the first team.

    ``scoped=False`` is for listings that show each caller their own teams' objects.
    """
    if kind == "anonymous":
        return 302  # redirected to the login page
    if kind == "outsider":
        return 404 if scoped else ok  # another team's objects are not revealed
    if kind == "superadmin":
        return ok
    return ok if Role[kind] >= min_role else 403


def call(client, login_as, kind: str, method: str, url: str, data: dict | None = None):
    """Send the request as a caller of ``kind`` (forms carry a valid CSRF token)."""
    if kind != "anonymous":
        login_as(kind)
    if method == "GET":
        return client.get(url)
    return client.submit(url, data or {})


def check(response, kind: str, min_role: Role, ok: int, scoped: bool = True) -> None:
    """Assert the response matches the guard table, login redirect included."""
    want = expected_status(kind, min_role, ok, scoped)
    assert response.status_code == want, (kind, response.status_code, response.get_data(as_text=True)[:500])
    if kind == "anonymous":
        assert "/login" in response.headers["Location"]
