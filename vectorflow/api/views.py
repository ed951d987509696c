import sqlalchemy as sa
from flask import jsonify
from flask_login import current_user

from ..extensions import db
from ..guards import require_login
from ..models import Team
from . import bp


@bp.get("/teams")
@require_login
def list_teams():
    query = sa.select(Team).order_by(Team.name)
    ids = current_user.team_ids()
    if ids is not None:
        query = query.where(Team.id.in_(ids))
    items = [{"id": t.id, "name": t.name} for t in db.session.scalars(query)]
    return jsonify({"items": items, "nextCursor": None})
