"""The deployment matrix: deployed pipelines x the nodes of one environment."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..guards import get_environment_or_404, require_login
from ..live import live_page
from ..models import NodePipelineStatus, Pipeline, PipelineVersion, VectorNode
from ..pagination import page_number, paginate
from ..services.config_render import cached_environment_pipelines
from ..services.nodes import visible_environments
from ..services.pipelines import latest_versions
from . import bp

NODES_PER_PAGE = 50


@dataclass(frozen=True)
class Cell:
    """One node's state for one pipeline: absent, ok, outdated (older version) or drift."""

    node_id: str
    pipeline_id: str
    state: str
    title: str
    status: str | None = None  # the reported process status, e.g. "RUNNING"
    version: int | None = None  # the version the node runs


def build_cell(node_id: str, pipeline: Pipeline, reported: sa.Row | None,
               latest: PipelineVersion | None, expected_checksum: str | None) -> Cell:
    """Classify what a node runs for a pipeline against what is deployed.

    ``reported`` has the node's version, status (a plain string) and config_checksum.
    """
    if reported is None:
        return Cell(node_id, pipeline.id, "absent", "Not running on this node")
    status, version = reported.status, reported.version
    title = f"{status.title()} · v{version}"
    state = "ok"
    if latest is not None and version < latest.version:
        state = "outdated"
        title += f" · Deployed v{version}, latest v{latest.version}"
    elif (expected_checksum and reported.config_checksum and latest is not None
          and version == latest.version and reported.config_checksum != expected_checksum):
        state = "drift"
        title += (f" · config checksum {reported.config_checksum[:12]}… differs from the "
                  f"deployed {expected_checksum[:12]}…")
    return Cell(node_id, pipeline.id, state, title, status, version)


def _expected_checksums(env) -> dict[str, str]:
    """Return the checksum agents are sent for each deployed pipeline of ``env``."""
    try:
        return {e.pipeline_id: e.checksum for e in cached_environment_pipelines(env)}
    except ValueError:  # a secret cannot be decrypted: compare versions only
        return {}


@bp.get("/")
@require_login
def index():
    environments = visible_environments(current_user)
    wanted = request.args.get("env")
    env = next((e for e in environments if e.id == wanted), None) or (
        environments[0] if environments else None)
    if env is None:
        return render_template("matrix/show.html", environment=None, environments=[])
    return redirect(url_for("matrix.show", env_id=env.id))


@bp.get("/<env_id>")
@require_login
@live_page
def show(env_id):
    env = get_environment_or_404(env_id)
    pipelines = db.session.scalars(
        sa.select(Pipeline).where(Pipeline.environment_id == env.id, Pipeline.deployed.is_(True))
        .order_by(Pipeline.name, Pipeline.id)
    ).all()
    latest = latest_versions(p.id for p in pipelines)
    nodes = paginate(
        sa.select(VectorNode).where(VectorNode.environment_id == env.id)
        .order_by(VectorNode.name, VectorNode.id),
        page_number(request.args.get("page")), NODES_PER_PAGE, key=VectorNode.id,
    )
    node_ids = [n.id for n in nodes.items]
    # Only the columns a cell needs: up to 50 x 100 rows, so no JSON (logs, metrics) is loaded.
    statuses = {
        (s.node_id, s.pipeline_id): s for s in db.session.execute(
            sa.select(NodePipelineStatus.node_id, NodePipelineStatus.pipeline_id,
                      NodePipelineStatus.version,
                      # the stored name ("RUNNING") as a plain string: enum objects are slow x 5000
                      sa.type_coerce(NodePipelineStatus.status, sa.String).label("status"),
                      NodePipelineStatus.config_checksum)
            .where(NodePipelineStatus.node_id.in_(node_ids))
        )
    } if node_ids and pipelines else {}
    expected = _expected_checksums(env) if statuses else {}
    rows = [
        (p, latest.get(p.id), [
            build_cell(n.id, p, statuses.get((n.id, p.id)), latest.get(p.id), expected.get(p.id))
            for n in nodes.items
        ])
        for p in pipelines
    ]
    return render_template("matrix/show.html", environment=env,
                           environments=visible_environments(current_user), nodes=nodes,
                           rows=rows)
