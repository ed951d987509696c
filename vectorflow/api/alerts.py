"""REST: alerts, their rules per environment, and the teams' notification channels."""
from __future__ import annotations

from ..guards import (
    get_alert_or_404,
    get_channel_or_404,
    get_environment_or_404,
    get_node_or_404,
    get_team_or_404,
    require_login,
)
from ..models import Alert, NotificationChannel, NotificationDelivery, Role
from ..schemas import api as models
from ..schemas.base import page_response, parse_body, parse_query, respond
from ..services import alerts as alert_service
from ..services import notifications
from . import bp
from .common import admin_teams, visible_team_ids
from .pagination import paginate

# -- alerts --------------------------------------------------------------------------------


@bp.get("/alerts")
@require_login
def list_alerts():
    """List alerts, newest first."""
    args = parse_query(models.ListAlerts)
    if args.environment_id:
        get_environment_or_404(args.environment_id)
    if args.node_id:
        get_node_or_404(args.node_id)
    query = alert_service.alerts_query(
        visible_team_ids(), state=args.state, suppressed=args.suppressed,
        environment_id=args.environment_id, node_id=args.node_id)
    rows, cursor = paginate(query, [Alert.id], args, descending=True)
    return page_response(rows, cursor, models.Alert)


@bp.post("/alerts/<serial:alert_id>/ack")
@require_login
def acknowledge_alert(alert_id):
    """Acknowledge an alert (EDITOR); again changes nothing."""
    alert = get_alert_or_404(alert_id, Role.EDITOR)
    parse_body(models.Empty)
    alert_service.acknowledge(alert)
    return respond(models.Alert.of(alert))


# -- rules -----------------------------------------------------------------------------------


@bp.get("/alert-rules")
@require_login
def list_alert_rules():
    """List the built-in rules as set for an environment."""
    env = get_environment_or_404(parse_query(models.ListRules).environment_id)
    return page_response(alert_service.rule_settings(env), None, models.AlertRule)


@bp.patch("/alert-rules")
@require_login
def update_alert_rule():
    """Enable or disable a rule for an environment, or change its threshold (ADMIN)."""
    body = parse_body(models.AlertRuleChange)
    env = get_environment_or_404(body.environment_id, Role.ADMIN)
    setting = alert_service.update_rule(env, body.rule, enabled=body.enabled,
                                        threshold_minutes=body.threshold_minutes)
    return respond(models.AlertRule.of(setting))


# -- notification channels ---------------------------------------------------------------------


@bp.get("/notification-channels")
@require_login
def list_channels():
    """List the notification channels of the teams where you are ADMIN."""
    args = parse_query(models.ListChannels)
    teams = admin_teams(args.team_id, "The list of notification channels")
    rows, cursor = paginate(notifications.channels_query(teams),
                            [NotificationChannel.name, NotificationChannel.id], args)
    return page_response(rows, cursor, models.NotificationChannel)


@bp.post("/notification-channels")
@require_login
def create_channel():
    """Add a notification channel to a team (ADMIN)."""
    body = parse_body(models.CreateChannel)
    team = get_team_or_404(body.team_id, Role.ADMIN)
    channel = notifications.create_channel(
        team, **body.model_dump(exclude_unset=True, exclude={"team_id"}))
    return respond(models.NotificationChannel.of(channel), 201)


@bp.post("/notification-channels/<id:channel_id>/test")
@require_login
def test_channel(channel_id):
    """Send a test message now; answers the delivery-log entry."""
    channel = get_channel_or_404(channel_id)
    parse_body(models.Empty)
    return respond(models.NotificationDelivery.of(notifications.send_test(channel)))


@bp.get("/notification-channels/<id:channel_id>/deliveries")
@require_login
def list_deliveries(channel_id):
    """The channel's delivery log, newest first."""
    channel = get_channel_or_404(channel_id)
    args = parse_query(models.PageQuery)
    rows, cursor = paginate(notifications.deliveries_query(channel), [NotificationDelivery.id],
                            args, descending=True)
    return page_response(rows, cursor, models.NotificationDelivery)
