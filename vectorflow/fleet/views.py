import sqlalchemy as sa
from flask import render_template
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..guards import require_login
from ..models import Environment, VectorNode
from . import bp


def visible_nodes_query():
    """Nodes of the environments the current user can see."""
    query = (
        sa.select(VectorNode)
        .join(Environment)
        .options(selectinload(VectorNode.environment))
        .order_by(Environment.name, VectorNode.name)
    )
    ids = current_user.team_ids()
    if ids is not None:
        query = query.where(Environment.team_id.in_(ids))
    return query


@bp.get("/")
@require_login
def index():
    nodes = db.session.scalars(visible_nodes_query()).all()
    return render_template("fleet/index.html", nodes=nodes)
