from flask import Blueprint

bp = Blueprint("pipelines", __name__)

from . import views  # noqa: E402,F401
