"""Sign-ins end when they should: logout, a password change and "sign out everywhere" end every
copy of the session and remember-me cookies; a sign-in never outlives its lifetime."""
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from vectorflow.models import AuditLog, UserSession, utcnow

from .conftest import sign_in

SESSION = "session"
REMEMBER = "remember_token"


def cookie(app, client, name):
    found = client.get_cookie(name, domain=app.config["SERVER_NAME"])
    return found.value if found else None


def browser_with(app, **cookies):
    """A second browser holding copies of the given cookies."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value, domain=app.config["SERVER_NAME"])
    return other


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_a_session_cookie_copied_before_logout_does_not_work_after_it(app, client, world):
    sign_in(client, "viewer@example.com")
    copy = browser_with(app, session=cookie(app, client, SESSION))
    assert signed_in(copy)
    assert client.submit("/logout").status_code == 302
    assert not signed_in(client)
    assert not signed_in(copy)


def test_logout_ends_only_that_sign_in(app, client, world):
    laptop, phone = client, app.test_client()
    sign_in(laptop, "viewer@example.com")
    sign_in(phone, "viewer@example.com")
    laptop.submit("/logout")
    assert signed_in(phone)


def test_the_remember_me_cookie_differs_at_every_sign_in_and_logout_revokes_it(app, client, world):
    other = app.test_client()
    sign_in(client, "viewer@example.com", remember="y")
    sign_in(other, "viewer@example.com", remember="y")
    first, second = cookie(app, client, REMEMBER), cookie(app, other, REMEMBER)
    assert first and second and first != second
    # The remember-me cookie alone (the browser was closed) signs the user in...
    assert signed_in(browser_with(app, remember_token=first))
    # ...until that sign-in ends: a copy taken before logout is worth nothing after it.
    client.submit("/logout")
    assert not signed_in(browser_with(app, remember_token=first))
    assert signed_in(browser_with(app, remember_token=second))


def test_a_sign_in_without_remember_me_sets_no_remember_cookie(app, client, world):
    sign_in(client, "viewer@example.com")
    assert cookie(app, client, REMEMBER) is None


def test_the_remember_me_cookie_lasts_30_days(client, world):
    response = sign_in(client, "viewer@example.com", remember="y")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(REMEMBER + "="))
    expires = datetime.strptime(header.split("Expires=")[1].split(";")[0], "%a, %d %b %Y %H:%M:%S GMT")
    lifetime = expires.replace(tzinfo=UTC) - utcnow()
    assert timedelta(days=29, hours=23) < lifetime <= timedelta(days=30)


def test_a_sign_in_past_its_lifetime_signs_nobody_in(app, client, db, world):
    sign_in(client, "viewer@example.com", remember="y")
    remembered = browser_with(app, remember_token=cookie(app, client, REMEMBER))
    row = db.session.scalar(sa.select(UserSession))
    assert row.expires_at - row.created_at == timedelta(days=30)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert not signed_in(client)
    assert not signed_in(remembered)


def test_the_server_keeps_only_digests_of_sign_in_tokens(app, client, db, world):
    sign_in(client, "viewer@example.com", remember="y")
    row = db.session.scalar(sa.select(UserSession))
    assert len(row.token_digest) == 64
    for value in (cookie(app, client, REMEMBER), cookie(app, client, SESSION)):
        assert row.token_digest not in value


def test_each_sign_in_clears_the_users_ended_ones(app, client, db, world):
    sign_in(client, "viewer@example.com")
    db.session.execute(sa.update(UserSession).values(expires_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    sign_in(app.test_client(), "viewer@example.com")
    rows = db.session.scalars(sa.select(UserSession)).all()
    assert len(rows) == 1 and rows[0].expires_at > utcnow()


@pytest.fixture
def two_browsers(app, client, world):
    """The viewer signed in twice: once plainly, once with remember-me (and only that cookie)."""
    sign_in(client, "viewer@example.com")
    other = app.test_client()
    sign_in(other, "viewer@example.com", remember="y")
    remembered = browser_with(app, remember_token=cookie(app, other, REMEMBER))
    assert signed_in(client) and signed_in(remembered)
    return client, remembered


def test_a_password_change_ends_every_sign_in_of_the_user(runner, db, world, two_browsers, app):
    admin = app.test_client()
    sign_in(admin, "admin@example.com")
    result = runner.invoke(args=["users", "set-password", "viewer@example.com",
                                 "--password", "a-new-password"])
    assert result.exit_code == 0, result.output
    assert not any(signed_in(browser) for browser in two_browsers)
    assert signed_in(admin)  # other users keep theirs
    fresh = app.test_client()
    assert sign_in(fresh, "viewer@example.com").status_code == 400
    assert sign_in(fresh, "viewer@example.com", "a-new-password").status_code == 302
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "user.password_changed"))
    assert row.actor_type == "cli" and row.after == {"email": "viewer@example.com", "sessionsEnded": 2}
    assert "a-new-password" not in str((row.before, row.after, row.details))


def test_a_too_short_new_password_is_refused_and_nothing_ends(runner, db, world, two_browsers):
    result = runner.invoke(args=["users", "set-password", "viewer@example.com", "--password", "short"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: password must be at least 8 characters"
    assert all(signed_in(browser) for browser in two_browsers)


def test_signout_everywhere_ends_every_sign_in_and_is_audited(runner, db, world, two_browsers):
    result = runner.invoke(args=["users", "signout-everywhere", "Viewer@example.com"])
    assert result.exit_code == 0, result.output
    assert "viewer@example.com signed out everywhere (2 sign-ins ended)" in result.output
    assert not any(signed_in(browser) for browser in two_browsers)
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "user.signed_out_everywhere"))
    assert row.entity_id == world.users["VIEWER"].id and row.actor_type == "cli"


def test_signout_everywhere_of_an_unknown_user_is_a_one_line_error(runner, db):
    result = runner.invoke(args=["users", "signout-everywhere", "nobody@example.com"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no user with email 'nobody@example.com'"
