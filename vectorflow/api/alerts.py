"""REST: alerts, their rules per environment, and the teams' notification channels."""
from __future__ import annotations

from flask import jsonify

from ..guards import (
    get_alert_or_404,
    get_channel_or_404,
    get_environment_or_404,
    get_node_or_404,
    get_team_or_404,
    require_login,
)
from ..models import Alert, NotificationChannel, NotificationDelivery, Role
from ..services import alerts as alert_service
from ..services import notifications
from . import bp
from .common import admin_teams, page_response, visible_team_ids
from .pagination import PAGE_FIELDS, paginate
from .serializers import alert_json, alert_rule_json, channel_json, delivery_json
from .validation import Body, Field, Query

# -- alerts --------------------------------------------------------------------------------

LIST_ALERTS = Query(
    state=Field("string", choices=("firing", "resolved")),
    suppressed=Field("boolean", description="true: only alerts recorded during maintenance."),
    environmentId=Field("string", max_length=40),
    nodeId=Field("string", max_length=40),
    **PAGE_FIELDS,
)


@bp.get("/alerts")
@require_login
def list_alerts():
    """List alerts, newest first."""
    args = LIST_ALERTS.parse()
    if args.get("environmentId"):
        get_environment_or_404(args["environmentId"])
    if args.get("nodeId"):
        get_node_or_404(args["nodeId"])
    query = alert_service.alerts_query(
        visible_team_ids(), state=args.get("state"), suppressed=args.get("suppressed"),
        environment_id=args.get("environmentId"), node_id=args.get("nodeId"))
    rows, cursor = paginate(query, [Alert.id], args, descending=True)
    return page_response(rows, cursor, alert_json)


@bp.post("/alerts/<alert_id>/ack")
@require_login
def acknowledge_alert(alert_id):
    """Acknowledge an alert (EDITOR); again changes nothing."""
    alert = get_alert_or_404(alert_id, Role.EDITOR)
    Body().parse()
    alert_service.acknowledge(alert)
    return jsonify(alert_json(alert))


# -- rules -----------------------------------------------------------------------------------

LIST_RULES = Query(environmentId=Field("string", required=True, max_length=40))
UPDATE_RULE = Body(
    environmentId=Field("string", required=True, max_length=40),
    rule=Field("string", required=True, choices=tuple(alert_service.RULES)),
    enabled=Field("boolean"),
    thresholdMinutes=Field("integer", minimum=0, maximum=alert_service.MAX_THRESHOLD),
)


@bp.get("/alert-rules")
@require_login
def list_alert_rules():
    """List the built-in rules as set for an environment."""
    env = get_environment_or_404(LIST_RULES.parse()["environmentId"])
    return page_response(alert_service.rule_settings(env), None, alert_rule_json)


@bp.patch("/alert-rules")
@require_login
def update_alert_rule():
    """Enable or disable a rule for an environment, or change its threshold (ADMIN)."""
    data = UPDATE_RULE.parse()
    env = get_environment_or_404(data["environmentId"], Role.ADMIN)
    setting = alert_service.update_rule(env, data["rule"], enabled=data.get("enabled"),
                                        threshold_minutes=data.get("thresholdMinutes"))
    return jsonify(alert_rule_json(setting))


# -- notification channels ---------------------------------------------------------------------

LIST_CHANNELS = Query(teamId=Field("string", max_length=40), **PAGE_FIELDS)
CREATE_CHANNEL = Body(
    teamId=Field("string", required=True, max_length=40),
    type=Field("string", required=True, choices=notifications.TYPES),
    name=Field("string", required=True, max_length=notifications.MAX_NAME),
    url=Field("string", max_length=notifications.MAX_URL,
              description="webhook and slack: where to POST (public addresses only, unless "
                          "the server allows private ones)."),
    to=Field("string", max_length=1000, description="email: addresses, comma-separated."),
    secret=Field("string", max_length=notifications.MAX_SECRET,
                 description="webhook: the HMAC-SHA256 signing key (16+ characters); stored "
                             "encrypted, never returned."),
    rules=Field("array", items=Field("string", choices=tuple(alert_service.RULES)),
                description="Rules whose alerts it receives (default: all)."),
    events=Field("array", items=Field("string", choices=notifications.EVENTS),
                 description="Maintenance events it receives (default: none)."),
    enabled=Field("boolean"),
)
LIST_DELIVERIES = Query(**PAGE_FIELDS)


@bp.get("/notification-channels")
@require_login
def list_channels():
    """List the notification channels of the teams where you are ADMIN."""
    args = LIST_CHANNELS.parse()
    teams = admin_teams(args.get("teamId"), "The list of notification channels")
    rows, cursor = paginate(notifications.channels_query(teams),
                            [NotificationChannel.name, NotificationChannel.id], args)
    return page_response(rows, cursor, channel_json)


@bp.post("/notification-channels")
@require_login
def create_channel():
    """Add a notification channel to a team (ADMIN)."""
    data = CREATE_CHANNEL.parse()
    team = get_team_or_404(data.pop("teamId"), Role.ADMIN)
    channel = notifications.create_channel(team, **data)
    return jsonify(channel_json(channel)), 201


@bp.post("/notification-channels/<channel_id>/test")
@require_login
def test_channel(channel_id):
    """Send a test message now; answers the delivery-log entry."""
    channel = get_channel_or_404(channel_id)
    Body().parse()
    return jsonify(delivery_json(notifications.send_test(channel)))


@bp.get("/notification-channels/<channel_id>/deliveries")
@require_login
def list_deliveries(channel_id):
    """The channel's delivery log, newest first."""
    channel = get_channel_or_404(channel_id)
    args = LIST_DELIVERIES.parse()
    rows, cursor = paginate(notifications.deliveries_query(channel), [NotificationDelivery.id],
                            args, descending=True)
    return page_response(rows, cursor, delivery_json)
