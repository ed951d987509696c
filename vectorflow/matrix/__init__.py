from flask import Blueprint

bp = Blueprint("matrix", __name__, url_prefix="/matrix")

from . import views  # noqa: E402,F401
