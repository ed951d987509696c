from flask import Blueprint

bp = Blueprint("fleet", __name__)

from . import views  # noqa: E402,F401
