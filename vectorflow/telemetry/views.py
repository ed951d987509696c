"""Log panels (node and pipeline pages) with a live tail, event samples and live taps.

Panels are fragments the pages load with htmx; tails and taps are event streams of their
own (static/js/telemetry.js), fed by the per-process hub (telemetry/hub.py) with no
database session held while they stream.
"""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import transactions
from ..events.views import header_cursor
from ..extensions import db
from ..guards import get_node_or_404, get_pipeline_or_404, require_login
from ..live import event_stream_response
from ..models import Role, Tap, TapStatus, VectorNode, utcnow
from ..services import telemetry as service
from ..services.actors import Actor, current_actor
from ..transactions import attempt
from . import bp
from .forms import SampleForm, TapForm
from .hub import Tail, get_hub, tail_stream

LEVEL_CHOICES = ["", "TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
PANEL_LINES = 200


def _filters() -> dict:
    """Read the panel's filters (level, q, pipelineId) from the query string, cleaned."""
    level = request.args.get("level") or None
    if level not in LEVEL_CHOICES:
        level = None
    q = (request.args.get("q") or "").strip()[:200] or None
    pipeline_id = request.args.get("pipelineId") or None
    return {"level": level, "q": q, "pipeline_id": pipeline_id}


def _stream_settings() -> tuple[float, float]:
    config = current_app.config
    return float(config["VECTORFLOW_SSE_KEEPALIVE"]), float(config["VECTORFLOW_SSE_MAX_AGE"])


def _after() -> int:
    cursor = header_cursor()
    if cursor is None:
        raw = request.args.get("after") or "0"
        cursor = int(raw) if raw.isdigit() and len(raw) <= 19 else 0
    return cursor


def _lines_message(items: list[tuple[int, str]]) -> bytes:
    return (f"id: {items[-1][0]}\nevent: lines\n"
            f"data: [{','.join(data for _, data in items)}]\n\n").encode()


def open_log_tail(*, level: str | None, q: str | None, after: int, **scope):
    """Stream new lines of a node or pipeline (``scope``) after line ``after``, filtered;
    the caller has checked access. Shared with GET /api/v1/nodes/<id>/logs/stream."""
    from .hub import line_json

    tail = Tail(levels=service.levels_from(level), q=q, after=after,
                capacity=get_hub().capacity, **scope)
    # The lines since the panel was rendered, from the database, then the hub's.
    backlog = service.lines_after(tail.after, limit=1000, node_id=tail.node_id,
                                  pipeline_id=tail.pipeline_id, level=level, q=q)
    first = b"retry: 3000\n\n"
    if backlog:
        tail.after = backlog[-1].id
        first += _lines_message([(row.id, line_json(row)) for row in backlog])
    hub = get_hub()
    hub.open(tail)
    keepalive, max_age = _stream_settings()
    db.session.close()  # nothing below touches the database while the stream is open
    return event_stream_response(tail_stream(hub, tail, first, render=_lines_message,
                                             keepalive=keepalive, max_age=max_age))


def _open_log_tail(**scope):
    filters = _filters()
    return open_log_tail(level=filters["level"], q=filters["q"], after=_after(), **scope)


# -- node page --------------------------------------------------------------------------------


@bp.get("/nodes/<id:node_id>/logs")
@require_login
def node_logs(node_id):
    """The node page's log panel: recent lines, level filter, search, live tail."""
    node = get_node_or_404(node_id)
    filters = _filters()
    pipelines = sorted({s.pipeline for s in node.pipeline_statuses}, key=lambda p: p.name)
    lines = service.recent_lines(PANEL_LINES, node_id=node.id, **filters)
    names = {p.id: p.name for p in pipelines}
    template = "telemetry/_node_logs.html" if request.headers.get("HX-Request") \
        else "telemetry/node_logs.html"
    return render_template(template, node=node, lines=lines, filters=filters,
                           pipelines=pipelines, pipeline_names=names,
                           levels=LEVEL_CHOICES, newest=lines[-1].id if lines else
                           service.newest_log_id())


@bp.get("/nodes/<id:node_id>/logs/stream")
@require_login
def node_log_stream(node_id):
    """Stream the node's new log lines (filtered as the panel is)."""
    node = get_node_or_404(node_id)
    return _open_log_tail(node_id=node.id, pipeline_id=_filters()["pipeline_id"])


# -- pipeline page ----------------------------------------------------------------------------


def _pipeline_context(pipeline, sample_form=None, tap_form=None, tap=None):
    environment = pipeline.environment
    nodes = db.session.scalars(sa.select(VectorNode).where(
        VectorNode.environment_id == environment.id).order_by(VectorNode.name)).all()
    keys = service.component_keys(pipeline)
    sample_form = sample_form or SampleForm()
    sample_form.component_key.choices = keys
    tap_form = tap_form or TapForm()
    tap_form.component_id.choices = keys
    tap_form.node_id.choices = [(n.id, n.name) for n in nodes if not n.maintenance_mode]
    sample = service.latest_sample(pipeline.id)
    return {
        "pipeline": pipeline, "environment": environment, "nodes": nodes,
        "node_names": {n.id: n.name for n in nodes},
        "in_maintenance": [n for n in nodes if n.maintenance_mode],
        "sample_form": sample_form, "tap_form": tap_form, "sample": sample,
        "fields": service.inferred_fields(sample) if sample else [],
        "tap": tap, "components": keys,
    }


@bp.get("/pipelines/<id:pipeline_id>/telemetry")
@require_login
def pipeline_panel(pipeline_id):
    """The pipeline page's panel: logs of every node, samples and taps."""
    pipeline = get_pipeline_or_404(pipeline_id)
    filters = _filters()
    filters["pipeline_id"] = pipeline.id
    lines = service.recent_lines(PANEL_LINES, **filters)
    return render_template("telemetry/_pipeline.html", lines=lines, filters=filters,
                           levels=LEVEL_CHOICES,
                           newest=lines[-1].id if lines else service.newest_log_id(),
                           **_pipeline_context(pipeline))


@bp.get("/pipelines/<id:pipeline_id>/logs/stream")
@require_login
def pipeline_log_stream(pipeline_id):
    """Stream the pipeline's new log lines from every node."""
    pipeline = get_pipeline_or_404(pipeline_id)
    return _open_log_tail(pipeline_id=pipeline.id)


@bp.get("/pipelines/<id:pipeline_id>/samples/latest")
@require_login
def latest_sample(pipeline_id):
    """The sample part of the panel (refreshed when an answer arrives)."""
    pipeline = get_pipeline_or_404(pipeline_id)
    return render_template("telemetry/_sample.html", **_pipeline_context(pipeline))


@bp.post("/pipelines/<id:pipeline_id>/samples")
@require_login
def request_sample(pipeline_id):
    """Ask the agents running the pipeline for a sample of a component's events (EDITOR)."""
    pipeline = get_pipeline_or_404(pipeline_id, Role.EDITOR)
    form = SampleForm()
    form.component_key.choices = service.component_keys(pipeline)
    if not form.validate():
        return render_template("telemetry/_sample.html",
                               **_pipeline_context(pipeline, sample_form=form)), 400
    _, err = attempt(service.request_sample, pipeline, form.component_key.data, form.limit.data,
                     current_actor())
    if err is not None:
        form.component_key.errors = [err.message]
        return render_template("telemetry/_sample.html",
                               **_pipeline_context(pipeline, sample_form=form)), err.status_code
    if not request.headers.get("HX-Request"):
        flash("Sample requested: the agents answer within seconds.", "success")
        return redirect(url_for("pipelines.show", pipeline_id=pipeline.id))
    return render_template("telemetry/_sample.html", **_pipeline_context(pipeline))


@bp.post("/pipelines/<id:pipeline_id>/taps")
@require_login
def start_tap(pipeline_id):
    """Start a live tap of a component on one node (EDITOR)."""
    pipeline = get_pipeline_or_404(pipeline_id, Role.EDITOR)
    context = _pipeline_context(pipeline, tap_form=TapForm())
    form = context["tap_form"]
    if not form.validate():
        return render_template("telemetry/_tap.html", **context), 400
    node = get_node_or_404(form.node_id.data, Role.EDITOR)
    tap, err = attempt(service.start_tap, node, pipeline, form.component_id.data,
                       current_actor())
    if err is not None:
        form.node_id.errors = [err.message]
        return render_template("telemetry/_tap.html", **context), err.status_code
    context["tap"] = tap
    return render_template("telemetry/_tap.html", **context)


def _get_tap_or_404(tap_id: str, min_role: Role = Role.VIEWER) -> Tap:
    tap = db.session.get(Tap, tap_id)
    if tap is None:
        abort(404)
    get_node_or_404(tap.node_id, min_role)  # the team check: another team's tap is 404
    return tap


@bp.post("/taps/<id:tap_id>/stop")
@require_login
def stop_tap(tap_id):
    """Stop a tap (EDITOR)."""
    tap = _get_tap_or_404(tap_id, Role.EDITOR)
    service.stop_tap(tap, "stopped_by_user", current_actor())
    pipeline = get_pipeline_or_404(tap.pipeline_id)
    return render_template("telemetry/_tap.html", **_pipeline_context(pipeline, tap=tap))


def _tap_message(items: list[tuple[int, str]]) -> bytes:
    out = []
    for item_id, data in items:
        if item_id < 0:
            out.append(f"event: stopped\ndata: {data}\n\n")
        else:
            out.append(f"id: {item_id}\nevent: events\ndata: {data}\n\n")
    return "".join(out).encode()


@bp.get("/taps/<id:tap_id>/stream")
@require_login
def tap_stream(tap_id):
    """Stream a tap's events; leaving (closing the stream) or its time limit stops it."""
    tap = _get_tap_or_404(tap_id)
    hub = get_hub()
    first = b"retry: 3000\n\n"
    if tap.status != TapStatus.ACTIVE:
        first += _tap_message([(-1, json.dumps({"reason": tap.stop_reason}))])
        return event_stream_response(iter([first]))
    tail = Tail(tap_id=tap.id, after=_after(), capacity=hub.capacity)
    backlog = service.tap_events_after(tap.id, tail.after)
    if backlog:
        first += _tap_message([(b.id, json.dumps(b.events, separators=(",", ":")))
                               for b in backlog])
        tail.after = backlog[-1].id
    hub.open(tail)
    keepalive, _ = _stream_settings()
    remaining = max(0.0, (tap.expires_at - utcnow()).total_seconds())
    app, tap_id = current_app._get_current_object(), tap.id
    db.session.close()

    def leave():
        # The browser left, the tap stopped or its time ran out: stop it if it still runs.
        with app.app_context():
            def stop():
                running = db.session.get(Tap, tap_id)
                if running is not None and running.status == TapStatus.ACTIVE:
                    reason = "time_limit" if running.expires_at <= utcnow() + timedelta(
                        seconds=1) else "viewer_left"
                    service.stop_tap(running, reason, Actor.system())
            transactions.run(stop)
            db.session.remove()

    # Short keep-alives: a browser that left is noticed (and its tap stopped) within seconds.
    return event_stream_response(tail_stream(
        hub, tail, first, render=_tap_message, keepalive=min(keepalive, 2.0),
        max_age=remaining, on_close=leave,
        last=_tap_message([(-1, json.dumps({"reason": "time_limit"}))])))
