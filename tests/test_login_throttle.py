"""Failed sign-ins are throttled per account and per client address; nothing else is."""
import os
import uuid

import pytest
from limits import parse

from vectorflow.auth.throttle import LoginThrottle

from .conftest import sign_in
from .factories import PASSWORD

THROTTLED = "Too many failed sign-ins"


def from_address(address: str) -> dict:
    return {"environ_overrides": {"REMOTE_ADDR": address}}


def attempt(client, email, password="wrong-password", address="127.0.0.1"):
    """Submit the login form (with the CSRF token of the client's signed-out session)."""
    if not hasattr(client, "login_csrf"):
        client.login_csrf = client.csrf_token()
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": client.login_csrf}, **from_address(address))


def test_fifty_wrong_passwords_then_the_right_one_does_not_sign_in(client, world):
    answers = [attempt(client, "viewer@example.com").status_code for _ in range(50)]
    assert answers[:10] == [400] * 10 and set(answers[10:]) == {429}
    response = attempt(client, "viewer@example.com", PASSWORD)
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert THROTTLED in page and "Try again in 15 minutes" in page
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert client.get("/").status_code == 302


def test_successful_sign_ins_are_not_counted(app, client, world):
    for _ in range(15):
        client.forget_cookies()
        assert sign_in(client, "viewer@example.com").status_code == 302


def test_an_account_is_throttled_whatever_address_the_failures_come_from(client, world):
    for n in range(10):
        assert attempt(client, "viewer@example.com", address=f"10.0.0.{n}").status_code == 400
    assert attempt(client, "viewer@example.com", PASSWORD, address="10.0.1.1").status_code == 429
    # Other accounts from those addresses are not affected.
    assert attempt(client, "editor@example.com", PASSWORD, address="10.0.0.1").status_code == 302


@pytest.fixture
def five_per_address(app, monkeypatch):
    """The throttle with a per-address limit of 5 (unknown accounts cost a real hash check each)."""
    throttle = LoginThrottle("memory://", parse("10 per 15 minutes"), parse("5 per 15 minutes"))
    monkeypatch.setitem(app.extensions, "vectorflow.login_throttle", throttle)


def test_an_address_is_throttled_whatever_accounts_it_tries(app, client, world, five_per_address):
    for n in range(5):
        assert attempt(client, f"guess-{n}@example.com", address="203.0.113.9").status_code == 400
    assert attempt(client, "viewer@example.com", PASSWORD, address="203.0.113.9").status_code == 429
    elsewhere = app.test_client()
    assert attempt(elsewhere, "viewer@example.com", PASSWORD, address="198.51.100.1").status_code == 302


def test_the_api_and_the_agent_api_are_not_throttled_by_it(client, db, world, five_per_address):
    from vectorflow.services.tokens import create_personal_token

    _, token = create_personal_token(world.users["VIEWER"], "laptop")
    db.session.commit()
    for n in range(5):
        attempt(client, f"guess-{n}@example.com")
    assert attempt(client, "viewer@example.com", PASSWORD).status_code == 429
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/teams", headers=headers).status_code == 200
    bad = {"Authorization": "Bearer vf_api_" + "0" * 64}
    assert client.get("/api/v1/teams", headers=bad).status_code == 401
    assert client.get("/api/agent/config", headers={"Authorization": "Bearer vf_node_x"}).status_code == 401


def test_malformed_sign_ins_are_not_counted(client, world):
    for _ in range(20):
        assert client.post("/login", data={"email": "viewer@example.com",
                                           "password": "x"}).status_code == 400  # no CSRF token
    assert attempt(client, "viewer@example.com", PASSWORD).status_code == 302


REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(not redis_available(), reason=f"no Redis at {REDIS_URL}")
def test_with_redis_every_server_process_shares_the_counts():
    config = {"REDIS_URL": REDIS_URL, "VECTORFLOW_LOGIN_LIMIT_ACCOUNT": "3 per 15 minutes",
              "VECTORFLOW_LOGIN_LIMIT_ADDRESS": "50 per 15 minutes"}
    one, two = LoginThrottle.from_config(config), LoginThrottle.from_config(config)
    email, address = f"{uuid.uuid4().hex}@example.com", f"test-{uuid.uuid4().hex}"
    for _ in range(3):
        assert two.retry_after(email, address) is None
        one.record_failure(email, address)
    assert 0 < two.retry_after(email, address) <= 15 * 60
    assert two.retry_after(f"other-{email}", f"other-{address}") is None


def test_an_unreachable_redis_does_not_lock_everyone_out():
    throttle = LoginThrottle("redis://127.0.0.1:1/0", parse("1 per hour"), parse("1 per hour"))
    throttle.record_failure("viewer@example.com", "127.0.0.1")
    assert throttle.retry_after("viewer@example.com", "127.0.0.1") is None


def test_the_app_counts_in_redis_when_redis_url_is_set(tmp_path, monkeypatch):
    from limits.storage import MemoryStorage, RedisStorage

    from vectorflow import create_app

    monkeypatch.setenv("VECTORFLOW_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(create_app().extensions["vectorflow.login_throttle"].storage, MemoryStorage)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    assert isinstance(create_app().extensions["vectorflow.login_throttle"].storage, RedisStorage)


def test_a_malformed_limit_setting_names_itself():
    config = {"VECTORFLOW_LOGIN_LIMIT_ACCOUNT": "ten a minute",
              "VECTORFLOW_LOGIN_LIMIT_ADDRESS": "50 per 15 minutes"}
    with pytest.raises(ValueError, match="VECTORFLOW_LOGIN_LIMIT_ACCOUNT: expected e.g."):
        LoginThrottle.from_config(config)
