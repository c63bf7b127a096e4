"""Who is in the room and the calendar: the in-room head count (latest, peak, when), the peak of
online watchers, and a revision counter for the calendar's SEQUENCE.

Revision ID: 0013_room_counts
Revises: 0012_join_codes
Create Date: 2026-12-03 07:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_room_counts'
down_revision = '0012_join_codes'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs on both dialects (nullable, or with a server default): no batch rebuild.
    op.add_column('townhalls', sa.Column('in_room_count', sa.Integer(), nullable=True))
    op.add_column('townhalls', sa.Column('in_room_peak', sa.Integer(), nullable=True))
    op.add_column('townhalls', sa.Column('in_room_counted_at', sa.DateTime(), nullable=True))
    op.add_column('townhalls', sa.Column('peak_online', sa.Integer(), server_default='0',
                                         nullable=False))
    op.add_column('townhalls', sa.Column('revision', sa.Integer(), server_default='0',
                                         nullable=False))


def downgrade():
    with op.batch_alter_table('townhalls') as batch:
        batch.drop_column('revision')
        batch.drop_column('peak_online')
        batch.drop_column('in_room_counted_at')
        batch.drop_column('in_room_peak')
        batch.drop_column('in_room_count')
