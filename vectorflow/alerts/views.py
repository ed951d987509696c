"""Alerts: the list (firing, suppressed, resolved), acknowledging, and the alert settings."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..api.pagination import paginate
from ..extensions import db
from ..guards import (
    get_alert_or_404,
    get_channel_or_404,
    get_environment_or_404,
    get_team_or_404,
    require_login,
    require_role,
)
from ..live import live_page
from ..models import Alert, Environment, NotificationDelivery, Role, Team, VectorNode
from ..schemas.api import PageQuery
from ..services import alerts as service
from ..services import notifications
from ..services.nodes import visible_environments
from ..services.tokens import admin_team_ids
from ..teams.forms import EmptyForm
from ..transactions import attempt
from . import bp
from .forms import ChannelForm, RuleForm

PER_PAGE = 50
NODE_CHOICES = 500


@bp.app_template_global("firing_alert_count")
def firing_alert_count() -> int:
    """The top bar's count: alerts of the user's teams firing now (not suppressed)."""
    return service.firing_count(current_user.team_ids())


@bp.app_template_global("rule_title")
def rule_title(name: str) -> str:
    rule = service.RULES.get(name)
    return rule.title if rule else name


@bp.app_template_global("node_alerts")
def node_alerts(node_id: str) -> list[Alert]:
    return service.node_alerts(node_id)


def _page() -> PageQuery:
    """The page of a list the ?cursor= asks for (a cursor not ours is a 400)."""
    return PageQuery.model_construct(cursor=request.args.get("cursor") or None, limit=PER_PAGE)


def _filters() -> dict:
    view = request.args.get("view", "firing")
    return {"view": view if view in service.VIEWS else "firing",
            "env": request.args.get("env", "").strip()[:40],
            "node": request.args.get("node", "").strip()[:40]}


@bp.get("/")
@require_login
@live_page
def index():
    filters = _filters()
    if filters["env"]:
        get_environment_or_404(filters["env"])
    scope = {"environment_id": filters["env"] or None, "node_id": filters["node"] or None}
    team_ids = current_user.team_ids()
    rows, next_cursor = paginate(
        service.alerts_query(team_ids, view=filters["view"], **scope), [Alert.id],
        _page(), descending=True)
    environments = visible_environments(current_user)
    nodes = db.session.execute(
        sa.select(VectorNode.id, VectorNode.name, Environment.name)
        .join(Environment, Environment.id == VectorNode.environment_id)
        .where(Environment.id.in_([e.id for e in environments]))
        .where(VectorNode.environment_id == filters["env"] if filters["env"] else sa.true())
        .order_by(Environment.name, VectorNode.name).limit(NODE_CHOICES)).all()
    return render_template(
        "alerts/index.html", rows=rows, next_cursor=next_cursor, filters=filters,
        counts=service.counts(team_ids, **scope), environments=environments, nodes=nodes,
        button=EmptyForm())


@bp.get("/count")
@require_login
def count():
    return render_template("alerts/_count.html")


@bp.post("/<serial:alert_id>/ack")
@require_login
def acknowledge(alert_id):
    alert = get_alert_or_404(alert_id, Role.EDITOR)
    if not EmptyForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    service.acknowledge(alert)
    flash(f"Acknowledged: {alert.subject}.", "success")
    back = request.form.get("next") or ""
    return redirect(back if back.startswith("/alerts") else url_for("alerts.index"))


# -- settings -----------------------------------------------------------------------------------


def _settings_page(env: Environment | None, status: int = 200, channel_form=None):
    teams = admin_team_ids(current_user)
    environments = [e for e in visible_environments(current_user)
                    if teams is None or e.team_id in teams]
    env = env or (environments[0] if environments else None)
    team_rows = db.session.scalars(
        sa.select(Team).where(Team.id.in_(teams) if teams is not None else sa.true())
        .order_by(Team.name)).all()
    form = channel_form or ChannelForm()
    form.team_id.choices = [SelectChoice(t.id, t.name) for t in team_rows]
    channels = db.session.scalars(notifications.channels_query(teams)
                                  .order_by(notifications.NotificationChannel.name)).all()
    return render_template(
        "alerts/settings.html", env=env, environments=environments,
        rules=service.rule_settings(env) if env else [], channels=channels,
        channel_form=form, button=EmptyForm(), smtp=notifications.smtp_configured(),
        destination=notifications.destination), status


@bp.get("/settings")
@require_role(Role.ADMIN)
def settings():
    env_id = request.args.get("env")
    return _settings_page(get_environment_or_404(env_id, Role.ADMIN) if env_id else None)


@bp.post("/settings/<env_id>/rules")
@require_login
def update_rule(env_id):
    env = get_environment_or_404(env_id, Role.ADMIN)
    form = RuleForm()
    if not form.validate_on_submit():
        flash("; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()), "error")
        return _settings_page(env, 400)
    _, err = attempt(service.update_rule, env, form.rule.data, enabled=form.enabled.data,
                     threshold_minutes=form.threshold_minutes.data)
    if err is not None:
        flash(err.message, "error")
        return _settings_page(env, err.status_code)
    flash(f"{rule_title(form.rule.data)}: saved for {env.name}.", "success")
    return redirect(url_for("alerts.settings", env=env.id))


@bp.post("/channels")
@require_role(Role.ADMIN)
def create_channel():
    form = ChannelForm()
    form.team_id.choices = [SelectChoice(form.team_id.data or "")]
    if not form.validate_on_submit():
        return _settings_page(None, 400, form)
    team = get_team_or_404(form.team_id.data, Role.ADMIN)
    channel, err = attempt(
        notifications.create_channel, team, type=form.type.data, name=form.name.data,
        url=form.url.data or None, to=form.to.data or None, secret=form.secret.data or None,
        rules=form.rules.data, events=form.events.data)
    if err is not None:
        flash(err.message, "error")
        return _settings_page(None, err.status_code, form)
    flash(f"Channel {channel.name} added.", "success")
    return redirect(url_for("alerts.channel", channel_id=channel.id))


@bp.get("/channels/<channel_id>")
@require_login
def channel(channel_id):
    channel = get_channel_or_404(channel_id)
    rows, next_cursor = paginate(
        notifications.deliveries_query(channel), [NotificationDelivery.id],
        _page(), descending=True)
    return render_template("alerts/channel.html", channel=channel, rows=rows,
                           next_cursor=next_cursor, button=EmptyForm(),
                           destination=notifications.destination(channel))


@bp.post("/channels/<channel_id>/test")
@require_login
def test_channel(channel_id):
    channel = get_channel_or_404(channel_id)
    if not EmptyForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    row = notifications.send_test(channel)
    if row.status == "delivered":
        flash(f"Test message delivered (HTTP {row.response_code}).", "success")
    else:
        flash(f"Test message failed: {row.last_error}", "error")
    return redirect(url_for("alerts.channel", channel_id=channel.id))
