"""API token pages: list, create (shown once) and revoke."""
from flask import Blueprint

bp = Blueprint("tokens", __name__, url_prefix="/tokens")

from . import views  # noqa: E402,F401
