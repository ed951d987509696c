import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from ..extensions import db
from ..guards import get_environment_or_404, get_team_or_404, require_login, require_superadmin
from ..models import Role, Team, TeamMember
from ..services import accounts, environments
from ..transactions import attempt
from ..wrappers import loads_form_json
from . import bp
from .forms import EmptyForm, EnvironmentForm, MemberForm, RoleForm, TeamForm


def visible_teams():
    query = sa.select(Team).order_by(Team.name)
    ids = current_user.team_ids()
    if ids is not None:
        query = query.where(Team.id.in_(ids))
    return db.session.scalars(query).all()


@bp.get("/")
@require_login
def index():
    return render_template("teams/index.html", teams=visible_teams(), form=TeamForm())


@bp.post("/")
@require_superadmin
def create():
    form = TeamForm()
    if form.validate_on_submit():
        team, err = attempt(accounts.create_team, form.name.data)
        if err is None:
            return redirect(url_for("teams.show", team_id=team.id))
        form.name.errors.append(err.message)
    return render_template("teams/index.html", teams=visible_teams(), form=form), 400


@bp.get("/<team_id>")
@require_login
def show(team_id):
    team = get_team_or_404(team_id)
    return render_template(
        "teams/show.html", team=team, member_form=MemberForm(), env_form=EnvironmentForm(),
        role_form=RoleForm(), button=EmptyForm(), new_token=None,
    )


def _show_with_errors(team, **forms):
    defaults = dict(member_form=MemberForm(), env_form=EnvironmentForm(), role_form=RoleForm(),
                    button=EmptyForm(), new_token=None)
    defaults.update(forms)
    return render_template("teams/show.html", team=team, **defaults), 400


@bp.post("/<team_id>/members")
@require_login
def add_member(team_id):
    team = get_team_or_404(team_id, Role.ADMIN)
    form = MemberForm()
    if form.validate_on_submit():
        user = accounts.find_user(form.email.data)
        if user is None:
            form.email.errors.append("No user with that email. Create the account first.")
        else:
            _, err = attempt(accounts.set_membership, team, user, Role[form.role.data])
            if err is None:
                flash(f"{user.email} is now {form.role.data.title()} of {team.name}.", "success")
                return redirect(url_for("teams.show", team_id=team.id))
            form.role.errors.append(err.message)
    return _show_with_errors(team, member_form=form)


@bp.post("/<team_id>/members/<int:member_id>/role")
@require_login
def set_role(team_id, member_id):
    team = get_team_or_404(team_id, Role.ADMIN)
    member = db.session.get(TeamMember, member_id)
    if member is None or member.team_id != team.id:
        return _not_found()
    form = RoleForm()
    if form.validate_on_submit():
        _, err = attempt(accounts.set_membership, team, member.user, Role[form.role.data])
        if err is None:
            flash(f"{member.user.email} is now {form.role.data.title()}.", "success")
            return redirect(url_for("teams.show", team_id=team.id))
        flash(err.message, "error")
    return _show_with_errors(team, role_form=form)


@bp.post("/<team_id>/members/<int:member_id>/remove")
@require_login
def remove_member(team_id, member_id):
    team = get_team_or_404(team_id, Role.ADMIN)
    member = db.session.get(TeamMember, member_id)
    if member is None or member.team_id != team.id:
        return _not_found()
    if not EmptyForm().validate_on_submit():
        return _show_with_errors(team)
    _, err = attempt(accounts.remove_member, team, member)
    flash(err.message if err else "Member removed.", "error" if err else "success")
    return redirect(url_for("teams.show", team_id=team.id))


@bp.post("/<team_id>/environments")
@require_login
def create_environment(team_id):
    team = get_team_or_404(team_id, Role.EDITOR)
    form = EnvironmentForm()
    if form.validate_on_submit():
        config = {}
        if form.secret_backend_config.data and form.secret_backend_config.data.strip():
            try:
                config = loads_form_json(form.secret_backend_config.data)
            except ValueError as err:
                form.secret_backend_config.errors.append(f"Not valid JSON: {err}")
        if not form.errors:
            _, err = attempt(environments.create_environment, team, form.name.data,
                             secret_backend=form.secret_backend.data,
                             secret_backend_config=config)
            if err is None:
                flash(f"Environment {form.name.data} created.", "success")
                return redirect(url_for("teams.show", team_id=team.id))
            form.name.errors.append(err.message)
    return _show_with_errors(team, env_form=form)


@bp.post("/environments/<env_id>/enrollment-token")
@require_login
def enrollment_token(env_id):
    env = get_environment_or_404(env_id, Role.ADMIN)
    if not EmptyForm().validate_on_submit():
        return _show_with_errors(env.team)
    token = environments.issue_enrollment_token(env)
    # Shown once, on this response only; afterwards only the hint is visible.
    return render_template(
        "teams/show.html", team=env.team, member_form=MemberForm(), env_form=EnvironmentForm(),
        role_form=RoleForm(), button=EmptyForm(), new_token={"environment": env, "token": token},
    )


def _not_found():
    from flask import abort

    abort(404)
