"""Registry monitoring: watched registries, images, tag history, golden images, alerts.

Revision ID: 0002_regwatch
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_regwatch'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('registry_alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('registry_id', sa.BigInteger(), nullable=True),
    sa.Column('digest', sa.String(length=100), nullable=False),
    sa.Column('golden', sa.Boolean(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_alerts'))
    )
    with op.batch_alter_table('registry_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_alerts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_alerts_registry_id'), ['registry_id'], unique=False)

    op.create_table('registry_notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('registry_id', sa.BigInteger(), nullable=True),
    sa.Column('remote', sa.String(length=100), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('queued', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_notifications'))
    )
    with op.batch_alter_table('registry_notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_notifications_received_at'), ['received_at'], unique=False)

    op.create_table('watch_state',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_watch_state'))
    )
    op.create_table('watched_registries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('host', sa.String(length=300), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('secret', sa.LargeBinary(), nullable=True),
    sa.Column('insecure', sa.Boolean(), nullable=False),
    sa.Column('ca_cert', sa.Text(), nullable=False),
    sa.Column('include', sa.Text(), nullable=False),
    sa.Column('exclude', sa.Text(), nullable=False),
    sa.Column('interval_seconds', sa.Integer(), nullable=False),
    sa.Column('scanners', sa.String(length=200), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('notify_token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('next_sweep_at', sa.DateTime(), nullable=True),
    sa.Column('sweep_state', sa.String(length=16), nullable=False),
    sa.Column('sweep_job_id', sa.String(length=36), nullable=True),
    sa.Column('last_sweep_started', sa.DateTime(), nullable=True),
    sa.Column('last_sweep_finished', sa.DateTime(), nullable=True),
    sa.Column('last_success_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('last_error_at', sa.DateTime(), nullable=True),
    sa.Column('repositories', sa.Integer(), nullable=False),
    sa.Column('tags', sa.Integer(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watched_registries')),
    sa.UniqueConstraint('name', name=op.f('uq_watched_registries_name'))
    )
    with op.batch_alter_table('watched_registries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watched_registries_next_sweep_at'), ['next_sweep_at'], unique=False)

    op.create_table('golden_diffs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('registry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('repository', sa.String(length=300), nullable=False),
    sa.Column('tag', sa.String(length=200), nullable=False),
    sa.Column('previous_digest', sa.String(length=100), nullable=False),
    sa.Column('digest', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('diff', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['registry_id'], ['watched_registries.id'], name=op.f('fk_golden_diffs_registry_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_golden_diffs'))
    )
    with op.batch_alter_table('golden_diffs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_golden_diffs_registry_id'), ['registry_id'], unique=False)

    op.create_table('golden_rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('registry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('repository', sa.String(length=300), nullable=False),
    sa.Column('tag', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['registry_id'], ['watched_registries.id'], name=op.f('fk_golden_rules_registry_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_golden_rules'))
    )
    with op.batch_alter_table('golden_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_golden_rules_registry_id'), ['registry_id'], unique=False)

    op.create_table('watched_images',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('digest', sa.String(length=100), nullable=False),
    sa.Column('registry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('repository', sa.String(length=300), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=True),
    sa.Column('asset_id', sa.BigInteger(), nullable=True),
    sa.Column('sbom_id', sa.BigInteger(), nullable=True),
    sa.Column('scan_id', sa.BigInteger(), nullable=True),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('golden', sa.Boolean(), nullable=False),
    sa.Column('queued_at', sa.DateTime(), nullable=False),
    sa.Column('scanned_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['registry_id'], ['watched_registries.id'], name=op.f('fk_watched_images_registry_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watched_images')),
    sa.UniqueConstraint('digest', name=op.f('uq_watched_images_digest'))
    )
    with op.batch_alter_table('watched_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watched_images_registry_id'), ['registry_id'], unique=False)

    op.create_table('watched_tags',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('registry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('repository', sa.String(length=300), nullable=False),
    sa.Column('tag', sa.String(length=200), nullable=False),
    sa.Column('digest', sa.String(length=100), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['registry_id'], ['watched_registries.id'], name=op.f('fk_watched_tags_registry_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watched_tags')),
    sa.UniqueConstraint('registry_id', 'repository', 'tag', 'digest', name=op.f('uq_watched_tags_registry_id_repository_tag_digest'))
    )
    with op.batch_alter_table('watched_tags', schema=None) as batch_op:
        batch_op.create_index('ix_watched_tags_digest', ['digest'], unique=False)
        batch_op.create_index('ix_watched_tags_registry_id_repository_tag', ['registry_id', 'repository', 'tag'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('watched_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_watched_tags_registry_id_repository_tag')
        batch_op.drop_index('ix_watched_tags_digest')

    op.drop_table('watched_tags')
    with op.batch_alter_table('watched_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watched_images_registry_id'))

    op.drop_table('watched_images')
    with op.batch_alter_table('golden_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_golden_rules_registry_id'))

    op.drop_table('golden_rules')
    with op.batch_alter_table('golden_diffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_golden_diffs_registry_id'))

    op.drop_table('golden_diffs')
    with op.batch_alter_table('watched_registries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watched_registries_next_sweep_at'))

    op.drop_table('watched_registries')
    op.drop_table('watch_state')
    with op.batch_alter_table('registry_notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_notifications_received_at'))

    op.drop_table('registry_notifications')
    with op.batch_alter_table('registry_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_alerts_registry_id'))
        batch_op.drop_index(batch_op.f('ix_registry_alerts_created_at'))

    op.drop_table('registry_alerts')

