"""The automation API under /api/v1: JSON, bearer API tokens or a session."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import maintenance, views  # noqa: E402,F401
