"""Signing in and out, CSRF, and safe redirects."""
import pytest

from tests.factories import PASSWORD


def sign_in(client, email, password=PASSWORD, next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.submit(url, {"email": email, "password": password})


def test_login_page_shows_a_form_with_a_csrf_token(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert b'name="csrf_token"' in page.data and b"Sign in" in page.data


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_user_signs_in_and_sees_the_fleet(client, world):
    response = sign_in(client, "viewer@example.com")
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(client, world):
    response = sign_in(client, "viewer@example.com", "not-the-password")
    assert response.status_code == 400
    assert b"Email or password is wrong" in response.data
    assert client.get("/").status_code == 302


def test_email_is_case_insensitive(client, world):
    assert sign_in(client, "Viewer@Example.COM").status_code == 302


@pytest.mark.parametrize("content_type", [None, "multipart/form-data"])
@pytest.mark.parametrize("field", ["email", "password"])
def test_a_sign_in_holding_a_nul_is_refused_naming_the_field(client, world, field,
                                                              content_type):
    # PostgreSQL cannot compare text holding a NUL: the lookup used to fail with a 500.
    form = {"email": "viewer@example.com", "password": PASSWORD}
    form[field] = "viewer\x00@example.com"
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.submit("/login", form, **kwargs)
    assert response.status_code == 400
    assert f"form field &#39;{field}&#39; must not contain NUL characters" in \
        response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still signed out
    assert sign_in(client, "viewer@example.com").status_code == 302


def test_login_without_csrf_token_is_rejected(client, world):
    response = client.post("/login", data={"email": "viewer@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert b"CSRF" in response.data
    assert client.get("/").status_code == 302


def test_logout_signs_the_user_out(client, world):
    sign_in(client, "viewer@example.com")
    assert client.submit("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_logout_needs_a_post_with_csrf(client, world):
    sign_in(client, "viewer@example.com")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("target, expected", [
    ("/teams/", "/teams/"),
    ("https://evil.example.com/", "/"),
    ("//evil.example.com/", "/"),
    ("/\\evil.example.com", "/"),
])
def test_next_only_redirects_within_the_site(client, world, target, expected):
    response = sign_in(client, "viewer@example.com", next_url=target)
    location = response.headers["Location"]
    assert location.endswith(expected)
    assert "evil" not in location


@pytest.mark.parametrize("target", ["/%0d%0aX:1", "/%0aSet-Cookie:x=1", "/a%09b", "/%7f"])
def test_next_with_control_characters_goes_to_the_fleet_page(client, world, login_as, target):
    response = sign_in(client, "viewer@example.com", next_url=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    login_as("VIEWER")  # already signed in: the login page redirects at once
    response = client.get(f"/login?next={target}")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "X" not in response.headers and "Set-Cookie" not in response.headers


def test_passwords_are_stored_hashed(db, world):
    user = world.users["VIEWER"]
    assert PASSWORD not in user.password_hash
    assert user.check_password(PASSWORD)


def test_a_session_cookie_planted_before_sign_in_stays_signed_out(app, client, world):
    # Session fixation: an attacker's pre-login cookie given to the victim is not signed in by it.
    attacker = app.test_client()
    attacker.get("/login")
    planted = attacker.get_cookie("session", domain=app.config["SERVER_NAME"]).value
    client.set_cookie("session", planted, domain=app.config["SERVER_NAME"])
    assert sign_in(client, "viewer@example.com").status_code == 302
    assert client.get("/").status_code == 200
    assert attacker.get("/").status_code == 302


def test_the_csrf_token_of_the_signed_out_page_is_dead_after_sign_in(client, world):
    before = client.csrf_token()
    client.post("/login", data={"email": "viewer@example.com", "password": PASSWORD,
                                "csrf_token": before})
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    after = client.csrf_token()
    assert after != before
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302


def test_session_data_from_before_sign_in_is_dropped(client, world):
    with client.session_transaction() as session:
        session["next_step"] = "planted"
    sign_in(client, "viewer@example.com")
    with client.session_transaction() as session:
        assert "next_step" not in session


def test_an_unknown_account_costs_the_same_hash_check_as_a_wrong_password(client, world, monkeypatch):
    from werkzeug.security import generate_password_hash

    from vectorflow.services import accounts

    checked = []
    real_check = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash",
                        lambda stored, password: checked.append(stored) or real_check(stored, password))
    assert sign_in(client, "nobody@example.com", "guess-what").status_code == 400
    assert sign_in(client, "viewer@example.com", "guess-what").status_code == 400
    unknown, known = checked
    assert known == world.users["VIEWER"].password_hash
    # The dummy hash costs what a real account's does (scrypt with the same parameters).
    assert unknown.split("$")[0] == generate_password_hash("x").split("$")[0]
