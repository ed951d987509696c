"""The Alerts page, the top bar's count, alert settings (rules and notification channels)."""
from flask import Blueprint

bp = Blueprint("alerts", __name__, url_prefix="/alerts")

from . import views  # noqa: F401
