"""Drop node_metrics: the chart samples (node_samples, 0008) hold what the node page shows
of a heartbeat's host metrics, and no page read node_metrics any more; every heartbeat batch
still wrote it.

The downgrade recreates the table as 0001 made it, empty.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:00:00

"""
from alembic import op
import sqlalchemy as sa

import vectorflow.models.base


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('node_metrics', schema=None) as batch_op:
        batch_op.drop_index('ix_node_metrics_node_id_created_at')

    op.drop_table('node_metrics')


def downgrade():
    op.create_table('node_metrics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.String(length=20), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['vector_nodes.id'], name=op.f('fk_node_metrics_node_id_vector_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_node_metrics'))
    )
    with op.batch_alter_table('node_metrics', schema=None) as batch_op:
        batch_op.create_index('ix_node_metrics_node_id_created_at', ['node_id', 'created_at'], unique=False)
