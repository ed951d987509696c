"""The vectorflow command line."""
import sqlalchemy as sa

from vectorflow.models import AuditLog, Environment, Role, User
from vectorflow.security import token_digest


def test_users_create_makes_a_user_who_can_log_in(runner, db):
    result = runner.invoke(args=["users", "create", "ops@example.com", "--password", "s3cret-pass",
                                 "--name", "Ops", "--superadmin"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "ops@example.com"))
    assert user.is_superadmin and user.check_password("s3cret-pass")


def test_errors_are_one_line_and_exit_non_zero(runner, db):
    runner.invoke(args=["users", "create", "ops@example.com", "--password", "s3cret-pass"])
    result = runner.invoke(args=["users", "create", "ops@example.com", "--password", "s3cret-pass"])
    assert result.exit_code != 0
    assert result.output.strip() == "Error: a user with email ops@example.com already exists"


def test_short_passwords_are_refused(runner, db):
    result = runner.invoke(args=["users", "create", "a@example.com", "--password", "short"])
    assert result.exit_code == 1 and "at least 8 characters" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_teams_and_members_from_the_cli(runner, db):
    runner.invoke(args=["users", "create", "dev@example.com", "--password", "s3cret-pass"])
    assert runner.invoke(args=["teams", "create", "Platform"]).exit_code == 0
    result = runner.invoke(args=["teams", "add-member", "Platform", "dev@example.com", "--role", "editor"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "dev@example.com"))
    team_id = user.memberships[0].team_id
    assert user.role_in(team_id) == Role.EDITOR


def test_unknown_role_team_or_user_is_a_clear_error(runner, db):
    runner.invoke(args=["teams", "create", "Platform"])
    bad_role = runner.invoke(args=["teams", "add-member", "Platform", "x@example.com", "--role", "king"])
    assert bad_role.exit_code != 0 and "unknown role 'king'" in bad_role.output
    no_team = runner.invoke(args=["teams", "add-member", "Nope", "x@example.com"])
    assert "no team named 'Nope'" in no_team.output
    no_user = runner.invoke(args=["teams", "add-member", "Platform", "x@example.com"])
    assert "no user with email" in no_user.output


def test_envs_create_and_enrollment_token_prints_the_token_last(runner, db):
    runner.invoke(args=["teams", "create", "Platform"])
    assert runner.invoke(args=["envs", "create", "production", "--team", "Platform"]).exit_code == 0
    result = runner.invoke(args=["envs", "enrollment-token", "production"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("vf_enroll_") and len(token) == len("vf_enroll_") + 64
    env = db.session.scalar(sa.select(Environment))
    assert env.enrollment_token_digest == token_digest(token)
    assert env.enrollment_token_hint == "****" + token[-4:]
    rows = db.session.scalars(sa.select(AuditLog)).all()
    assert all(token not in str((r.before, r.after, r.details)) for r in rows)


def test_envs_create_refuses_an_unknown_secret_backend(runner, db):
    runner.invoke(args=["teams", "create", "Platform"])
    result = runner.invoke(args=["envs", "create", "prod", "--team", "Platform", "--secret-backend", "s3"])
    assert result.exit_code != 0 and "secret backend must be one of" in result.output


def test_init_creates_a_first_admin_once(runner, db, app):
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0, first.output
    assert "created first admin admin@example.com" in first.output
    second = runner.invoke(args=["init"])
    assert second.exit_code == 0
    assert "admin login: admin@example.com" in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_simulate_takes_its_enrollment_token_from_a_file_or_the_environment_never_argv(
        runner, db, tmp_path, monkeypatch):
    from vectorflow.cli.simulate import enrollment_token

    monkeypatch.delenv("VF_TOKEN", raising=False)
    on_argv = runner.invoke(args=["simulate", "--url", "http://127.0.0.1:9", "--token", "vf_x"])
    assert on_argv.exit_code == 2 and "No such option '--token'" in on_argv.output
    missing = runner.invoke(args=["simulate", "--url", "http://127.0.0.1:9"])
    assert missing.exit_code == 2 and "--token-file PATH or in $VF_TOKEN" in missing.output
    path = tmp_path / "token"
    path.write_text("vf_enroll_abc\n")
    assert enrollment_token(str(path)) == "vf_enroll_abc"
    monkeypatch.setenv("VF_TOKEN", "vf_enroll_env")
    assert enrollment_token(None) == "vf_enroll_env"
