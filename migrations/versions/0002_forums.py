"""Topic forums, their moderation log, notifications and full-text search.

Topics, threads, posts and their revisions, flags, follows, the forum moderation log,
notifications, and search (FTS5 on SQLite, GIN expression indexes on PostgreSQL).

Revision ID: 0002_forums
Revises: 0001_accounts
Create Date: 2026-11-30 16:16:14.924979

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002_forums'
down_revision = '0001_accounts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('forum_topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('description_html', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'archived', name='topicstatus', native_enum=False, length=20), nullable=False),
    sa.Column('townhall_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_forum_topics_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_topics'))
    )
    with op.batch_alter_table('forum_topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_topics_townhall_id'), ['townhall_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_notifications_user_unread', ['user_id', 'read_at'], unique=False)

    op.create_table('forum_threads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_activity_at', sa.DateTime(), nullable=False),
    sa.Column('reply_count', sa.Integer(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_forum_threads_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['topic_id'], ['forum_topics.id'], name=op.f('fk_forum_threads_topic_id_forum_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_threads'))
    )
    with op.batch_alter_table('forum_threads', schema=None) as batch_op:
        batch_op.create_index('ix_forum_threads_topic_activity', ['topic_id', 'pinned', 'last_activity_at'], unique=False)

    op.create_table('forum_follows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['forum_threads.id'], name=op.f('fk_forum_follows_thread_id_forum_threads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_follows_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_follows')),
    sa.UniqueConstraint('user_id', 'thread_id', name=op.f('uq_forum_follows_user_id_thread_id'))
    )
    with op.batch_alter_table('forum_follows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_follows_thread_id'), ['thread_id'], unique=False)

    op.create_table('forum_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('is_opening', sa.Boolean(), nullable=False),
    sa.Column('quote_of_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('edited_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_reason', sa.String(length=500), nullable=True),
    sa.Column('open_flag_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_forum_posts_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['quote_of_id'], ['forum_posts.id'], name=op.f('fk_forum_posts_quote_of_id_forum_posts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['forum_threads.id'], name=op.f('fk_forum_posts_thread_id_forum_threads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_posts'))
    )
    with op.batch_alter_table('forum_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_posts_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_forum_posts_open_flag_count'), ['open_flag_count'], unique=False)
        batch_op.create_index('ix_forum_posts_thread_created', ['thread_id', 'created_at'], unique=False)

    op.create_table('forum_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Enum('off_topic', 'abusive', 'spam', 'personal_information', 'other', name='flagreason', native_enum=False, length=30), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['forum_posts.id'], name=op.f('fk_forum_flags_post_id_forum_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_flags_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_flags')),
    sa.UniqueConstraint('post_id', 'user_id', name=op.f('uq_forum_flags_post_id_user_id'))
    )
    with op.batch_alter_table('forum_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_flags_post_id'), ['post_id'], unique=False)

    op.create_table('forum_moderation_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.Enum('auto_hide', 'hide', 'restore', 'dismiss_flags', 'lock', 'unlock', 'pin', 'unpin', 'move', name='moderationaction', native_enum=False, length=20), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('thread_id', sa.Integer(), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_forum_moderation_log_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['forum_posts.id'], name=op.f('fk_forum_moderation_log_post_id_forum_posts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['forum_threads.id'], name=op.f('fk_forum_moderation_log_thread_id_forum_threads'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['topic_id'], ['forum_topics.id'], name=op.f('fk_forum_moderation_log_topic_id_forum_topics'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_moderation_log'))
    )
    with op.batch_alter_table('forum_moderation_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_moderation_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_forum_moderation_log_topic_id'), ['topic_id'], unique=False)

    op.create_table('forum_post_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('written_at', sa.DateTime(), nullable=False),
    sa.Column('replaced_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['forum_posts.id'], name=op.f('fk_forum_post_revisions_post_id_forum_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_post_revisions'))
    )
    with op.batch_alter_table('forum_post_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_post_revisions_post_id'), ['post_id'], unique=False)
    create_search()


SQLITE_SEARCH = [
    # rowid is the post id; the title column holds the thread title for opening posts only.
    "CREATE VIRTUAL TABLE forum_search USING fts5(title, body, tokenize='porter unicode61')",
    """CREATE TRIGGER forum_posts_search_insert AFTER INSERT ON forum_posts BEGIN
         INSERT INTO forum_search(rowid, title, body) VALUES (new.id,
           CASE WHEN new.is_opening THEN
             (SELECT title FROM forum_threads WHERE id = new.thread_id) ELSE '' END,
           new.body);
       END""",
    """CREATE TRIGGER forum_posts_search_update AFTER UPDATE OF body ON forum_posts BEGIN
         UPDATE forum_search SET body = new.body WHERE rowid = new.id;
       END""",
    """CREATE TRIGGER forum_posts_search_delete AFTER DELETE ON forum_posts BEGIN
         DELETE FROM forum_search WHERE rowid = old.id;
       END""",
    """CREATE TRIGGER forum_threads_search_title AFTER UPDATE OF title ON forum_threads BEGIN
         UPDATE forum_search SET title = new.title
         WHERE rowid IN (SELECT id FROM forum_posts WHERE thread_id = new.id AND is_opening);
       END""",
]

POSTGRESQL_SEARCH = [
    "CREATE INDEX ix_forum_posts_body_search ON forum_posts "
    "USING gin (to_tsvector('english', body))",
    "CREATE INDEX ix_forum_threads_title_search ON forum_threads "
    "USING gin (to_tsvector('english', title))",
]


def create_search():
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE_SEARCH, "postgresql": POSTGRESQL_SEARCH}.get(dialect, [])
    for statement in statements:
        op.execute(statement)


def drop_search():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("forum_posts_search_insert", "forum_posts_search_update",
                        "forum_posts_search_delete", "forum_threads_search_title"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS forum_search")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_forum_posts_body_search")
        op.execute("DROP INDEX IF EXISTS ix_forum_threads_title_search")


def downgrade():
    drop_search()
    with op.batch_alter_table('forum_post_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forum_post_revisions_post_id'))

    op.drop_table('forum_post_revisions')
    with op.batch_alter_table('forum_moderation_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forum_moderation_log_topic_id'))
        batch_op.drop_index(batch_op.f('ix_forum_moderation_log_created_at'))

    op.drop_table('forum_moderation_log')
    with op.batch_alter_table('forum_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forum_flags_post_id'))

    op.drop_table('forum_flags')
    with op.batch_alter_table('forum_posts', schema=None) as batch_op:
        batch_op.drop_index('ix_forum_posts_thread_created')
        batch_op.drop_index(batch_op.f('ix_forum_posts_open_flag_count'))
        batch_op.drop_index(batch_op.f('ix_forum_posts_author_id'))

    op.drop_table('forum_posts')
    with op.batch_alter_table('forum_follows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forum_follows_thread_id'))

    op.drop_table('forum_follows')
    with op.batch_alter_table('forum_threads', schema=None) as batch_op:
        batch_op.drop_index('ix_forum_threads_topic_activity')

    op.drop_table('forum_threads')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_unread')
        batch_op.drop_index(batch_op.f('ix_notifications_created_at'))

    op.drop_table('notifications')
    with op.batch_alter_table('forum_topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forum_topics_townhall_id'))

    op.drop_table('forum_topics')
