"""Official responses in the forums: a reply an official marks as the city's answer, with the
department it speaks for.

Revision ID: 0019_official_responses
Revises: 0018_roll
Create Date: 2026-12-03 14:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_official_responses'
down_revision = '0018_roll'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('forum_posts', sa.Column('official_department', sa.String(length=120),
                                           nullable=True))
    op.create_index('ix_forum_posts_official_department', 'forum_posts',
                    ['official_department'])


def downgrade():
    op.drop_index('ix_forum_posts_official_department', table_name='forum_posts')
    # A plain DROP COLUMN (SQLite 3.35 and later have it): a batch operation would rebuild the
    # table, which the search triggers on forum_posts do not survive.
    op.drop_column('forum_posts', 'official_department')
