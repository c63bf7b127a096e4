"""Confirmed addresses, and the single-use links mailed to accounts (confirm an address, confirm
a new one, reset the password).

Accounts that exist before this revision have no confirmed address: their owners confirm it from
the account page ("send the link again") before they vote.

Revision ID: 0009_email_confirmation
Revises: 0008_two_factor
Create Date: 2026-12-02 21:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009_email_confirmation'
down_revision = '0008_two_factor'
branch_labels = None
depends_on = None


def upgrade():
    # A nullable column: a plain ADD COLUMN on both dialects, no batch rebuild needed.
    op.add_column('users', sa.Column('email_confirmed_at', sa.DateTime(), nullable=True))
    op.create_table('account_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum('confirm_email', 'change_email', 'reset_password',
                                 name='tokenpurpose', native_enum=False, length=20),
              nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_account_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_tokens'))
    )
    op.create_index('ix_account_tokens_user_id_purpose_created_at', 'account_tokens',
                    ['user_id', 'purpose', 'created_at'])


def downgrade():
    op.drop_index('ix_account_tokens_user_id_purpose_created_at', table_name='account_tokens')
    op.drop_table('account_tokens')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('email_confirmed_at')
