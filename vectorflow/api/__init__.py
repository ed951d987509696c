"""The automation API under /api/v1: JSON, bearer API tokens or a session."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")


# One import per module of views, so adding one is a one-line change (and a clean rebase).
from . import views  # noqa: E402,F401  isort: skip
from . import nodes  # noqa: E402,F401  isort: skip
from . import maintenance  # noqa: E402,F401  isort: skip
from . import pipelines  # noqa: E402,F401  isort: skip
from . import secrets  # noqa: E402,F401  isort: skip
from . import alerts  # noqa: E402,F401  isort: skip
from . import windows  # noqa: E402,F401  isort: skip
from . import samples  # noqa: E402,F401  isort: skip
from . import logs  # noqa: E402,F401  isort: skip
