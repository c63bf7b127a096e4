"""Progress updates on decision commitments; append-only like the other decision tables.

Revision ID: 0020_commitment_updates
Revises: 0019_official_responses

"""
import sqlalchemy as sa
from alembic import op

revision = '0020_commitment_updates'
down_revision = '0019_official_responses'
branch_labels = None
depends_on = None

TABLE = 'decision_commitment_updates'
REFUSAL = 'decision records are append-only: publish an amendment instead'


def upgrade():
    op.create_table(TABLE,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('canonical', sa.Text(), nullable=False),
    sa.Column('commitment_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=True),
    sa.Column('department', sa.String(length=120), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('posted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commitment_id'], ['decision_commitments.id'], ),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('n'),
    sa.UniqueConstraint('prev_hash'),
    sa.UniqueConstraint('hash')
    )
    op.create_index(op.f('ix_decision_commitment_updates_commitment_id'), TABLE,
                    ['commitment_id'], unique=False)
    op.create_index(op.f('ix_decision_commitment_updates_posted_at'), TABLE,
                    ['posted_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION decisions_refuse_change()")
        return
    for action in ('UPDATE', 'DELETE'):
        op.execute(f"CREATE TRIGGER {TABLE}_no_{action.lower()} BEFORE {action} ON {TABLE} "
                   f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
    else:
        for action in ('update', 'delete'):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{action}")
    op.drop_index(op.f('ix_decision_commitment_updates_posted_at'), table_name=TABLE)
    op.drop_index(op.f('ix_decision_commitment_updates_commitment_id'), table_name=TABLE)
    op.drop_table(TABLE)
