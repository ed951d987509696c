"""At most one open maintenance period per node: repair duplicates, then a partial unique index

Races before this revision could leave a node with several open periods, or an open period
on a node that is no longer in maintenance. The repair closes, per node, every open period
but the newest at the time the newest began (they overlapped it), and closes the open period
of a node out of maintenance at the time of the migration; both as the system, exit AUTO.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 08:30:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

INDEX = 'uq_maintenance_periods_node_id_open'
REPAIRED_BY = 'system (migration 0004)'

periods = sa.table(
    'maintenance_periods',
    sa.column('id', sa.Integer), sa.column('node_id', sa.String), sa.column('entered_at'),
    sa.column('left_at', sa.DateTime(timezone=True)), sa.column('left_by_label', sa.String), sa.column('exit_kind', sa.Enum('MANUAL', 'AUTO', name='maintenance_exit_kind',
                                     create_type=False)),
)
nodes = sa.table('vector_nodes', sa.column('id', sa.String),
                 sa.column('maintenance_mode', sa.Boolean))


def repair_open_periods(connection) -> None:
    """Leave at most one open period per node, and none on a node out of maintenance."""
    newer = periods.alias('newer')
    newest_open = (
        sa.select(newer.c.id)
        .where(newer.c.node_id == periods.c.node_id, newer.c.left_at.is_(None))
        .order_by(newer.c.entered_at.desc(), newer.c.id.desc()).limit(1).scalar_subquery()
    )
    newest_entered = (
        sa.select(sa.func.max(newer.c.entered_at))
        .where(newer.c.node_id == periods.c.node_id, newer.c.left_at.is_(None))
        .scalar_subquery()
    )
    connection.execute(
        periods.update()
        .where(periods.c.left_at.is_(None), periods.c.id != newest_open)
        .values(left_at=newest_entered, left_by_label=REPAIRED_BY, exit_kind='AUTO')
    )
    now = datetime.now(timezone.utc)
    if connection.dialect.name == 'sqlite':  # stored naive, in UTC (models.base.UTCDateTime)
        now = now.replace(tzinfo=None)
    connection.execute(
        periods.update()
        .where(periods.c.left_at.is_(None), periods.c.node_id.in_(
            sa.select(nodes.c.id).where(nodes.c.maintenance_mode.is_(False))))
        .values(left_at=now,
                left_by_label=REPAIRED_BY, exit_kind='AUTO')
    )


def upgrade():
    repair_open_periods(op.get_bind())
    with op.batch_alter_table('maintenance_periods', schema=None) as batch_op:
        batch_op.create_index(INDEX, ['node_id'], unique=True,
                              postgresql_where=sa.text('left_at IS NULL'),
                              sqlite_where=sa.text('left_at IS NULL'))


def downgrade():
    with op.batch_alter_table('maintenance_periods', schema=None) as batch_op:
        batch_op.drop_index(INDEX, postgresql_where=sa.text('left_at IS NULL'),
                            sqlite_where=sa.text('left_at IS NULL'))
