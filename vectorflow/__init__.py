"""VectorFlow: a control plane for fleets of Vector agents."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


class VectorFlow(Flask):
    """Flask whose every view runs in one transaction, committed or retried in one place."""

    def dispatch_request(self):
        from .transactions import run

        view = super().dispatch_request
        # An error answer changes nothing: 4xx and 5xx responses roll back.
        return run(lambda: self.make_response(view()), keep=lambda r: r.status_code < 400)


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the VectorFlow app."""
    app = VectorFlow(
        __name__,
        instance_path=os.environ.get("VECTORFLOW_INSTANCE_PATH") or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    configure(app, test_config)
    register_wrappers(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def configure(app: Flask, test_config: dict | None) -> None:
    from .config import from_environment, load_secret_key

    app.config.from_mapping(from_environment(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(app.instance_path)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:///:memory:"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)


def register_wrappers(app: Flask) -> None:
    from . import wrappers

    wrappers.init_app(app)


def register_extensions(app: Flask) -> None:
    from . import db_setup
    from .extensions import csrf, db, login_manager, migrate
    from .services import config_render, events, heartbeats, poll_cache, samples

    db.init_app(app)
    db_setup.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    events.init_app(app)
    config_render.init_app(app)
    heartbeats.init_app(app)
    samples.init_app(app)

    from . import live

    live.init_app(app)
    poll_cache.init_app(app)  # fed by the broker's live feed

    from . import sweeper

    sweeper.init_app(app)

    from . import telemetry

    telemetry.init_app(app)

    from .auth import principals, throttle

    principals.init_app(app)
    throttle.init_app(app)

    from . import http_security

    http_security.init_app(app)


def register_blueprints(app: Flask) -> None:
    from .schemas.base import IdConverter, SerialConverter

    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["serial"] = SerialConverter

    from .agent import bp as agent_bp
    from .alerts import bp as alerts_bp
    from .api import bp as api_bp
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .events import bp as events_bp
    from .fleet import bp as fleet_bp
    from .maintenance import bp as maintenance_bp
    from .matrix import bp as matrix_bp
    from .nodes import bp as nodes_bp
    from .pipelines import bp as pipelines_bp
    from .teams import bp as teams_bp
    from .tokens import bp as tokens_bp

    for bp in (auth_bp, teams_bp, fleet_bp, nodes_bp, matrix_bp, agent_bp, api_bp, events_bp):
        app.register_blueprint(bp)
    app.register_blueprint(pipelines_bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(maintenance_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(alerts_bp)

    from .windows import bp as windows_bp

    app.register_blueprint(windows_bp)

    from .telemetry import bp as telemetry_bp

    app.register_blueprint(telemetry_bp)

    from .probes import bp as probes_bp

    app.register_blueprint(probes_bp)


def register_error_handlers(app: Flask) -> None:
    from .errors import register_error_handlers as install

    install(app)


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from . import templating

    templating.init_app(app)
