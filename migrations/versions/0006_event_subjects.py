"""Live events name what they are about, so a withdrawn question's earlier broadcasts can be
rewritten without its text.

Revision ID: 0006_event_subjects
Revises: 0005_decisions
Create Date: 2026-12-02 17:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006_event_subjects'
down_revision = '0005_decisions'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both dialects: no batch rebuild of the table is needed.
    op.add_column('realtime_events', sa.Column('subject', sa.String(length=40), nullable=True))
    op.create_index('ix_realtime_events_townhall_id_subject', 'realtime_events',
                    ['townhall_id', 'subject'])
    # Events logged before this revision: question events carry the question's id.
    bind = op.get_bind()
    events = sa.table('realtime_events', sa.column('id', sa.Integer),
                      sa.column('kind', sa.String), sa.column('payload', sa.JSON),
                      sa.column('subject', sa.String))
    rows = bind.execute(sa.select(events.c.id, events.c.payload)
                        .where(events.c.kind.in_(['question', 'queue']))).all()
    for event_id, payload in rows:
        question = (payload or {}).get('question') or {}
        if isinstance(question.get('id'), int):
            bind.execute(events.update().where(events.c.id == event_id)
                         .values(subject=f"question:{question['id']}"))


def downgrade():
    op.drop_index('ix_realtime_events_townhall_id_subject', table_name='realtime_events')
    with op.batch_alter_table('realtime_events') as batch:
        batch.drop_column('subject')
