"""Chart series: a node's, a pipeline's, and the fleet table's sparklines."""
from __future__ import annotations

from flask_login import current_user
from pydantic.alias_generators import to_snake

from ..guards import get_node_or_404, get_pipeline_or_404, require_login
from ..schemas import samples as models
from ..schemas.base import parse_query, respond
from ..services import samples
from . import bp


def _fields(series: dict) -> dict:
    return {to_snake(key): value for key, value in series.items()}


@bp.get("/nodes/<id:node_id>/series")
@require_login
def node_series(node_id):
    args = parse_query(models.SeriesQuery)
    node = get_node_or_404(node_id)
    return respond(models.NodeSeries(**_fields(samples.node_series(node.id, args.range or "1h"))))


@bp.get("/pipelines/<id:pipeline_id>/series")
@require_login
def pipeline_series(pipeline_id):
    args = parse_query(models.SeriesQuery)
    pipeline = get_pipeline_or_404(pipeline_id)
    return respond(models.PipelineSeries(**_fields(
        samples.pipeline_series(pipeline.id, args.range or "1h"))))


@bp.get("/nodes/sparklines")
@require_login
def sparklines():
    args = parse_query(models.SparklinesQuery)
    visible = samples.visible_node_ids(current_user, args.ids)
    return respond(models.Sparklines(bucket_seconds=samples.bucket_seconds(),
                                     points=samples.SPARK_POINTS,
                                     nodes=samples.sparklines(visible)))
