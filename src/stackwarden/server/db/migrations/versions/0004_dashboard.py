"""Dashboard, risk triage, compliance snapshots and notifications (models_dashboard.py).

Revision ID: 0004_dashboard
Revises: 0003_agent
Create Date: 2026-11-29 08:48:42.598123
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_dashboard'
down_revision = '0003_agent'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('compliance_snapshots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('framework', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('passed', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('not_assessed', sa.Integer(), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compliance_snapshots'))
    )
    with op.batch_alter_table('compliance_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_compliance_snapshots_framework_at', ['framework', 'at'], unique=False)

    op.create_table('notification_channels',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('events', sa.String(length=500), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_channels')),
    sa.UniqueConstraint('name', name=op.f('uq_notification_channels_name'))
    )
    op.create_table('server_policies',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_server_policies'))
    )
    op.create_table('teams',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('patterns', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name'))
    )
    op.create_table('asset_labels',
    sa.Column('asset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_asset_labels_asset_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'label', name=op.f('pk_asset_labels'))
    )
    op.create_table('notification_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('group_key', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['notification_channels.id'], name=op.f('fk_notification_deliveries_channel_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_deliveries'))
    )
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_notification_deliveries_channel_id_id', ['channel_id', 'id'], unique=False)
        batch_op.create_index('ix_notification_deliveries_state_next', ['state', 'next_attempt_at'], unique=False)

    op.create_table('team_members',
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_members_team_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_team_members_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'user_id', name=op.f('pk_team_members'))
    )
    op.create_table('finding_assignments',
    sa.Column('finding_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('assignee', sa.String(length=64), nullable=False),
    sa.Column('assigned_by', sa.String(length=64), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_finding_assignments_finding_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('finding_id', name=op.f('pk_finding_assignments'))
    )
    with op.batch_alter_table('finding_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_assignments_assignee'), ['assignee'], unique=False)

    op.create_table('finding_scores',
    sa.Column('finding_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cvss', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_finding_scores_finding_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('finding_id', name=op.f('pk_finding_scores'))
    )
    op.create_table('notification_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['notification_deliveries.id'], name=op.f('fk_notification_attempts_delivery_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_attempts'))
    )
    with op.batch_alter_table('notification_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_attempts_delivery_id'), ['delivery_id'], unique=False)

    op.create_table('scan_gates',
    sa.Column('scan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('rules', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['scan_id'], ['scans.id'], name=op.f('fk_scan_gates_scan_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('scan_id', name=op.f('pk_scan_gates'))
    )
    with op.batch_alter_table('scan_gates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scan_gates_at'), ['at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('scan_gates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scan_gates_at'))

    op.drop_table('scan_gates')
    with op.batch_alter_table('notification_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_attempts_delivery_id'))

    op.drop_table('notification_attempts')
    op.drop_table('finding_scores')
    with op.batch_alter_table('finding_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_assignments_assignee'))

    op.drop_table('finding_assignments')
    op.drop_table('team_members')
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_deliveries_state_next')
        batch_op.drop_index('ix_notification_deliveries_channel_id_id')

    op.drop_table('notification_deliveries')
    op.drop_table('asset_labels')
    op.drop_table('teams')
    op.drop_table('server_policies')
    op.drop_table('notification_channels')
    with op.batch_alter_table('compliance_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_compliance_snapshots_framework_at')

    op.drop_table('compliance_snapshots')
