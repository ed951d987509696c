"""One error renderer: JSON for API callers, a page for browsers, never a stack trace."""
from __future__ import annotations

from flask import jsonify, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .guards import wants_json
from .services import ServiceError

MESSAGES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    422: "Unprocessable entity",
    500: "Internal server error",
}


def render_error(status: int, message: str | None = None, details: dict | None = None):
    """Render an error response suited to the caller."""
    message = message or MESSAGES.get(status, "Error")
    if wants_json():
        body = {"error": message}
        if details:
            body["details"] = details
        return jsonify(body), status
    return render_template("errors/error.html", status=status, message=message), status


def register_error_handlers(app) -> None:
    """Install the error handlers on the app."""

    @app.errorhandler(CSRFError)
    def csrf_error(err):
        return render_error(400, "The form expired or was not sent from this site (CSRF check failed). Reload and try again.")

    @app.errorhandler(ServiceError)
    def service_error(err: ServiceError):
        body, status = render_error(err.status_code, err.message, err.details)
        return body, status, getattr(err, "headers", None) or {}

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        # A description given to abort() explicitly is meant for the caller.
        default = type(err).description
        message = err.description if err.description != default else None
        return render_error(err.code or 500, message)

    @app.errorhandler(Exception)
    def unhandled(err: Exception):
        if isinstance(err, HTTPException):
            return http_error(err)
        app.logger.exception("unhandled error")
        return render_error(InternalServerError.code)
