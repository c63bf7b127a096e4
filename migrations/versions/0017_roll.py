"""The electoral roll (keyed hashes only), its imports, verified accounts and failed attempts;
who may vote in a poll; each ballot's channel and roll entry (one ballot per entry per poll).

Revision ID: 0017_roll
Revises: 0016_reject_explanation
Create Date: 2026-12-03 12:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017_roll'
down_revision = '0016_reject_explanation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('roll_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('removed', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['imported_by_id'], ['users.id'], name=op.f('fk_roll_imports_imported_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roll_imports'))
    )
    op.create_table('roll_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identity_hash', sa.String(length=64), nullable=False),
    sa.Column('district', sa.String(length=80), nullable=True),
    sa.Column('birth_year', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['roll_imports.id'], name=op.f('fk_roll_entries_import_id_roll_imports'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roll_entries')),
    sa.UniqueConstraint('identity_hash', name=op.f('uq_roll_entries_identity_hash'))
    )
    with op.batch_alter_table('roll_entries') as batch_op:
        batch_op.create_index(batch_op.f('ix_roll_entries_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_roll_entries_district'), ['district'], unique=False)
    op.create_table('roll_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('verified_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['roll_entries.id'], name=op.f('fk_roll_verifications_entry_id_roll_entries')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_roll_verifications_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_roll_verifications_verified_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roll_verifications')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_roll_verifications_entry_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_roll_verifications_user_id'))
    )
    op.create_table('roll_verification_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_roll_verification_attempts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roll_verification_attempts'))
    )
    with op.batch_alter_table('roll_verification_attempts') as batch_op:
        batch_op.create_index(batch_op.f('ix_roll_verification_attempts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_roll_verification_attempts_user_id'), ['user_id'], unique=False)

    # Existing polls stay open to anyone signed in; existing ballots came online.
    op.add_column('polls', sa.Column(
        'eligibility',
        sa.Enum('signed_in', 'confirmed', 'verified', name='poll_eligibility', native_enum=False, length=20),
        server_default='signed_in', nullable=False))
    op.add_column('polls', sa.Column('eligible_districts', sa.JSON(), server_default='[]', nullable=False))
    op.add_column('polls', sa.Column('min_age', sa.Integer(), nullable=True))
    op.add_column('polls', sa.Column('electorate', sa.Integer(), nullable=True))
    with op.batch_alter_table('poll_ballots') as batch_op:
        batch_op.add_column(sa.Column('roll_entry_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column(
            'channel',
            sa.Enum('online', 'paper', 'phone', 'in_person', name='ballot_channel', native_enum=False, length=20),
            server_default='online', nullable=False))
        batch_op.alter_column('voter_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_poll_ballots_roll_entry_id_roll_entries'), 'roll_entries', ['roll_entry_id'], ['id'])
        batch_op.create_unique_constraint(batch_op.f('uq_poll_ballots_poll_id_roll_entry_id'), ['poll_id', 'roll_entry_id'])


def downgrade():
    with op.batch_alter_table('poll_ballots') as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_poll_ballots_poll_id_roll_entry_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_poll_ballots_roll_entry_id_roll_entries'), type_='foreignkey')
        batch_op.alter_column('voter_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('channel')
        batch_op.drop_column('roll_entry_id')
    with op.batch_alter_table('polls') as batch_op:
        batch_op.drop_column('electorate')
        batch_op.drop_column('min_age')
        batch_op.drop_column('eligible_districts')
        batch_op.drop_column('eligibility')
    op.drop_table('roll_verification_attempts')
    op.drop_table('roll_verifications')
    op.drop_table('roll_entries')
    op.drop_table('roll_imports')
