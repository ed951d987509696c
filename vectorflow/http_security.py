"""What every response tells the browser, and who the client is behind a reverse proxy."""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# Pages load scripts, styles and images from this site only; no inline script or style, no
# eval (htmx is configured without it in templates/base.html), and no site may frame them.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    """Send the security headers on every response; trust the configured proxies' X-Forwarded-For."""

    @app.after_request
    def add_security_headers(response):
        # One pass over the response's headers (a view may set its own policy); Headers.setdefault
        # per name would scan them four times and build a KeyError for each missing one.
        present = {name.lower() for name in response.headers.keys()}
        response.headers.extend([(name, value) for name, value in SECURITY_HEADERS.items()
                                 if name.lower() not in present])
        return response

    proxies = app.config["VECTORFLOW_TRUSTED_PROXIES"]
    if proxies:
        # request.remote_addr becomes the client's address (the per-address login throttle
        # and audit rows use it), taken from the last `proxies` X-Forwarded-For entries.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)
