"""Reminders and what they need: topic follows, "remind me" on town halls, when a poll's opening
was announced, and which commitment reminders went out.

Revision ID: 0011_reminders
Revises: 0010_notification_mail
Create Date: 2026-12-02 21:00:00.000000

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011_reminders'
down_revision = '0010_notification_mail'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('forum_topic_follows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['forum_topics.id'], name=op.f('fk_forum_topic_follows_topic_id_forum_topics'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_topic_follows_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_topic_follows')),
    sa.UniqueConstraint('user_id', 'topic_id', name=op.f('uq_forum_topic_follows_user_id_topic_id'))
    )
    op.create_index(op.f('ix_forum_topic_follows_topic_id'), 'forum_topic_follows', ['topic_id'])
    op.create_index(op.f('ix_forum_topic_follows_user_id'), 'forum_topic_follows', ['user_id'])

    op.create_table('townhall_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('townhall_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_for', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['townhall_id'], ['townhalls.id'], name=op.f('fk_townhall_reminders_townhall_id_townhalls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_townhall_reminders_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_townhall_reminders')),
    sa.UniqueConstraint('townhall_id', 'user_id', name=op.f('uq_townhall_reminders_townhall_id_user_id'))
    )
    op.create_index(op.f('ix_townhall_reminders_user_id'), 'townhall_reminders', ['user_id'])

    op.create_table('decision_commitment_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commitment_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commitment_id'], ['decision_commitments.id'], name=op.f('fk_decision_commitment_notices_commitment_id_decision_commitments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_commitment_notices')),
    sa.UniqueConstraint('commitment_id', 'kind', name=op.f('uq_decision_commitment_notices_commitment_id_kind'))
    )

    # A plain ADD COLUMN on both dialects (nullable, no default): no batch rebuild is needed.
    op.add_column('polls', sa.Column('announced_at', sa.DateTime(), nullable=True))
    # Polls already open (or past) when this runs opened before anyone could follow their topic:
    # count them as announced, so the first run of the job does not tell of old news.
    polls = sa.table('polls', sa.column('opens_at', sa.DateTime),
                     sa.column('announced_at', sa.DateTime))
    now = datetime.now(UTC).replace(tzinfo=None)
    op.get_bind().execute(polls.update()
                          .where(polls.c.opens_at.is_not(None), polls.c.opens_at <= now)
                          .values(announced_at=polls.c.opens_at))


def downgrade():
    with op.batch_alter_table('polls') as batch:
        batch.drop_column('announced_at')
    op.drop_table('decision_commitment_notices')
    op.drop_index(op.f('ix_townhall_reminders_user_id'), table_name='townhall_reminders')
    op.drop_table('townhall_reminders')
    op.drop_index(op.f('ix_forum_topic_follows_user_id'), table_name='forum_topic_follows')
    op.drop_index(op.f('ix_forum_topic_follows_topic_id'), table_name='forum_topic_follows')
    op.drop_table('forum_topic_follows')
