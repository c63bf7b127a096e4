"""Ballot secrecy: whether a poll's export ties each receipt to its ballot's content
(verifiable, what every existing poll keeps) or lists them apart (secret).

Revision ID: 0015_ballot_secrecy
Revises: 0014_poll_announcements
Create Date: 2026-12-03 08:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_ballot_secrecy'
down_revision = '0014_poll_announcements'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN with a server default: existing polls stay verifiable.
    op.add_column('polls', sa.Column(
        'ballot_secrecy',
        sa.Enum('verifiable', 'secret', name='ballot_secrecy', native_enum=False, length=20),
        server_default='verifiable', nullable=False))


def downgrade():
    with op.batch_alter_table('polls') as batch:
        batch.drop_column('ballot_secrecy')
