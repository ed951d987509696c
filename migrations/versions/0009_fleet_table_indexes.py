"""Fleet table indexes: drift and errors filters, sorting by name, pruning by last seen

node_pipeline_statuses gets (pipeline_id, version) for the drift filter (one range probe per
deployed pipeline) and (status, node_id) for the errors filter (crashed pipelines);
vector_nodes gets name (the default sort) and last_seen (pruning nodes unseen for N days).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('node_pipeline_statuses', schema=None) as batch_op:
        batch_op.create_index('ix_node_pipeline_statuses_pipeline_id_version',
                              ['pipeline_id', 'version'], unique=False)
        batch_op.create_index('ix_node_pipeline_statuses_status_node_id',
                              ['status', 'node_id'], unique=False)
    with op.batch_alter_table('vector_nodes', schema=None) as batch_op:
        batch_op.create_index('ix_vector_nodes_name', ['name'], unique=False)
        batch_op.create_index('ix_vector_nodes_last_seen', ['last_seen'], unique=False)


def downgrade():
    with op.batch_alter_table('vector_nodes', schema=None) as batch_op:
        batch_op.drop_index('ix_vector_nodes_last_seen')
        batch_op.drop_index('ix_vector_nodes_name')
    with op.batch_alter_table('node_pipeline_statuses', schema=None) as batch_op:
        batch_op.drop_index('ix_node_pipeline_statuses_status_node_id')
        batch_op.drop_index('ix_node_pipeline_statuses_pipeline_id_version')
