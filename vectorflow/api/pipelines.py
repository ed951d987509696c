"""Pipelines: list, create, edit the draft, deploy, undeploy, delete, versions."""
from __future__ import annotations

import sqlalchemy as sa

from ..guards import get_environment_or_404, get_pipeline_or_404, require_login
from ..models import Pipeline, PipelineVersion, Role
from ..schemas import api as models
from ..schemas.base import page_response, parse_body, parse_query, respond
from ..services import budgets
from ..services import pipelines as pipeline_service
from . import bp
from .common import in_environments, no_content
from .pagination import paginate


def represent(pipeline: Pipeline) -> models.Pipeline:
    return models.Pipeline.of(pipeline, latest=pipeline_service.latest_version(pipeline),
                              budget=budgets.states([pipeline])[pipeline.id])


@bp.get("/pipelines")
@require_login
def list_pipelines():
    args = parse_query(models.ListPipelines)
    query = in_environments(sa.select(Pipeline), Pipeline.environment_id, args.environment_id)
    if args.name:
        query = query.where(Pipeline.name == args.name)
    rows, cursor = paginate(query, [Pipeline.name, Pipeline.id], args)
    latest = pipeline_service.latest_versions(p.id for p in rows)
    budget = budgets.states(rows)
    return page_response(rows, cursor, models.Pipeline, latest=lambda p: latest.get(p.id),
                         budget=lambda p: budget[p.id])


@bp.post("/pipelines")
@require_login
def create_pipeline():
    body = parse_body(models.CreatePipeline)
    env = get_environment_or_404(body.environment_id, Role.EDITOR)
    pipeline = pipeline_service.create_pipeline(
        env, body.name, body.config_yaml, body.description or "", body.log_level,
    )
    return respond(represent(pipeline), 201)


@bp.get("/pipelines/<id:pipeline_id>")
@require_login
def show_pipeline(pipeline_id):
    return respond(represent(get_pipeline_or_404(pipeline_id)))


@bp.put("/pipelines/<id:pipeline_id>")
@require_login
def update_pipeline(pipeline_id):
    pipeline = get_pipeline_or_404(pipeline_id, Role.EDITOR)
    body = parse_body(models.UpdatePipeline)
    log_level = body.log_level
    if "log_level" in body.model_fields_set and log_level is None:
        log_level = ""  # null: back to the default
    pipeline_service.update_draft(
        pipeline, config_yaml=body.config_yaml, description=body.description,
        log_level=log_level, name=body.name,
    )
    return respond(represent(pipeline))


@bp.patch("/pipelines/<id:pipeline_id>")
@require_login
def patch_pipeline(pipeline_id):
    """Set the pipeline's disruption budget (ADMIN: it decides who may take nodes down)."""
    pipeline = get_pipeline_or_404(pipeline_id, Role.ADMIN)
    body = parse_body(models.PatchPipeline)
    pipeline = budgets.set_budget(pipeline, body.budget())
    return respond(represent(pipeline))


@bp.delete("/pipelines/<id:pipeline_id>")
@require_login
def delete_pipeline(pipeline_id):
    pipeline_service.delete_pipeline(get_pipeline_or_404(pipeline_id, Role.EDITOR))
    return no_content()


@bp.post("/pipelines/<id:pipeline_id>/deploy")
@require_login
def deploy_pipeline(pipeline_id):
    pipeline = get_pipeline_or_404(pipeline_id, Role.EDITOR)
    parse_body(models.Empty)
    version = pipeline_service.deploy_pipeline(pipeline)
    return respond(models.Deployment(pipeline_id=pipeline.id, version=version.version,
                                     deployed_at=pipeline.deployed_at))


@bp.post("/pipelines/<id:pipeline_id>/undeploy")
@require_login
def undeploy_pipeline(pipeline_id):
    pipeline = get_pipeline_or_404(pipeline_id, Role.EDITOR)
    parse_body(models.Empty)
    pipeline = pipeline_service.undeploy_pipeline(pipeline)
    return respond(represent(pipeline))


@bp.get("/pipelines/<id:pipeline_id>/versions")
@require_login
def list_versions(pipeline_id):
    pipeline = get_pipeline_or_404(pipeline_id)
    args = parse_query(models.PageQuery)
    query = sa.select(PipelineVersion).where(PipelineVersion.pipeline_id == pipeline.id)
    rows, cursor = paginate(query, [PipelineVersion.version], args, descending=True)
    return page_response(rows, cursor, models.PipelineVersion)
