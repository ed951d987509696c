"""Pipelines: list, create, edit the draft, deploy, undeploy, delete, versions."""
from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa
from flask import jsonify

from ..guards import get_environment_or_404, get_pipeline_or_404, require_login
from ..models import LogLevel, Pipeline, PipelineVersion, Role
from ..services import budgets
from ..services import pipelines as pipeline_service
from . import bp
from .common import in_environments, no_content, page_response
from .pagination import PAGE_FIELDS, paginate
from .serializers import pipeline_json, pipeline_version_json, ts
from .validation import Body, Field, Query

LOG_LEVELS = tuple(level.value for level in LogLevel)
CONFIG = Field("string", max_length=pipeline_service.MAX_CONFIG,
               description="The Vector config (YAML); SECRET[name] and CERT[name] refer to secrets.")

LIST_PIPELINES = Query(
    environmentId=Field("string", max_length=40),
    name=Field("string", max_length=pipeline_service.MAX_NAME, description="Exact name."),
    **PAGE_FIELDS,
)
CREATE_PIPELINE = Body(
    environmentId=Field("string", required=True, max_length=40),
    name=Field("string", required=True, max_length=pipeline_service.MAX_NAME),
    configYaml=replace(CONFIG, required=True),
    description=Field("string", max_length=pipeline_service.MAX_DESCRIPTION),
    logLevel=Field("string", choices=LOG_LEVELS, nullable=True),
)
UPDATE_PIPELINE = Body(
    name=Field("string", max_length=pipeline_service.MAX_NAME),
    configYaml=CONFIG,
    description=Field("string", max_length=pipeline_service.MAX_DESCRIPTION),
    logLevel=Field("string", choices=LOG_LEVELS, nullable=True,
                   description="null resets it to the agent's default."),
)
LIST_VERSIONS = Query(**PAGE_FIELDS)


BUDGET = Body(
    minAvailable=Field("integer", nullable=True, minimum=0, maximum=budgets.MAX_MIN_AVAILABLE),
    minAvailablePercent=Field("integer", nullable=True, minimum=0, maximum=100),
)
PATCH_PIPELINE = Body(
    disruptionBudget=Field(
        "object", required=True, nullable=True, fields=BUDGET,
        description='{"minAvailable": N} or {"minAvailablePercent": P}; null: the default (1).'),
)


def represent(pipeline: Pipeline) -> dict:
    return pipeline_json(pipeline, pipeline_service.latest_version(pipeline),
                         budgets.states([pipeline])[pipeline.id])


@bp.get("/pipelines")
@require_login
def list_pipelines():
    args = LIST_PIPELINES.parse()
    query = in_environments(sa.select(Pipeline), Pipeline.environment_id, args.get("environmentId"))
    if args.get("name"):
        query = query.where(Pipeline.name == args["name"])
    rows, cursor = paginate(query, [Pipeline.name, Pipeline.id], args)
    latest = pipeline_service.latest_versions(p.id for p in rows)
    budget = budgets.states(rows)
    return page_response(rows, cursor, lambda p: pipeline_json(p, latest.get(p.id), budget[p.id]))


@bp.post("/pipelines")
@require_login
def create_pipeline():
    data = CREATE_PIPELINE.parse()
    env = get_environment_or_404(data["environmentId"], Role.EDITOR)
    pipeline = pipeline_service.create_pipeline(
        env, data["name"], data["configYaml"], data.get("description", ""), data.get("logLevel"),
    )
    return jsonify(represent(pipeline)), 201


@bp.get("/pipelines/<pipeline_id>")
@require_login
def show_pipeline(pipeline_id):
    return jsonify(represent(get_pipeline_or_404(pipeline_id)))


@bp.put("/pipelines/<pipeline_id>")
@require_login
def update_pipeline(pipeline_id):
    pipeline = get_pipeline_or_404(pipeline_id, Role.EDITOR)
    data = UPDATE_PIPELINE.parse()
    log_level = data.get("logLevel", None)
    if "logLevel" in data and log_level is None:
        log_level = ""  # null: back to the default
    pipeline_service.update_draft(
        pipeline, config_yaml=data.get("configYaml"), description=data.get("description"),
        log_level=log_level, name=data.get("name"),
    )
    return jsonify(represent(pipeline))


@bp.patch("/pipelines/<pipeline_id>")
@require_login
def patch_pipeline(pipeline_id):
    """Set the pipeline's disruption budget (ADMIN: it decides who may take nodes down)."""
    pipeline = get_pipeline_or_404(pipeline_id, Role.ADMIN)
    data = PATCH_PIPELINE.parse()
    pipeline = budgets.set_budget(pipeline, budgets.parse_budget(data["disruptionBudget"]))
    return jsonify(represent(pipeline))


@bp.delete("/pipelines/<pipeline_id>")
@require_login
def delete_pipeline(pipeline_id):
    pipeline_service.delete_pipeline(get_pipeline_or_404(pipeline_id, Role.EDITOR))
    return no_content()


@bp.post("/pipelines/<pipeline_id>/deploy")
@require_login
def deploy_pipeline(pipeline_id):
    pipeline = get_pipeline_or_404(pipeline_id, Role.EDITOR)
    Body().parse()
    version = pipeline_service.deploy_pipeline(pipeline)
    return jsonify({"pipelineId": pipeline.id, "version": version.version,
                    "deployedAt": ts(pipeline.deployed_at)})


@bp.post("/pipelines/<pipeline_id>/undeploy")
@require_login
def undeploy_pipeline(pipeline_id):
    pipeline = get_pipeline_or_404(pipeline_id, Role.EDITOR)
    Body().parse()
    pipeline = pipeline_service.undeploy_pipeline(pipeline)
    return jsonify(represent(pipeline))


@bp.get("/pipelines/<pipeline_id>/versions")
@require_login
def list_versions(pipeline_id):
    pipeline = get_pipeline_or_404(pipeline_id)
    args = LIST_VERSIONS.parse()
    query = sa.select(PipelineVersion).where(PipelineVersion.pipeline_id == pipeline.id)
    rows, cursor = paginate(query, [PipelineVersion.version], args, descending=True)
    return page_response(rows, cursor, pipeline_version_json)
