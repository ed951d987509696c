"""environments.config_revision: the key of each process's cache of rendered agent configs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 20:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('environments', schema=None) as batch_op:
        # Existing environments start at 0; no cache holds anything yet when this runs.
        batch_op.add_column(sa.Column('config_revision', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('environments', schema=None) as batch_op:
        batch_op.drop_column('config_revision')
