"""Probes for load balancers and orchestrators: cheap, unauthenticated, no database."""
from flask import Blueprint, jsonify

bp = Blueprint("probes", __name__)


@bp.get("/healthz")
def healthz():
    """Answer that this server process is up and serving requests."""
    return jsonify({"ok": True})
