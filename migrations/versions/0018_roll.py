"""The rest of each roll import's report (rejected lines by number and why, repeated and blank
lines), for the admin's roll page.

Revision ID: 0018_roll
Revises: 0017_roll
Create Date: 2026-12-03 13:15:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018_roll'
down_revision = '0017_roll'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('roll_imports', sa.Column('report', sa.JSON(), server_default='{}',
                                            nullable=False))


def downgrade():
    with op.batch_alter_table('roll_imports') as batch_op:
        batch_op.drop_column('report')
