"""A rejected question's explanation: the moderator's own words when the reason is "other".

Revision ID: 0016_reject_explanation
Revises: 0015_ballot_secrecy
Create Date: 2026-12-03 08:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_reject_explanation'
down_revision = '0015_ballot_secrecy'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('townhall_questions', sa.Column('reject_explanation', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('townhall_questions') as batch_op:
        batch_op.drop_column('reject_explanation')
