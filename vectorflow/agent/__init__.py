"""The agent wire protocol (see shared/agent-protocol.md): JSON only, bearer node tokens."""
from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("agent", __name__, url_prefix="/api/agent")
csrf.exempt(bp)

from . import views  # noqa: E402,F401
from . import push  # noqa: E402,F401
from . import telemetry  # noqa: E402,F401
