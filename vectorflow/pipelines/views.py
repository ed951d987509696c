"""Pipelines and secrets of an environment: list, edit drafts, deploy, version history."""
import difflib

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from ..extensions import db
from ..guards import (
    get_environment_or_404,
    get_pipeline_or_404,
    get_secret_or_404,
    require_login,
)
from ..models import Environment, Pipeline, PipelineVersion, Role, Team
from ..services import ServiceError, budgets
from ..services import pipelines as pipeline_service
from ..services import secrets as secret_service
from ..teams.forms import EmptyForm
from ..transactions import attempt
from . import bp
from .forms import BudgetForm, PipelineForm, RotateSecretForm, SecretForm

FIELD_OF_DETAIL = {"config": "config_yaml", "name": "name", "logLevel": "log_level"}


def _form_error(form, err: ServiceError) -> int:
    """Attach a service error to the form field it concerns (or flash it); return the status."""
    for key, field_name in FIELD_OF_DETAIL.items():
        if key in err.details:
            field = getattr(form, field_name)
            if key == "config":
                field.errors = list(field.errors) + list(err.details["config"])
            else:
                field.errors = list(field.errors) + [err.message]
            return err.status_code
    flash(err.message, "error")
    return err.status_code


# Pipelines ---------------------------------------------------------------------------------

@bp.get("/environments/<env_id>/pipelines")
@require_login
def index(env_id):
    env = get_environment_or_404(env_id)
    pipelines = db.session.scalars(
        sa.select(Pipeline).where(Pipeline.environment_id == env.id).order_by(Pipeline.name)
    ).all()
    latest = pipeline_service.latest_versions(p.id for p in pipelines)
    return render_template("pipelines/index.html", environment=env, pipelines=pipelines,
                           latest=latest, button=EmptyForm())


@bp.get("/environments/<env_id>/pipelines/new")
@require_login
def new(env_id):
    env = get_environment_or_404(env_id, Role.EDITOR)
    return render_template("pipelines/new.html", environment=env, form=PipelineForm())


@bp.post("/environments/<env_id>/pipelines")
@require_login
def create(env_id):
    env = get_environment_or_404(env_id, Role.EDITOR)
    form = PipelineForm()
    status = 400
    if form.validate_on_submit():
        pipeline, err = attempt(
            pipeline_service.create_pipeline, env, form.name.data, form.config_yaml.data,
            description=form.description.data, log_level=form.log_level.data,
        )
        if err is None:
            flash(f"Pipeline {pipeline.name} created. Deploy it to send it to agents.", "success")
            return redirect(url_for("pipelines.show", pipeline_id=pipeline.id))
        status = _form_error(form, err)
    return render_template("pipelines/new.html", environment=env, form=form), status


def _render_show(pipeline, form=None, status=200, budget_form=None):
    latest = pipeline_service.latest_version(pipeline)
    differs = pipeline_service.draft_differs(pipeline, latest)
    diff = ""
    if latest is not None and latest.config_yaml != pipeline.draft_yaml:
        diff = "".join(difflib.unified_diff(
            latest.config_yaml.splitlines(keepends=True),
            pipeline.draft_yaml.splitlines(keepends=True),
            fromfile=f"v{latest.version} (deployed)", tofile="draft",
        ))
    if form is None:
        form = PipelineForm(
            name=pipeline.name, description=pipeline.description,
            log_level=pipeline.draft_log_level.value if pipeline.draft_log_level else "",
            config_yaml=pipeline.draft_yaml,
        )
    budget = budgets.states([pipeline])[pipeline.id]
    if budget_form is None:
        kind = ("percent" if budget.budget.min_available_percent is not None
                else "count" if budget.budget.min_available is not None else "default")
        budget_form = BudgetForm(kind=kind, value=budget.budget.min_available_percent
                                 if kind == "percent" else budget.budget.min_available)
    return render_template(
        "pipelines/show.html", pipeline=pipeline, environment=pipeline.environment, form=form,
        latest=latest, differs=differs, diff=diff, button=EmptyForm(), budget=budget,
        budget_form=budget_form,
    ), status


@bp.get("/pipelines/<pipeline_id>")
@require_login
def show(pipeline_id):
    return _render_show(get_pipeline_or_404(pipeline_id))


@bp.post("/pipelines/<pipeline_id>")
@require_login
def update(pipeline_id):
    pipeline = get_pipeline_or_404(pipeline_id, Role.EDITOR)
    form = PipelineForm()
    status = 400
    if form.validate_on_submit():
        _, err = attempt(
            pipeline_service.update_draft, pipeline, config_yaml=form.config_yaml.data,
            description=form.description.data, log_level=form.log_level.data,
            name=form.name.data,
        )
        if err is None:
            flash("Draft saved. Agents keep running the deployed version until you deploy.",
                  "success")
            return redirect(url_for("pipelines.show", pipeline_id=pipeline.id))
        status = _form_error(form, err)
    return _render_show(pipeline, form, status)


def _action(pipeline_id, work, done_message):
    pipeline = get_pipeline_or_404(pipeline_id, Role.EDITOR)
    if not EmptyForm().validate_on_submit():
        flash("The form expired. Try again.", "error")
        return _render_show(pipeline, status=400)
    result, err = attempt(work, pipeline)
    if err is not None:
        flash(err.message, "error")
        return _render_show(get_pipeline_or_404(pipeline_id, Role.EDITOR), status=err.status_code)
    flash(done_message(result), "success")
    return None


@bp.post("/pipelines/<pipeline_id>/deploy")
@require_login
def deploy(pipeline_id):
    failed = _action(pipeline_id, pipeline_service.deploy_pipeline,
                     lambda v: f"Deployed version {v.version}. Agents pick it up on their next poll.")
    return failed or redirect(url_for("pipelines.show", pipeline_id=pipeline_id))


@bp.post("/pipelines/<pipeline_id>/undeploy")
@require_login
def undeploy(pipeline_id):
    failed = _action(pipeline_id, pipeline_service.undeploy_pipeline,
                     lambda p: f"Undeployed {p.name}. Agents stop it on their next poll.")
    return failed or redirect(url_for("pipelines.show", pipeline_id=pipeline_id))


@bp.post("/pipelines/<pipeline_id>/delete")
@require_login
def delete(pipeline_id):
    env_id = get_pipeline_or_404(pipeline_id, Role.EDITOR).environment_id
    failed = _action(pipeline_id, pipeline_service.delete_pipeline, lambda _: "Pipeline deleted.")
    return failed or redirect(url_for("pipelines.index", env_id=env_id))


@bp.post("/pipelines/<pipeline_id>/budget")
@require_login
def set_budget(pipeline_id):
    """Set the pipeline's disruption budget (ADMIN)."""
    pipeline = get_pipeline_or_404(pipeline_id, Role.ADMIN)
    form = BudgetForm()
    if not form.validate_on_submit():
        return _render_show(pipeline, status=400, budget_form=form)
    kind, value = form.kind.data, form.value.data
    if kind != "default" and value is None:
        form.value.errors = ["Enter a number."]
        return _render_show(pipeline, status=400, budget_form=form)
    budget = {"count": budgets.Budget(min_available=value),
              "percent": budgets.Budget(min_available_percent=value)}.get(kind, budgets.Budget())
    _, err = attempt(budgets.set_budget, pipeline, budget)
    if err is not None:
        form.value.errors = [err.message]
        return _render_show(get_pipeline_or_404(pipeline_id, Role.ADMIN), status=err.status_code,
                            budget_form=form)
    flash("Disruption budget saved.", "success")
    return redirect(url_for("pipelines.show", pipeline_id=pipeline_id))


@bp.get("/pipelines/<pipeline_id>/versions")
@require_login
def versions(pipeline_id):
    pipeline = get_pipeline_or_404(pipeline_id)
    rows = db.session.scalars(
        sa.select(PipelineVersion).where(PipelineVersion.pipeline_id == pipeline.id)
        .order_by(PipelineVersion.version.desc())
    ).all()
    return render_template("pipelines/versions.html", pipeline=pipeline,
                           environment=pipeline.environment, versions=rows)


# Secrets -----------------------------------------------------------------------------------

def _render_secrets(env, form=None, status=200):
    return render_template(
        "pipelines/secrets.html", environment=env, secrets=env.secrets,
        usage=secret_service.secret_usage(env), form=form or SecretForm(),
    ), status


@bp.get("/environments/<env_id>/secrets")
@require_login
def secrets(env_id):
    return _render_secrets(get_environment_or_404(env_id))


@bp.post("/environments/<env_id>/secrets")
@require_login
def create_secret(env_id):
    env = get_environment_or_404(env_id, Role.EDITOR)
    form = SecretForm()
    status = 400
    if form.validate_on_submit():
        secret, err = attempt(secret_service.create_secret, env, form.name.data,
                              form.value.data)
        if err is None:
            flash(f"Secret {secret.name} saved. Its value will not be shown again.", "success")
            return redirect(url_for("pipelines.secrets", env_id=env.id))
        status = _form_error(form, err)
    form.value.data = ""  # never echo a secret value back
    return _render_secrets(env, form=form, status=status)


@bp.post("/secrets/<secret_id>/rotate")
@require_login
def rotate_secret(secret_id):
    secret = get_secret_or_404(secret_id, Role.EDITOR)
    env, name = secret.environment, secret.name
    form = RotateSecretForm()
    status = 400
    if form.validate_on_submit():
        _, err = attempt(secret_service.rotate_secret, secret, form.value.data)
        if err is None:
            flash(f"Secret {name} rotated. Pipelines using it restart on their agents' next poll.",
                  "success")
            return redirect(url_for("pipelines.secrets", env_id=env.id))
        flash(err.message, "error")
        status = err.status_code
    else:
        flash(f"Enter a new value for {name}.", "error")
    return _render_secrets(env, status=status)


@bp.post("/secrets/<secret_id>/delete")
@require_login
def delete_secret(secret_id):
    secret = get_secret_or_404(secret_id, Role.EDITOR)
    env, name = secret.environment, secret.name
    if not EmptyForm().validate_on_submit():
        flash("The form expired. Try again.", "error")
        return _render_secrets(env, status=400)
    _, err = attempt(secret_service.delete_secret, secret)
    if err is not None:
        flash(err.message, "error")
        return _render_secrets(env, status=err.status_code)
    flash(f"Secret {name} deleted.", "success")
    return redirect(url_for("pipelines.secrets", env_id=env.id))


@bp.get("/pipelines")
@require_login
def overview():
    """List every pipeline the user can see, with its environment, deployed version and how
    many nodes run it; then the environments (where new pipelines are created)."""
    from ..models import NodePipelineStatus, ProcessStatus, VectorNode

    environments = db.session.scalars(scoped_environments()).all()
    env_ids = [env.id for env in environments]
    pipelines = db.session.scalars(
        sa.select(Pipeline).where(Pipeline.environment_id.in_(env_ids))
        .order_by(Pipeline.name, Pipeline.id)).all() if env_ids else []
    ids = [p.id for p in pipelines]
    running = dict(db.session.execute(
        sa.select(NodePipelineStatus.pipeline_id, sa.func.count())
        .where(NodePipelineStatus.pipeline_id.in_(ids),
               NodePipelineStatus.status == ProcessStatus.RUNNING)
        .group_by(NodePipelineStatus.pipeline_id)).all()) if ids else {}
    serving = dict(db.session.execute(
        sa.select(VectorNode.environment_id, sa.func.count())
        .where(VectorNode.environment_id.in_(env_ids), VectorNode.maintenance_mode.is_(False))
        .group_by(VectorNode.environment_id)).all()) if env_ids else {}
    return render_template("pipelines/overview.html", pipelines=pipelines,
                           environments=environments, running=running, serving=serving,
                           latest=pipeline_service.latest_versions(ids))


def scoped_environments() -> sa.Select:
    """The environments the user can see, by team and name."""
    query = (sa.select(Environment).join(Team, Team.id == Environment.team_id)
             .order_by(Team.name, Environment.name))
    ids = current_user.team_ids()
    return query if ids is None else query.where(Environment.team_id.in_(ids))
