"""Alerts and notifications: rule settings per environment, alerts, channels and deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 07:49:12.658264

"""
from alembic import op
import sqlalchemy as sa

import vectorflow.models.base


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_channels',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('team_id', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=10), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('email_to', sa.String(length=1000), nullable=True),
    sa.Column('encrypted_secret', sa.Text(), nullable=True),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_notification_channels_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_channels')),
    sa.UniqueConstraint('team_id', 'name', name=op.f('uq_notification_channels_team_id_name'))
    )
    with op.batch_alter_table('notification_channels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_channels_team_id'), ['team_id'], unique=False)

    op.create_table('alert_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.String(length=20), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('threshold_minutes', sa.Integer(), nullable=False),
    sa.Column('updated_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_label', sa.String(length=254), nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_alert_rules_environment_id_environments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rules')),
    sa.UniqueConstraint('environment_id', 'rule', name=op.f('uq_alert_rules_environment_id_rule'))
    )
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('suppressed', sa.Boolean(), nullable=False),
    sa.Column('environment_id', sa.String(length=20), nullable=False),
    sa.Column('node_id', sa.String(length=20), nullable=True),
    sa.Column('pipeline_id', sa.String(length=20), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('since', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fired_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notified_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_label', sa.String(length=254), nullable=True),
    sa.Column('acknowledged_by_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_alerts_environment_id_environments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['node_id'], ['vector_nodes.id'], name=op.f('fk_alerts_node_id_vector_nodes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_alerts_pipeline_id_pipelines'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_environment_id_state', ['environment_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_node_id'), ['node_id'], unique=False)
        batch_op.create_index('uq_alerts_key_open', ['key'], unique=True, postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))

    op.create_table('notification_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('channel_id', sa.String(length=20), nullable=False),
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('response_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', vectorflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_notification_deliveries_alert_id_alerts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['channel_id'], ['notification_channels.id'], name=op.f('fk_notification_deliveries_channel_id_notification_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_deliveries'))
    )
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_deliveries_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index('ix_notification_deliveries_channel_id_id', ['channel_id', 'id'], unique=False)
        batch_op.create_index('ix_notification_deliveries_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)



def downgrade():
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_deliveries_status_next_attempt_at')
        batch_op.drop_index('ix_notification_deliveries_channel_id_id')
        batch_op.drop_index(batch_op.f('ix_notification_deliveries_alert_id'))

    op.drop_table('notification_deliveries')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('uq_alerts_key_open', postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_alerts_node_id'))
        batch_op.drop_index('ix_alerts_environment_id_state')

    op.drop_table('alerts')
    op.drop_table('alert_rules')
    with op.batch_alter_table('notification_channels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_channels_team_id'))

    op.drop_table('notification_channels')
