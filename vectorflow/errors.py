"""One error renderer: JSON for API callers, a page for browsers, never a stack trace."""
from __future__ import annotations

from flask import current_app, render_template
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


def render_error(status: int, message: str | None = None, details: dict | None = None,
                 headers: dict | None = None):
    """Render an error response suited to the caller (JSON: schemas.api.Error)."""
    from .schemas.api import Error
    from .schemas.base import respond

    message = message or MESSAGES.get(status, "Error")
    if wants_json():
        error = Error(error=message, details=details) if details else Error(error=message)
        response = respond(error, status)
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
    else:
        response = current_app.make_response(
            (render_template("errors/error.html", status=status, message=message), status))
    response.headers.extend(headers or {})
    return response


def register_error_handlers(app) -> None:
    """Install the error handlers on the app."""

    @app.errorhandler(CSRFError)
    def csrf_error(err):
        return render_error(400, "The form expired or was not sent from this site (CSRF check failed). Reload and try again.")

    @app.errorhandler(ServiceError)
    def service_error(err: ServiceError):
        return render_error(err.status_code, err.message, err.details,
                            headers=getattr(err, "headers", None))

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        # A description given to abort() explicitly is meant for the caller.
        default = type(err).description
        message = err.description if err.description != default else None
        # Keep what the exception says in headers (a 405's Allow), not its Content-Type.
        headers = {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
        return render_error(err.code or 500, message, headers=headers)

    @app.errorhandler(Exception)
    def unhandled(err: Exception):
        if isinstance(err, HTTPException):
            return http_error(err)
        app.logger.exception("unhandled error")
        return render_error(InternalServerError.code)
