"""Agent telemetry in the browser: log panels with a live tail, event samples, live taps."""
from flask import Blueprint, Flask

bp = Blueprint("telemetry", __name__)


def init_app(app: Flask) -> None:
    """Install the per-process tail hub and the retention sweep."""
    from ..services.telemetry import DEFAULTS, sweep_telemetry
    from ..sweeper import register_sweep
    from . import hub

    for key, default in DEFAULTS.items():
        app.config.setdefault(key, default)
    hub.init_app(app)
    register_sweep(sweep_telemetry)


from . import views  # noqa: F401
