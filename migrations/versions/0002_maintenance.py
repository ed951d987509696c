"""maintenance mode: node columns and the maintenance history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 17:33:13.340842

"""
from alembic import op
import sqlalchemy as sa

import vectorflow.models.base


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

drain_state = sa.Enum('DRAINING', 'DRAINED', 'RESUMING', name='drain_state')


def upgrade():
    op.create_table('maintenance_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.String(length=20), nullable=False),
    sa.Column('entered_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('entered_by_label', sa.String(length=254), nullable=False),
    sa.Column('entered_by_id', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('until', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('drained_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('drain_seconds', sa.Integer(), nullable=True),
    sa.Column('left_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('left_by_label', sa.String(length=254), nullable=True),
    sa.Column('left_by_id', sa.String(length=40), nullable=True),
    sa.Column('exit_kind', sa.Enum('MANUAL', 'AUTO', name='maintenance_exit_kind'), nullable=True),
    sa.Column('resumed_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['node_id'], ['vector_nodes.id'], name=op.f('fk_maintenance_periods_node_id_vector_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_periods'))
    )
    with op.batch_alter_table('maintenance_periods', schema=None) as batch_op:
        batch_op.create_index('ix_maintenance_periods_node_id_entered_at', ['node_id', 'entered_at'], unique=False)

    # add_column does not create enum types on PostgreSQL; create_table above does.
    drain_state.create(op.get_bind(), checkfirst=True)
    with op.batch_alter_table('vector_nodes', schema=None) as batch_op:
        # server_default: existing nodes are not in maintenance.
        batch_op.add_column(sa.Column('maintenance_mode', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('maintenance_mode_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('maintenance_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('maintenance_by_label', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('maintenance_by_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('maintenance_until', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('drain_state', drain_state, nullable=True))
        batch_op.add_column(sa.Column('drained_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True))
        # For the sweep that ends maintenance at its scheduled time.
        batch_op.create_index(batch_op.f('ix_vector_nodes_maintenance_until'), ['maintenance_until'], unique=False)


def downgrade():
    with op.batch_alter_table('vector_nodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vector_nodes_maintenance_until'))
        batch_op.drop_column('drained_at')
        batch_op.drop_column('drain_state')
        batch_op.drop_column('maintenance_until')
        batch_op.drop_column('maintenance_by_id')
        batch_op.drop_column('maintenance_by_label')
        batch_op.drop_column('maintenance_reason')
        batch_op.drop_column('maintenance_mode_at')
        batch_op.drop_column('maintenance_mode')

    with op.batch_alter_table('maintenance_periods', schema=None) as batch_op:
        batch_op.drop_index('ix_maintenance_periods_node_id_entered_at')

    op.drop_table('maintenance_periods')
    # PostgreSQL keeps enum types after their columns and tables are gone.
    for name in ("drain_state", "maintenance_exit_kind"):
        sa.Enum(name=name).drop(op.get_bind(), checkfirst=True)
