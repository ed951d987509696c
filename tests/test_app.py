"""The application factory and configuration."""
from pathlib import Path

from vectorflow import create_app
from vectorflow.config import normalise_database_url


def test_factory_applies_test_config(app):
    assert app.testing
    assert app.config["SECRET_KEY"] == "test-secret-key-not-for-production"


def test_every_blueprint_is_registered(app):
    assert {"auth", "teams", "fleet", "nodes", "matrix", "agent", "api", "events"} <= set(app.blueprints)


def test_secret_key_is_generated_once_and_kept_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("VECTORFLOW_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    key_file = Path(tmp_path) / "secret_key"
    assert key_file.read_text().strip() == first
    assert key_file.stat().st_mode & 0o077 == 0


def test_environment_variables_configure_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("VECTORFLOW_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.internal/vf")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("VECTORFLOW_PUBLIC_URL", "https://vf.example.com/")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.internal/vf"
    assert app.config["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert app.config["VECTORFLOW_PUBLIC_URL"] == "https://vf.example.com"


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("VECTORFLOW_INSTANCE_PATH", str(tmp_path))
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/vectorflow.db"


def test_postgres_urls_use_psycopg3():
    assert normalise_database_url("postgres://a@b/c") == "postgresql+psycopg://a@b/c"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_session_cookie_is_httponly_and_samesite_lax(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
