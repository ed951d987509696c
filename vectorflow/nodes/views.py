"""The node page: details, pipelines, host metrics, and admin actions."""
import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..guards import get_node_or_404, require_login
from ..live import live_page
from ..models import NodePipelineStatus, Pipeline, Role
from ..services import ServiceError
from ..services import nodes as node_service
from ..services import samples
from ..services.pipelines import latest_versions
from ..teams.forms import EmptyForm
from . import bp
from ..transactions import attempt
from .forms import AgentUpdateForm, RenameForm

UPDATE_FIELDS = {"targetVersion": "target_version", "downloadUrl": "download_url",
                 "checksum": "checksum"}


def _render(node, status=200, rename_form=None, update_form=None):
    statuses = db.session.scalars(
        sa.select(NodePipelineStatus).join(Pipeline)
        .where(NodePipelineStatus.node_id == node.id)
        .options(selectinload(NodePipelineStatus.pipeline)).order_by(Pipeline.name)
    ).all()
    action = node.pending_action or {}
    return render_template(
        "nodes/show.html", node=node, environment=node.environment, statuses=statuses,
        latest=latest_versions(s.pipeline_id for s in statuses), metrics=samples.latest_host(node.id),
        rename_form=rename_form or RenameForm(name=node.name),
        update_form=update_form or AgentUpdateForm(
            target_version=action.get("targetVersion", ""),
            download_url=action.get("downloadUrl", ""), checksum=action.get("checksum", "")),
        button=EmptyForm(),
    ), status


@bp.get("/<node_id>")
@require_login
@live_page
def show(node_id):
    return _render(get_node_or_404(node_id))


def _refused(node_id, err: ServiceError, **forms):
    flash(err.message, "error")
    return _render(get_node_or_404(node_id, Role.ADMIN), err.status_code, **forms)


@bp.post("/<node_id>/rename")
@require_login
def rename(node_id):
    node = get_node_or_404(node_id, Role.ADMIN)
    form = RenameForm()
    if not form.validate_on_submit():
        return _render(node, 400, rename_form=form)
    _, err = attempt(node_service.rename_node, node, form.name.data)
    if err is not None:
        form.name.errors = [err.message]
        return _refused(node_id, err, rename_form=form)
    flash(f"Node renamed to {node.name}.", "success")
    return redirect(url_for("nodes.show", node_id=node.id))


@bp.post("/<node_id>/revoke-token")
@require_login
def revoke_token(node_id):
    node = get_node_or_404(node_id, Role.ADMIN)
    if not EmptyForm().validate_on_submit():
        return _render(node, 400)
    node_service.revoke_node_token(node)
    flash("Token revoked: the agent is refused from its next call and must enroll again.",
          "success")
    return redirect(url_for("nodes.show", node_id=node.id))


@bp.post("/<node_id>/delete")
@require_login
def delete(node_id):
    node = get_node_or_404(node_id, Role.ADMIN)
    if not EmptyForm().validate_on_submit():
        return _render(node, 400)
    name = node.name
    node_service.delete_node(node)
    flash(f"Node {name} deleted.", "success")
    return redirect(url_for("fleet.index"))


@bp.post("/<node_id>/agent-update")
@require_login
def trigger_update(node_id):
    node = get_node_or_404(node_id, Role.ADMIN)
    form = AgentUpdateForm()
    if not form.validate_on_submit():
        return _render(node, 400, update_form=form)
    _, err = attempt(node_service.trigger_agent_update, node, form.target_version.data,
                     form.download_url.data, form.checksum.data)
    if err is not None:
        for key, field in UPDATE_FIELDS.items():
            if key in err.details:
                getattr(form, field).errors = [err.message]
        return _refused(node_id, err, update_form=form)
    flash(f"Agent update to {form.target_version.data.strip()} requested: the agent applies it "
          "on its next poll.", "success")
    return redirect(url_for("nodes.show", node_id=node.id))


@bp.post("/<node_id>/pending-action/cancel")
@require_login
def cancel_action(node_id):
    node = get_node_or_404(node_id, Role.ADMIN)
    if not EmptyForm().validate_on_submit():
        return _render(node, 400)
    node_service.cancel_pending_action(node)
    flash("Pending action cancelled.", "success")
    return redirect(url_for("nodes.show", node_id=node.id))
