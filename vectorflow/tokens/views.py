import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectChoice

from ..extensions import db
from ..guards import get_team_or_404, require_login
from ..models import ApiToken, Role, Team
from ..services import tokens
from ..transactions import attempt
from ..teams.forms import EmptyForm
from . import bp
from .forms import PersonalTokenForm, ServiceTokenForm


def _admin_teams() -> list[Team]:
    ids = tokens.admin_team_ids(current_user)
    query = sa.select(Team).order_by(Team.name)
    if ids is not None:
        query = query.where(Team.id.in_(ids))
    return db.session.scalars(query).all()


def _page(status: int = 200, **context):
    teams = _admin_teams()
    service_form = context.pop("service_form", None) or ServiceTokenForm()
    service_form.team_id.choices = [SelectChoice(t.id, t.name) for t in teams]
    rows = db.session.scalars(
        tokens.visible_tokens_query(current_user._get_current_object())
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.name, ApiToken.id)
    ).all()
    context.setdefault("personal_form", PersonalTokenForm())
    context.setdefault("new_token", None)
    return render_template("tokens/index.html", tokens=rows, service_form=service_form,
                           button=EmptyForm(), **context), status


@bp.get("/")
@require_login
def index():
    return _page()


@bp.post("/personal")
@require_login
def create_personal():
    form = PersonalTokenForm()
    if not form.validate_on_submit():
        return _page(400, personal_form=form)
    return _issue(form, "personal_form", lambda: tokens.create_personal_token(
        current_user._get_current_object(), form.name.data))


@bp.post("/service")
@require_login
def create_service():
    form = ServiceTokenForm()
    form.team_id.choices = [SelectChoice(t.id, t.name) for t in _admin_teams()]
    if not form.validate_on_submit():
        if form.team_id.data and form.team_id.data not in {c.value for c in form.team_id.choices}:
            get_team_or_404(form.team_id.data, Role.ADMIN)  # 404 or 403, as for any team object
        return _page(400, service_form=form)
    team = get_team_or_404(form.team_id.data, Role.ADMIN)
    return _issue(form, "service_form",
                  lambda: tokens.create_service_token(team, form.name.data, form.role.data))


def _issue(form, form_name: str, create):
    created, err = attempt(create)
    if err is not None:
        form.name.errors.append(err.message)
        return _page(400, **{form_name: form})
    token, raw = created
    # Shown once, on this response only; afterwards only the hint is visible.
    return _page(new_token={"token": token, "raw": raw})


@bp.post("/<token_id>/revoke")
@require_login
def revoke(token_id):
    token = tokens.find_token(token_id)
    if token is None or not tokens.may_manage(current_user._get_current_object(), token):
        abort(404)
    if not EmptyForm().validate_on_submit():
        return _page(400)
    tokens.revoke_token(token)
    flash(f"Token {token.name} revoked: calls with it now get 401.", "success")
    return redirect(url_for("tokens.index"))
