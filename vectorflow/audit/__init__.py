"""The audit log page: who changed what, for ADMINs of a team (superadmins: everything)."""
from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/audit")

from . import views  # noqa: E402,F401
