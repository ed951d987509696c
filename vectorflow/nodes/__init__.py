from flask import Blueprint

bp = Blueprint("nodes", __name__, url_prefix="/nodes")

from . import views  # noqa: E402,F401
