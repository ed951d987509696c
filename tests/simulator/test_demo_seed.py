"""`vectorflow demo` seeds a demo fleet once; running it again changes nothing."""
import sqlalchemy as sa

from vectorflow.models import AuditLog, Environment, Pipeline, Role, Secret, Team, TeamMember

from .. import factories


def counts(db):
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Team, Environment, Pipeline, Secret, TeamMember, AuditLog)}


def test_demo_creates_a_team_with_three_deployed_pipelines_and_its_admin(app, db, runner):
    admin = factories.make_user("admin@example.com", superadmin=True)
    db.session.commit()
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    team = db.session.scalar(sa.select(Team).where(Team.name == "Demo"))
    env = team.environments[0]
    assert env.enrollment_token_digest
    assert [p.deployed for p in env.pipelines] == [True, True, True]
    assert any("SECRET[" in p.versions[0].config_yaml for p in env.pipelines)
    assert [s.name for s in env.secrets] == ["demo-ingest-token"]
    assert admin.role_in(team.id) == Role.ADMIN
    assert db.session.scalar(sa.select(TeamMember.role).where(TeamMember.team_id == team.id,
                                                              TeamMember.user_id == admin.id)) \
        == Role.ADMIN
    assert "admin@example.com is ADMIN of Demo" in result.output


def test_running_demo_again_changes_nothing_and_keeps_the_enrollment_token(app, db, runner):
    factories.make_user("admin@example.com", superadmin=True)
    db.session.commit()
    assert runner.invoke(args=["demo"]).exit_code == 0
    before = counts(db)
    digest = db.session.scalar(sa.select(Environment.enrollment_token_digest))
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert "nothing new" in again.output
    db.session.expire_all()
    assert counts(db) == before
    assert db.session.scalar(sa.select(Environment.enrollment_token_digest)) == digest


def test_demo_without_any_user_still_seeds_the_fleet(app, db, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Pipeline)) == 3
