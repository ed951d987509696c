from flask import render_template

from ..guards import get_node_or_404, require_login
from . import bp


@bp.get("/<node_id>")
@require_login
def show(node_id):
    node = get_node_or_404(node_id)
    return render_template("nodes/show.html", node=node)
