"""Maintenance toggles for browsers: the dialog's form endpoint and the node banner fragment."""
from flask import Blueprint

bp = Blueprint("maintenance", __name__, url_prefix="/nodes")

from . import views  # noqa: E402,F401
