"""Every response tells the browser to refuse framing, inline script and content sniffing;
the templates need nothing that policy forbids."""
import re
from pathlib import Path

import pytest

from vectorflow.extensions import db as _db

from .conftest import _app_for
from .factories import PASSWORD

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def assert_security_headers(response):
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/login", 200),
    ("GET", "/", 302),
    ("POST", "/login", 400),
    ("GET", "/no-such-page", 404),
    ("GET", "/static/js/ui.js", 200),
    ("GET", "/api/v1/openapi.json", 200),
    ("GET", "/api/v1/teams", 401),
    ("GET", "/api/agent/config", 401),
    ("GET", "/healthz", 200),
])
def test_every_kind_of_response_carries_the_security_headers(client, method, path, status):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert_security_headers(response)


def test_signed_in_pages_carry_the_security_headers(client, login_as):
    login_as("ADMIN")
    for path in ("/", "/matrix/", "/pipelines", "/teams/", "/tokens/", "/audit/"):
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        assert_security_headers(response)


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix()
                                            for p in TEMPLATES.rglob("*.html")))
def test_no_template_needs_inline_script_or_style(template):
    text = (TEMPLATES / template).read_text()
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag, f"inline <script> in {template}: the CSP blocks it (use static/js)"
    assert not re.search(r"\son[a-z]+\s*=", text), f"on* handler in {template} (use static/js)"
    assert not re.search(r"\sstyle\s*=", text), f"style attribute in {template} (use app.css)"
    assert "<style" not in text and "javascript:" not in text


def test_htmx_is_configured_to_need_no_eval_or_inline_style(client):
    page = client.get("/login").get_data(as_text=True)
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', page).group(1)
    assert '"allowEval": false' in config and '"includeIndicatorStyles": false' in config


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_clients(database_url, tmp_path, world):
    app = _app_for(database_url, tmp_path, VECTORFLOW_TRUSTED_PROXIES=1,
                   VECTORFLOW_LOGIN_LIMIT_ADDRESS="3 per 15 minutes")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def attempt(forwarded_for, password="wrong-password"):
        return client.post("/login", headers={"X-Forwarded-For": forwarded_for}, data={
            "email": "viewer@example.com", "password": password, "csrf_token": csrf})

    try:
        for _ in range(3):
            assert attempt("192.0.2.7").status_code == 400
        assert attempt("192.0.2.7").status_code == 429
        # Another client behind the same proxy is not throttled for the first one's failures.
        assert attempt("192.0.2.8", PASSWORD).status_code == 302
    finally:
        with app.app_context():
            _db.engine.dispose()
