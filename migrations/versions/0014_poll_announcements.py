"""A town hall's room hears of a poll that closes by its scheduled time: when it was told.

Revision ID: 0014_poll_announcements
Revises: 0013_room_counts
Create Date: 2026-12-03 08:30:00.000000

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014_poll_announcements'
down_revision = '0013_room_counts'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both dialects (nullable, no default): no batch rebuild is needed.
    op.add_column('polls', sa.Column('close_announced_at', sa.DateTime(), nullable=True))
    # Town hall polls that opened or closed before this runs were shown on the pages' next load:
    # count them as announced, so the first run of the job does not replay old news to the rooms.
    polls = sa.table('polls', sa.column('townhall_id', sa.Integer),
                     sa.column('opens_at', sa.DateTime), sa.column('closes_at', sa.DateTime),
                     sa.column('announced_at', sa.DateTime),
                     sa.column('close_announced_at', sa.DateTime))
    now = datetime.now(UTC).replace(tzinfo=None)
    bind = op.get_bind()
    bind.execute(polls.update()
                 .where(polls.c.townhall_id.is_not(None), polls.c.announced_at.is_(None),
                        polls.c.opens_at.is_not(None), polls.c.opens_at <= now)
                 .values(announced_at=polls.c.opens_at))
    bind.execute(polls.update()
                 .where(polls.c.townhall_id.is_not(None), polls.c.closes_at.is_not(None),
                        polls.c.closes_at <= now)
                 .values(close_announced_at=polls.c.closes_at))


def downgrade():
    with op.batch_alter_table('polls') as batch:
        batch.drop_column('close_announced_at')
