"""Forum moderation: the flag queue, hiding and restoring posts, locking, pinning and moving
threads. Every action is written to the moderation log; the counts per topic are public.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from participation.accounts.models import User
from participation.db import utcnow
from participation.errors import Closed, Conflict, InvalidInput, NotFound
from participation.forums.models import (
    Flag,
    ForumModerationEntry,
    ModerationAction,
    Post,
    Thread,
    Topic,
)
from participation.forums.services import (
    post_link,
    post_ref,
    recount_replies,
    thread_link,
    thread_ref,
)
from participation.notifications.services import notify
from participation.security.permissions import require
from participation.security.sanitize import clean_text

REASON_MAX = 500


def _reason(reason: str | None, *, required: bool) -> str:
    text = clean_text(reason or "").strip()
    if required and not text:
        raise InvalidInput(_("Give a reason; the author is told why."), field="reason")
    if len(text) > REASON_MAX:
        raise InvalidInput(_(
            'Keep the reason to %(REASON_MAX)s characters or fewer.',
            REASON_MAX=REASON_MAX),
                           field="reason")
    return text


def _log(session: Session, actor: User, action: ModerationAction, thread: Thread,
         post: Post | None = None, reason: str = "") -> None:
    session.add(ForumModerationEntry(actor_id=actor.id, action=action, topic_id=thread.topic_id,
                                     thread_id=thread.id, post_id=post.id if post else None,
                                     reason=reason))


def _resolve_flags(session: Session, post: Post) -> None:
    session.execute(update(Flag).where(Flag.post_id == post.id, Flag.resolved_at.is_(None))
                    .values(resolved_at=utcnow()).execution_options(synchronize_session=False))
    post.open_flag_count = 0


def flag_queue(session: Session, actor: User, *, page: int = 1,
               per_page: int = 30) -> tuple[list[tuple[Post, list[Flag]]], int]:
    """Posts with unreviewed flags or hidden pending review, most flagged first."""
    require(actor, "forum.moderate")
    pending = (Post.open_flag_count > 0) | (Post.hidden_at.is_not(None)
                                             & Post.hidden_reason.is_(None))
    total = session.scalar(select(func.count()).select_from(Post).where(pending)) or 0
    posts = list(session.scalars(
        select(Post).where(pending)
        .options(joinedload(Post.author), joinedload(Post.thread).joinedload(Thread.topic))
        .order_by(Post.open_flag_count.desc(), Post.id)
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).unique())
    flags: dict[int, list[Flag]] = {p.id: [] for p in posts}
    if posts:
        for flag in session.scalars(select(Flag).where(Flag.post_id.in_(flags),
                                                       Flag.resolved_at.is_(None))
                                    .options(joinedload(Flag.user)).order_by(Flag.id)):
            flags[flag.post_id].append(flag)
    return [(p, flags[p.id]) for p in posts], total


def dismiss_flags(session: Session, actor: User, post: Post) -> None:
    """The flags were unfounded: resolve them, and show the post again if they had hidden it."""
    require(actor, "forum.moderate")
    was_hidden_by_flags = post.hidden and post.hidden_reason is None
    if post.open_flag_count == 0 and not was_hidden_by_flags:
        raise Conflict(_("That post has no flags waiting for review."))
    _resolve_flags(session, post)
    if was_hidden_by_flags:
        post.hidden_at = None
    _log(session, actor, ModerationAction.DISMISS_FLAGS, post.thread, post)
    session.flush()
    if was_hidden_by_flags:
        recount_replies(session, post.thread)
        _tell_author(session, post, f"Your post in “{post.thread.title}” was reviewed by a "
                                    "moderator and is visible again.")


def hide_post(session: Session, actor: User, post: Post, *, reason: str | None) -> None:
    """Hide a post with a reason the author is told."""
    require(actor, "forum.moderate")
    text = _reason(reason, required=True)
    if post.deleted:
        raise Conflict(_("That post was deleted by its author."))
    if post.hidden and post.hidden_reason:
        raise Conflict(_("That post is already hidden."))
    post.hidden_at = post.hidden_at or utcnow()
    post.hidden_reason = text
    _resolve_flags(session, post)
    _log(session, actor, ModerationAction.HIDE, post.thread, post, text)
    session.flush()
    recount_replies(session, post.thread)
    _tell_author(session, post, f"A moderator hid your post in “{post.thread.title}”. "
                                f"Reason: {text}")


def restore_post(session: Session, actor: User, post: Post, *, reason: str | None = "") -> None:
    """Show a hidden post again."""
    require(actor, "forum.moderate")
    text = _reason(reason, required=False)
    if not post.hidden:
        raise Conflict(_("That post is not hidden."))
    post.hidden_at = None
    post.hidden_reason = None
    _resolve_flags(session, post)
    _log(session, actor, ModerationAction.RESTORE, post.thread, post, text)
    session.flush()
    recount_replies(session, post.thread)
    _tell_author(session, post, f"A moderator restored your post in “{post.thread.title}”.")


def _tell_author(session: Session, post: Post, message: str) -> None:
    if post.author_id is not None:
        notify(session, post.author_id, kind="moderation", message=message,
               link=post_link(post.id), subject_ref=post_ref(post.id))


def _tell_thread_author(session: Session, thread: Thread, message: str) -> None:
    if thread.author_id is not None:
        notify(session, thread.author_id, kind="moderation", message=message,
               link=thread_link(thread.id), subject_ref=thread_ref(thread.id))


def lock_thread(session: Session, actor: User, thread: Thread, *, locked: bool,
                reason: str | None = "") -> None:
    require(actor, "forum.moderate")
    text = _reason(reason, required=False)
    if thread.locked == locked:
        raise Conflict(_("That thread is already locked.") if locked
                       else _("That thread is already open."))
    thread.locked = locked
    _log(session, actor, ModerationAction.LOCK if locked else ModerationAction.UNLOCK, thread,
         reason=text)
    session.flush()
    state = "locked" if locked else "reopened"
    _tell_thread_author(session, thread, f"A moderator {state} your thread “{thread.title}”."
                        + (f" Reason: {text}" if text else ""))


def pin_thread(session: Session, actor: User, thread: Thread, *, pinned: bool) -> None:
    require(actor, "forum.moderate")
    if thread.pinned == pinned:
        raise Conflict(_("That thread is already pinned.") if pinned
                       else _("That thread is already not pinned."))
    thread.pinned = pinned
    _log(session, actor, ModerationAction.PIN if pinned else ModerationAction.UNPIN, thread)
    session.flush()


def move_thread(session: Session, actor: User, thread: Thread, topic: Topic, *,
                reason: str | None = "") -> None:
    require(actor, "forum.moderate")
    text = _reason(reason, required=False)
    if topic.id == thread.topic_id:
        raise InvalidInput(_("The thread is already in that topic."), field="topic_id")
    if not topic.is_open:
        raise Closed(_("That topic is archived; threads cannot be moved into it."))
    # Logged against the topic it left, whose readers would otherwise miss it.
    _log(session, actor, ModerationAction.MOVE, thread,
         reason=text or f"Moved to “{topic.title}”.")
    thread.topic_id = topic.id
    session.flush()
    session.expire(thread, ["topic"])
    _tell_thread_author(session, thread, f"A moderator moved your thread “{thread.title}” "
                                         f"to the topic “{topic.title}”.")


def get_topic_or_404(session: Session, topic_id: int | None) -> Topic:
    topic = session.get(Topic, topic_id) if topic_id else None
    if topic is None:
        raise NotFound(_("There is no such topic."), field="topic_id")
    return topic


def counts_by_topic(session: Session) -> list[tuple[Topic, dict[str, int]]]:
    """Public: every topic with its moderation counts."""
    rows = session.execute(
        select(ForumModerationEntry.topic_id, ForumModerationEntry.action, func.count())
        .where(ForumModerationEntry.topic_id.is_not(None))
        .group_by(ForumModerationEntry.topic_id, ForumModerationEntry.action))
    counts: dict[int, dict[str, int]] = {}
    for topic_id, action, n in rows:
        counts.setdefault(topic_id, {})[ModerationAction(action).value] = int(n)
    topics = session.scalars(select(Topic).order_by(Topic.created_at.desc(), Topic.id.desc()))
    return [(topic, counts.get(topic.id, {})) for topic in topics]


def moderation_log(session: Session, actor: User, *, topic_id: int | None = None,
                   page: int = 1, per_page: int = 50) -> tuple[list[ForumModerationEntry], int]:
    """The full log with who and why: for moderators."""
    require(actor, "forum.moderate")
    stmt = select(ForumModerationEntry)
    if topic_id is not None:
        stmt = stmt.where(ForumModerationEntry.topic_id == topic_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    entries = session.scalars(
        stmt.options(joinedload(ForumModerationEntry.actor))
        .order_by(ForumModerationEntry.created_at.desc(), ForumModerationEntry.id.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page))
    return list(entries), total
