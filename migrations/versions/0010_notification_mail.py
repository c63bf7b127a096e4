"""Notices can be mailed: what each is about, the digest it waits for, when a mail carried it,
and each person's choice per kind.

Revision ID: 0010_notification_mail
Revises: 0009_email_confirmation
Create Date: 2026-12-02 20:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010_notification_mail'
down_revision = '0009_email_confirmation'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs on both dialects: no batch rebuild of the table is needed. Notices written
    # before this revision wait for no digest: nobody gets a first digest of old news.
    op.add_column('notifications', sa.Column('subject_ref', sa.String(length=60), nullable=True))
    op.add_column('notifications',
                  sa.Column('digest_cadence', sa.String(length=10), nullable=True))
    op.add_column('notifications', sa.Column('mailed_at', sa.DateTime(), nullable=True))
    op.create_index('ix_notifications_digest_cadence_user_id', 'notifications',
                    ['digest_cadence', 'user_id'])
    op.create_table('notification_preferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('cadence', sa.String(length=10), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_notification_preferences_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_preferences')),
    sa.UniqueConstraint('user_id', 'kind', name=op.f('uq_notification_preferences_user_id_kind'))
    )


def downgrade():
    op.drop_table('notification_preferences')
    op.drop_index('ix_notifications_digest_cadence_user_id', table_name='notifications')
    with op.batch_alter_table('notifications') as batch:
        batch.drop_column('mailed_at')
        batch.drop_column('digest_cadence')
        batch.drop_column('subject_ref')
