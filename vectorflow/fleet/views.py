"""The fleet table: every node the user can see, paginated and filtered server-side."""
from flask import g, has_request_context, render_template, request
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..guards import get_node_or_404, require_login
from ..live import live_page
from ..models import NodeStatus, VectorNode
from ..pagination import page_number, paginate, url_with
from ..services import nodes as node_service
from . import bp

PER_PAGE = 100
MAX_SEARCH = 100

bp.add_app_template_global(url_with, "url_with")


def _cutoff():
    """Return the unreachable cutoff, computed once per request (one settings query)."""
    if not has_request_context():
        return node_service.unreachable_cutoff()
    if "unreachable_cutoff" not in g:
        g.unreachable_cutoff = node_service.unreachable_cutoff()
    return g.unreachable_cutoff


@bp.app_template_global("node_status")
def node_status(node: VectorNode) -> NodeStatus:
    """Return the node's effective status for display (stale heartbeat -> Unreachable)."""
    return node_service.effective_status(node, _cutoff())


@bp.get("/")
@require_login
@live_page
def index():
    environments = node_service.visible_environments(current_user)
    env_id = request.args.get("env", "")
    if env_id not in {env.id for env in environments}:
        env_id = ""
    try:
        status = NodeStatus(request.args.get("status", "").upper())
    except ValueError:
        status = None
    search = request.args.get("q", "").strip()[:MAX_SEARCH]
    cutoff = _cutoff()

    unfiltered = node_service.visible_nodes(current_user, environment_id=env_id, search=search)
    counts = node_service.status_counts(unfiltered, cutoff)
    query = node_service.visible_nodes(current_user, environment_id=env_id, status=status,
                                       search=search, cutoff=cutoff)
    page = paginate(query, page_number(request.args.get("page")), PER_PAGE,
                    options=(selectinload(VectorNode.environment),), key=VectorNode.id)
    return render_template(
        "fleet/index.html", page=page, nodes=page.items, environments=environments,
        counts=counts, filters={"env": env_id, "status": status.value if status else "", "q": search},
    )


@bp.get("/fleet/rows/<node_id>")
@require_login
def row(node_id):
    """Render one fleet row (live updates re-fetch rows one at a time)."""
    return render_template("fleet/_row.html", node=get_node_or_404(node_id))
