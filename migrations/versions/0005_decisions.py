"""Decision records, their links, commitments and closures; triggers keep them append-only.

Revision ID: 0005_decisions
Revises: 0004_polls
Create Date: 2026-11-30 16:17:10.481847

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005_decisions'
down_revision = '0004_polls'
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ('decision_records', 'decision_links', 'decision_commitments',
                      'decision_closures')
REFUSAL = 'decision records are append-only: publish an amendment instead'


def refuse_changes_to_published_records():
    """Make the database itself refuse UPDATE and DELETE on every decision table."""
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""
            CREATE FUNCTION decisions_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{REFUSAL} (% on %)', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'restrict_violation';
            END;
            $$ LANGUAGE plpgsql
        """)
        for table in APPEND_ONLY_TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION decisions_refuse_change()")
        return
    for table in APPEND_ONLY_TABLES:
        for action in ('UPDATE', 'DELETE'):
            op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def allow_changes_again():
    if op.get_bind().dialect.name == 'postgresql':
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS decisions_refuse_change()")
        return
    for table in APPEND_ONLY_TABLES:
        for action in ('update', 'delete'):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


def upgrade():
    op.create_table('decision_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('canonical', sa.Text(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('decision_text', sa.String(length=500), nullable=False),
    sa.Column('department', sa.String(length=120), nullable=False),
    sa.Column('summary_html', sa.Text(), nullable=False),
    sa.Column('amends_seq', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['amends_seq'], ['decision_records.seq'], name=op.f('fk_decision_records_amends_seq_decision_records')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_decision_records_author_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_records')),
    sa.UniqueConstraint('hash', name=op.f('uq_decision_records_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_decision_records_prev_hash')),
    sa.UniqueConstraint('seq', name=op.f('uq_decision_records_seq'))
    )
    with op.batch_alter_table('decision_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_records_amends_seq'), ['amends_seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_decision_records_outcome'), ['outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_decision_records_published_at'), ['published_at'], unique=False)

    op.create_table('decision_commitments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('promise', sa.String(length=1000), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['decision_records.id'], name=op.f('fk_decision_commitments_record_id_decision_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_commitments')),
    sa.UniqueConstraint('record_id', 'number', name=op.f('uq_decision_commitments_record_id_number'))
    )
    with op.batch_alter_table('decision_commitments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_commitments_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_decision_commitments_record_id'), ['record_id'], unique=False)

    op.create_table('decision_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('townhall_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['record_id'], ['decision_records.id'], name=op.f('fk_decision_links_record_id_decision_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_links')),
    sa.UniqueConstraint('record_id', 'kind', 'target_id', name=op.f('uq_decision_links_record_id_kind_target_id'))
    )
    with op.batch_alter_table('decision_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_links_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decision_links_topic_id'), ['topic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decision_links_townhall_id'), ['townhall_id'], unique=False)

    op.create_table('decision_closures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commitment_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['commitment_id'], ['decision_commitments.id'], name=op.f('fk_decision_closures_commitment_id_decision_commitments')),
    sa.ForeignKeyConstraint(['record_id'], ['decision_records.id'], name=op.f('fk_decision_closures_record_id_decision_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_closures')),
    sa.UniqueConstraint('commitment_id', name=op.f('uq_decision_closures_commitment_id'))
    )
    with op.batch_alter_table('decision_closures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_closures_record_id'), ['record_id'], unique=False)

    refuse_changes_to_published_records()


def downgrade():
    allow_changes_again()
    with op.batch_alter_table('decision_closures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_closures_record_id'))

    op.drop_table('decision_closures')
    with op.batch_alter_table('decision_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_links_townhall_id'))
        batch_op.drop_index(batch_op.f('ix_decision_links_topic_id'))
        batch_op.drop_index(batch_op.f('ix_decision_links_record_id'))

    op.drop_table('decision_links')
    with op.batch_alter_table('decision_commitments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_commitments_record_id'))
        batch_op.drop_index(batch_op.f('ix_decision_commitments_due_on'))

    op.drop_table('decision_commitments')
    with op.batch_alter_table('decision_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_records_published_at'))
        batch_op.drop_index(batch_op.f('ix_decision_records_outcome'))
        batch_op.drop_index(batch_op.f('ix_decision_records_amends_seq'))

    op.drop_table('decision_records')
