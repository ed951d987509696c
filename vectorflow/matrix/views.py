import sqlalchemy as sa
from flask import redirect, render_template, url_for
from flask_login import current_user

from ..extensions import db
from ..guards import get_environment_or_404, require_login
from ..models import Environment
from . import bp


@bp.get("/")
@require_login
def index():
    query = sa.select(Environment).order_by(Environment.name)
    ids = current_user.team_ids()
    if ids is not None:
        query = query.where(Environment.team_id.in_(ids))
    env = db.session.scalars(query.limit(1)).first()
    if env is None:
        return render_template("matrix/show.html", environment=None)
    return redirect(url_for("matrix.show", env_id=env.id))


@bp.get("/<env_id>")
@require_login
def show(env_id):
    env = get_environment_or_404(env_id)
    return render_template("matrix/show.html", environment=env)
