"""Host agents: enrollment tokens, agents, their events (unique per agent and event id), host
alerts, cross-host incidents, FIM changes, inventory snapshots, agent settings.

Revision ID: 0003_agent
Revises: 0002_regwatch
"""
import sqlalchemy as sa
from alembic import op


revision = '0003_agent'
down_revision = '0002_regwatch'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_agent_settings'))
    )
    op.create_table('enrollment_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('used_by', sa.String(length=36), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollment_tokens'))
    )
    op.create_table('incidents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('open_key', sa.String(length=200), nullable=True),
    sa.Column('source_address', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('level_rank', sa.SmallInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.Column('hosts', sa.Integer(), nullable=False),
    sa.Column('alerts', sa.Integer(), nullable=False),
    sa.Column('rules', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents')),
    sa.UniqueConstraint('open_key', name=op.f('uq_incidents_open_key'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_key', ['key'], unique=False)
        batch_op.create_index('ix_incidents_state_id', ['state', 'id'], unique=False)

    op.create_table('agents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('asset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_id', sa.BigInteger(), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('os', sa.String(length=200), nullable=False),
    sa.Column('agent_version', sa.String(length=64), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(), nullable=False),
    sa.Column('enrollment_token_id', sa.BigInteger(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_address', sa.String(length=64), nullable=False),
    sa.Column('silent_since', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('config', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_agents_asset_id')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agents_user_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('token_id', name=op.f('uq_agents_token_id')),
    sa.UniqueConstraint('uid', name=op.f('uq_agents_uid'))
    )
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agents_asset_id'), ['asset_id'], unique=False)

    op.create_table('agent_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('asset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('time', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_events_agent_id')),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_agent_events_asset_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_events')),
    sa.UniqueConstraint('agent_id', 'event_id', name=op.f('uq_agent_events_agent_id_event_id'))
    )
    with op.batch_alter_table('agent_events', schema=None) as batch_op:
        batch_op.create_index('ix_agent_events_asset_id_id', ['asset_id', 'id'], unique=False)
        batch_op.create_index('ix_agent_events_asset_id_kind_id', ['asset_id', 'kind', 'id'], unique=False)

    op.create_table('host_alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('asset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('alert_id', sa.String(length=100), nullable=False),
    sa.Column('rule_id', sa.String(length=200), nullable=False),
    sa.Column('rule_name', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('level_rank', sa.SmallInteger(), nullable=False),
    sa.Column('source_address', sa.String(length=64), nullable=True),
    sa.Column('group_by', sa.Text(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=True),
    sa.Column('last_at', sa.DateTime(), nullable=True),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('incident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_host_alerts_agent_id')),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_host_alerts_asset_id')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_host_alerts_incident_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_host_alerts')),
    sa.UniqueConstraint('asset_id', 'alert_id', name=op.f('uq_host_alerts_asset_id_alert_id'))
    )
    with op.batch_alter_table('host_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_host_alerts_asset_id_id', ['asset_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_host_alerts_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_host_alerts_source_address', ['source_address'], unique=False)

    op.create_table('host_fim_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('asset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event_row_id', sa.BigInteger(), nullable=False),
    sa.Column('path', sa.String(length=4096), nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('time', sa.DateTime(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_host_fim_changes_agent_id')),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_host_fim_changes_asset_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_host_fim_changes'))
    )
    with op.batch_alter_table('host_fim_changes', schema=None) as batch_op:
        batch_op.create_index('ix_host_fim_changes_asset_id_id', ['asset_id', 'id'], unique=False)

    op.create_table('host_inventory',
    sa.Column('asset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('taken_at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_host_inventory_agent_id')),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_host_inventory_asset_id')),
    sa.PrimaryKeyConstraint('asset_id', name=op.f('pk_host_inventory'))
    )


def downgrade() -> None:
    op.drop_table('host_inventory')
    with op.batch_alter_table('host_fim_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_host_fim_changes_asset_id_id')

    op.drop_table('host_fim_changes')
    with op.batch_alter_table('host_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_host_alerts_source_address')
        batch_op.drop_index(batch_op.f('ix_host_alerts_incident_id'))
        batch_op.drop_index('ix_host_alerts_asset_id_id')

    op.drop_table('host_alerts')
    with op.batch_alter_table('agent_events', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_events_asset_id_kind_id')
        batch_op.drop_index('ix_agent_events_asset_id_id')

    op.drop_table('agent_events')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agents_asset_id'))

    op.drop_table('agents')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_state_id')
        batch_op.drop_index('ix_incidents_key')

    op.drop_table('incidents')
    op.drop_table('enrollment_tokens')
    op.drop_table('agent_settings')
