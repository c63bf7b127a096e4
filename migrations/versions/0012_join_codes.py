"""Join codes: each town hall's short code for its join link (`/j/<code>`), unique.

Revision ID: 0012_join_codes
Revises: 0011_reminders
Create Date: 2026-12-03 07:30:00.000000

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012_join_codes'
down_revision = '0011_reminders'
branch_labels = None
depends_on = None

# A copy of participation.townhall.models.JOIN_CODE_ALPHABET: migrations import no app code.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 6


def upgrade():
    # NOT NULL from the start, with an empty default for the rows already there: a plain ADD
    # COLUMN on both dialects. Making it NOT NULL afterwards would rebuild the table on SQLite,
    # and dropping the old `townhalls` with foreign keys on would cascade to its questions.
    op.add_column('townhalls', sa.Column('join_code', sa.String(length=LENGTH), nullable=False,
                                         server_default=''))
    townhalls = sa.table('townhalls', sa.column('id', sa.Integer),
                         sa.column('join_code', sa.String))
    bind = op.get_bind()
    taken = set()
    for (townhall_id,) in bind.execute(sa.select(townhalls.c.id).order_by(townhalls.c.id)):
        code = ''.join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        while code in taken:
            code = ''.join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        taken.add(code)
        bind.execute(townhalls.update().where(townhalls.c.id == townhall_id)
                     .values(join_code=code))
    op.create_index(op.f('ix_townhalls_join_code'), 'townhalls', ['join_code'], unique=True)
    if bind.dialect.name != 'sqlite':
        # Every new town hall gets its code from the service; SQLite keeps the unused default
        # (removing it there would rebuild the table, see above).
        op.alter_column('townhalls', 'join_code', server_default=None)


def downgrade():
    op.drop_index(op.f('ix_townhalls_join_code'), table_name='townhalls')
    # A plain DROP COLUMN (SQLite 3.35+ and PostgreSQL), not a batch rebuild: see upgrade().
    op.drop_column('townhalls', 'join_code')
