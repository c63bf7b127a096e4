"""Outgoing mail: each message waits in a row until the task queue has sent it.

Revision ID: 0007_outgoing_mail
Revises: 0006_event_subjects
Create Date: 2026-12-02 21:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007_outgoing_mail'
down_revision = '0006_event_subjects'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outgoing_mail',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('recipient_id', sa.Integer(), nullable=True),
        sa.Column('to_address', sa.String(length=320), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('text_body', sa.Text(), nullable=False),
        sa.Column('html_body', sa.Text(), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('attachments', sa.JSON(), nullable=False),
        sa.Column('message_id', sa.String(length=250), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('last_error', sa.String(length=200), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('failed_at', sa.DateTime(), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_mail')),
        sa.UniqueConstraint('key', name=op.f('uq_outgoing_mail_key')),
    )
    op.create_index('ix_outgoing_mail_pending', 'outgoing_mail', ['sent_at', 'next_attempt_at'])
    op.create_index(op.f('ix_outgoing_mail_recipient_id'), 'outgoing_mail', ['recipient_id'])


def downgrade():
    op.drop_index(op.f('ix_outgoing_mail_recipient_id'), table_name='outgoing_mail')
    op.drop_index('ix_outgoing_mail_pending', table_name='outgoing_mail')
    op.drop_table('outgoing_mail')
