"""The server-sent-events stream for dashboards."""
from flask import Blueprint

bp = Blueprint("events", __name__)

from . import views  # noqa: E402,F401
