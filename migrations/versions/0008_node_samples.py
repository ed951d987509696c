"""Chart samples: node_samples and pipeline_samples, one row per bucket (services/samples.py)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:00:00

"""
from alembic import op
import sqlalchemy as sa

import vectorflow.models.base


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

UTC = vectorflow.models.base.UTCDateTime(timezone=True)


def _floats(*names, nullable=True):
    return [sa.Column(name, sa.Float(), nullable=nullable) for name in names]


def upgrade():
    op.create_table('node_samples',
    sa.Column('node_id', sa.String(length=20), nullable=False),
    sa.Column('bucket_start', UTC, nullable=False),
    sa.Column('sampled_at', UTC, nullable=False),
    *_floats('span', 'events_in', 'events_out', 'errors', nullable=False),
    *_floats('cpu_busy', 'cpu_total', 'net_rx', 'net_tx', 'mem_used', 'mem_total', 'fs_used',
             'fs_total', 'load1', 'load5', 'load15', 'last_cpu_total', 'last_cpu_idle',
             'last_net_rx', 'last_net_tx'),
    sa.ForeignKeyConstraint(['node_id'], ['vector_nodes.id'], name=op.f('fk_node_samples_node_id_vector_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('node_id', 'bucket_start', name=op.f('pk_node_samples'))
    )
    with op.batch_alter_table('node_samples', schema=None) as batch_op:
        batch_op.create_index('ix_node_samples_bucket_start', ['bucket_start'], unique=False)

    op.create_table('pipeline_samples',
    sa.Column('node_id', sa.String(length=20), nullable=False),
    sa.Column('pipeline_id', sa.String(length=20), nullable=False),
    sa.Column('bucket_start', UTC, nullable=False),
    sa.Column('sampled_at', UTC, nullable=False),
    *_floats('span', 'events_in', 'events_out', 'errors', nullable=False),
    *_floats('last_events_in', 'last_events_out', 'last_errors'),
    sa.ForeignKeyConstraint(['node_id'], ['vector_nodes.id'], name=op.f('fk_pipeline_samples_node_id_vector_nodes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_pipeline_samples_pipeline_id_pipelines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('node_id', 'pipeline_id', 'bucket_start', name=op.f('pk_pipeline_samples'))
    )
    with op.batch_alter_table('pipeline_samples', schema=None) as batch_op:
        batch_op.create_index('ix_pipeline_samples_bucket_start', ['bucket_start'], unique=False)
        batch_op.create_index('ix_pipeline_samples_pipeline_id_bucket_start', ['pipeline_id', 'bucket_start'], unique=False)


def downgrade():
    with op.batch_alter_table('pipeline_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_pipeline_samples_pipeline_id_bucket_start')
        batch_op.drop_index('ix_pipeline_samples_bucket_start')
    op.drop_table('pipeline_samples')
    with op.batch_alter_table('node_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_node_samples_bucket_start')
    op.drop_table('node_samples')
