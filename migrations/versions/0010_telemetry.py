"""Agent telemetry: log lines (a bounded recent window), event sample requests, live taps
and their event batches.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 21:45:14.497775

"""
from alembic import op
import sqlalchemy as sa

import vectorflow.models.base


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('log_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('node_id', sa.String(length=20), nullable=False),
    sa.Column('pipeline_id', sa.String(length=20), nullable=False),
    sa.Column('logged_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('level', sa.String(length=5), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('received_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['vector_nodes.id'], name=op.f('fk_log_lines_node_id_vector_nodes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_log_lines_pipeline_id_pipelines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_lines')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('log_lines', schema=None) as batch_op:
        batch_op.create_index('ix_log_lines_node_id_id', ['node_id', 'id'], unique=False)
        batch_op.create_index('ix_log_lines_node_id_pipeline_id_id', ['node_id', 'pipeline_id', 'id'], unique=False)
        batch_op.create_index('ix_log_lines_pipeline_id_id', ['pipeline_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_log_lines_received_at'), ['received_at'], unique=False)

    op.create_table('sample_requests',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('environment_id', sa.String(length=20), nullable=False),
    sa.Column('pipeline_id', sa.String(length=20), nullable=False),
    sa.Column('component_keys', sa.JSON(), nullable=False),
    sa.Column('limit', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('PENDING', 'DONE', 'EXPIRED', name='sample_status'), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('requested_by_label', sa.String(length=254), nullable=False),
    sa.Column('created_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_sample_requests_environment_id_environments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_sample_requests_pipeline_id_pipelines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_requests'))
    )
    with op.batch_alter_table('sample_requests', schema=None) as batch_op:
        batch_op.create_index('ix_sample_requests_environment_id_status', ['environment_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_sample_requests_pipeline_id'), ['pipeline_id'], unique=False)

    op.create_table('taps',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('team_id', sa.String(length=20), nullable=False),
    sa.Column('node_id', sa.String(length=20), nullable=False),
    sa.Column('pipeline_id', sa.String(length=20), nullable=False),
    sa.Column('component_id', sa.String(length=100), nullable=False),
    sa.Column('status', sa.Enum('ACTIVE', 'STOPPED', name='tap_status'), nullable=False),
    sa.Column('started_by_label', sa.String(length=254), nullable=False),
    sa.Column('started_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stop_reason', sa.String(length=100), nullable=True),
    sa.Column('events_received', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['vector_nodes.id'], name=op.f('fk_taps_node_id_vector_nodes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_taps_pipeline_id_pipelines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_taps_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_taps'))
    )
    with op.batch_alter_table('taps', schema=None) as batch_op:
        batch_op.create_index('ix_taps_node_id_status', ['node_id', 'status'], unique=False)
        batch_op.create_index('ix_taps_status_expires_at', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_taps_team_id_status', ['team_id', 'status'], unique=False)

    op.create_table('tap_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tap_id', sa.String(length=20), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('received_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tap_id'], ['taps.id'], name=op.f('fk_tap_events_tap_id_taps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tap_events')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('tap_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tap_events_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tap_events_tap_id'), ['tap_id'], unique=False)



def downgrade():
    with op.batch_alter_table('tap_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tap_events_tap_id'))
        batch_op.drop_index(batch_op.f('ix_tap_events_received_at'))

    op.drop_table('tap_events')
    with op.batch_alter_table('taps', schema=None) as batch_op:
        batch_op.drop_index('ix_taps_team_id_status')
        batch_op.drop_index('ix_taps_status_expires_at')
        batch_op.drop_index('ix_taps_node_id_status')

    op.drop_table('taps')
    with op.batch_alter_table('sample_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sample_requests_pipeline_id'))
        batch_op.drop_index('ix_sample_requests_environment_id_status')

    op.drop_table('sample_requests')
    with op.batch_alter_table('log_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_lines_received_at'))
        batch_op.drop_index('ix_log_lines_pipeline_id_id')
        batch_op.drop_index('ix_log_lines_node_id_pipeline_id_id')
        batch_op.drop_index('ix_log_lines_node_id_id')

    op.drop_table('log_lines')
    if op.get_bind().dialect.name == 'postgresql':
        for name in ('sample_status', 'tap_status'):
            sa.Enum(name=name).drop(op.get_bind(), checkfirst=True)
