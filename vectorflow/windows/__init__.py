"""Maintenance windows pages: per environment, with a preview before saving."""
from flask import Blueprint

bp = Blueprint("windows", __name__)

from . import views  # noqa: E402,F401
