"""Polls, their options and ballots (one per resident per poll, by a unique constraint).

Revision ID: 0004_polls
Revises: 0003_townhall
Create Date: 2026-11-30 16:17:19.641692

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004_polls'
down_revision = '0003_townhall'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('polls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('townhall_id', sa.Integer(), nullable=True),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('question', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('description_html', sa.Text(), nullable=False),
    sa.Column('kind', sa.Enum('single', 'multiple', 'ranked', name='poll_kind', native_enum=False, length=20), nullable=False),
    sa.Column('max_choices', sa.Integer(), nullable=True),
    sa.Column('results_mode', sa.Enum('live', 'after_close', 'hidden', name='results_mode', native_enum=False, length=20), nullable=False),
    sa.Column('opens_at', sa.DateTime(), nullable=True),
    sa.Column('closes_at', sa.DateTime(), nullable=True),
    sa.Column('results_released_at', sa.DateTime(), nullable=True),
    sa.Column('draw_seed', sa.String(length=32), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('(townhall_id IS NULL) <> (topic_id IS NULL)', name=op.f('ck_polls_one_parent')),
    sa.CheckConstraint('max_choices IS NULL OR max_choices >= 1', name=op.f('ck_polls_max_choices_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_polls_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['topic_id'], ['forum_topics.id'], name=op.f('fk_polls_topic_id_forum_topics')),
    sa.ForeignKeyConstraint(['townhall_id'], ['townhalls.id'], name=op.f('fk_polls_townhall_id_townhalls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_polls'))
    )
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_polls_topic_id'), ['topic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_polls_townhall_id'), ['townhall_id'], unique=False)

    op.create_table('poll_ballots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('voter_id', sa.Integer(), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('receipt', sa.String(length=32), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('cast_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_ballots_poll_id_polls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['voter_id'], ['users.id'], name=op.f('fk_poll_ballots_voter_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_ballots')),
    sa.UniqueConstraint('poll_id', 'voter_id', name=op.f('uq_poll_ballots_poll_id_voter_id')),
    sa.UniqueConstraint('receipt', name=op.f('uq_poll_ballots_receipt'))
    )
    op.create_table('poll_options',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_options_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_options')),
    sa.UniqueConstraint('poll_id', 'position', name=op.f('uq_poll_options_poll_id_position'))
    )


def downgrade():
    op.drop_table('poll_options')
    op.drop_table('poll_ballots')
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_polls_townhall_id'))
        batch_op.drop_index(batch_op.f('ix_polls_topic_id'))

    op.drop_table('polls')
