"""Workflows shared by views, the agent API, the REST API and the CLI.

Services change state and ``flush()``; the outermost caller commits. Events queued
with ``events.emit`` are published only after that commit succeeds.
"""


class ServiceError(Exception):
    """A request the service refuses, with a message fit to show the user."""

    status_code = 400

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409
