"""Maintenance windows (with one run row per occurrence) and per-pipeline disruption budgets

maintenance_windows and maintenance_window_runs are new; maintenance_periods learns which
window run holds a node (window_run_id, SET NULL when the window is deleted) and the window's
name (kept for the history); pipelines get min_available / min_available_percent (both NULL:
the default budget of 1, which is the coverage guard as it was).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 08:00:00

"""
from alembic import op
import sqlalchemy as sa

import vectorflow.models.base


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('maintenance_windows',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('environment_id', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('node_ids', sa.JSON(), nullable=True),
    sa.Column('selector', sa.JSON(), nullable=True),
    sa.Column('start_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('rrule', sa.String(length=500), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('next_start_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_label', sa.String(length=254), nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_maintenance_windows_environment_id_environments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_windows')),
    sa.UniqueConstraint('environment_id', 'name', name=op.f('uq_maintenance_windows_environment_id_name'))
    )
    with op.batch_alter_table('maintenance_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_windows_environment_id'), ['environment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_maintenance_windows_next_start_at'), ['next_start_at'], unique=False)

    op.create_table('maintenance_window_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.String(length=20), nullable=False),
    sa.Column('started_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('node_ids', sa.JSON(), nullable=False),
    sa.Column('skipped', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['window_id'], ['maintenance_windows.id'], name=op.f('fk_maintenance_window_runs_window_id_maintenance_windows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_window_runs'))
    )
    with op.batch_alter_table('maintenance_window_runs', schema=None) as batch_op:
        batch_op.create_index('ix_maintenance_window_runs_window_id_started_at', ['window_id', 'started_at'], unique=False)
        batch_op.create_index('uq_maintenance_window_runs_window_id_open', ['window_id'], unique=True, postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))

    with op.batch_alter_table('maintenance_periods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('window_run_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('window_name', sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f('ix_maintenance_periods_window_run_id'), ['window_run_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_maintenance_periods_window_run_id_maintenance_window_runs'), 'maintenance_window_runs', ['window_run_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_available', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('min_available_percent', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_pipelines_one_disruption_budget'),
            'min_available IS NULL OR min_available_percent IS NULL')


def downgrade():
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_pipelines_one_disruption_budget'), type_='check')
        batch_op.drop_column('min_available_percent')
        batch_op.drop_column('min_available')

    with op.batch_alter_table('maintenance_periods', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_maintenance_periods_window_run_id_maintenance_window_runs'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_maintenance_periods_window_run_id'))
        batch_op.drop_column('window_name')
        batch_op.drop_column('window_run_id')

    with op.batch_alter_table('maintenance_window_runs', schema=None) as batch_op:
        batch_op.drop_index('uq_maintenance_window_runs_window_id_open', postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index('ix_maintenance_window_runs_window_id_started_at')

    op.drop_table('maintenance_window_runs')
    with op.batch_alter_table('maintenance_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maintenance_windows_next_start_at'))
        batch_op.drop_index(batch_op.f('ix_maintenance_windows_environment_id'))

    op.drop_table('maintenance_windows')
