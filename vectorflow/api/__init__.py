"""The automation API under /api/v1: JSON, bearer API tokens or a session."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.after_request
def discard_failed_changes(response):
    # A refused request changes nothing: drop whatever a service flushed before refusing.
    if response.status_code >= 400:
        from ..extensions import db

        db.session.rollback()
    return response


# One import per module of views, so adding one is a one-line change (and a clean rebase).
from . import views  # noqa: E402,F401  isort: skip
from . import nodes  # noqa: E402,F401  isort: skip
from . import maintenance  # noqa: E402,F401  isort: skip
from . import pipelines  # noqa: E402,F401  isort: skip
from . import secrets  # noqa: E402,F401  isort: skip
