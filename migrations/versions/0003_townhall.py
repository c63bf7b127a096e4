"""Town halls, questions, upvotes, the moderation log and the realtime event log.

Revision ID: 0003_townhall
Revises: 0002_forums
Create Date: 2026-11-30 16:16:32.955774

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003_townhall'
down_revision = '0002_forums'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('townhalls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('description_html', sa.Text(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('livestream_url', sa.String(length=500), nullable=True),
    sa.Column('allow_anonymous', sa.Boolean(), nullable=False),
    sa.Column('question_max_length', sa.Integer(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'live', 'ended', name='status', native_enum=False, length=20), nullable=False),
    sa.Column('highlighted_question_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_townhalls_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_townhalls'))
    )
    op.create_table('realtime_counters',
    sa.Column('townhall_id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['townhall_id'], ['townhalls.id'], name=op.f('fk_realtime_counters_townhall_id_townhalls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('townhall_id', name=op.f('pk_realtime_counters'))
    )
    op.create_table('realtime_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('townhall_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('audience', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['townhall_id'], ['townhalls.id'], name=op.f('fk_realtime_events_townhall_id_townhalls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_realtime_events')),
    sa.UniqueConstraint('townhall_id', 'seq', name=op.f('uq_realtime_events_townhall_id_seq'))
    )
    op.create_table('townhall_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('townhall_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.Enum('online', 'phone', 'in_person', 'email', 'paper', name='channel', native_enum=False, length=20), nullable=False),
    sa.Column('submitter_name', sa.String(length=80), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Enum('pending', 'approved', 'answered', 'rejected', 'merged', name='questionstatus', native_enum=False, length=20), nullable=False),
    sa.Column('reject_reason', sa.String(length=40), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('answer_mode', sa.String(length=10), nullable=True),
    sa.Column('answer_text', sa.Text(), nullable=True),
    sa.Column('answer_html', sa.Text(), nullable=True),
    sa.Column('upvote_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_townhall_questions_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_townhall_questions_entered_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['townhall_questions.id'], name=op.f('fk_townhall_questions_merged_into_id_townhall_questions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['townhall_id'], ['townhalls.id'], name=op.f('fk_townhall_questions_townhall_id_townhalls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_townhall_questions')),
    sa.UniqueConstraint('townhall_id', 'author_id', 'client_id', name=op.f('uq_townhall_questions_townhall_id_author_id_client_id'))
    )
    with op.batch_alter_table('townhall_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_townhall_questions_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_townhall_questions_townhall_id'), ['townhall_id'], unique=False)

    op.create_table('townhall_moderation_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('townhall_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=True),
    sa.Column('moderator_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['moderator_id'], ['users.id'], name=op.f('fk_townhall_moderation_log_moderator_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['question_id'], ['townhall_questions.id'], name=op.f('fk_townhall_moderation_log_question_id_townhall_questions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['townhall_id'], ['townhalls.id'], name=op.f('fk_townhall_moderation_log_townhall_id_townhalls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_townhall_moderation_log'))
    )
    with op.batch_alter_table('townhall_moderation_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_townhall_moderation_log_townhall_id'), ['townhall_id'], unique=False)

    op.create_table('townhall_upvotes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['townhall_questions.id'], name=op.f('fk_townhall_upvotes_question_id_townhall_questions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_townhall_upvotes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_townhall_upvotes')),
    sa.UniqueConstraint('question_id', 'user_id', name=op.f('uq_townhall_upvotes_question_id_user_id'))
    )
    with op.batch_alter_table('townhall_upvotes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_townhall_upvotes_question_id'), ['question_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_townhall_upvotes_user_id'), ['user_id'], unique=False)

    # A forum topic may belong to a town hall; the town-hall table exists only from here on.
    with op.batch_alter_table('forum_topics', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_forum_topics_townhall_id_townhalls'),
                                    'townhalls', ['townhall_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('forum_topics', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_forum_topics_townhall_id_townhalls'),
                                 type_='foreignkey')
    with op.batch_alter_table('townhall_upvotes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_townhall_upvotes_user_id'))
        batch_op.drop_index(batch_op.f('ix_townhall_upvotes_question_id'))

    op.drop_table('townhall_upvotes')
    with op.batch_alter_table('townhall_moderation_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_townhall_moderation_log_townhall_id'))

    op.drop_table('townhall_moderation_log')
    with op.batch_alter_table('townhall_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_townhall_questions_townhall_id'))
        batch_op.drop_index(batch_op.f('ix_townhall_questions_author_id'))

    op.drop_table('townhall_questions')
    op.drop_table('realtime_events')
    op.drop_table('realtime_counters')
    op.drop_table('townhalls')
