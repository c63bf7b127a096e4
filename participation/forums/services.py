"""Forum rules: topics, threads, replies, edits with history, deletion, flags, follows and search.

Plain functions `verb_noun(session, actor, ...)`: they flush, never commit, and raise domain errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, exists, extract, func, literal_column, or_, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from participation.accounts.models import User
from participation.accounts.services import personal_data
from participation.db import row_id, utcnow
from participation.errors import Closed, Conflict, Forbidden, InvalidInput, NotFound
from participation.forums.models import (
    Flag,
    FlagReason,
    ForumModerationEntry,
    ModerationAction,
    Post,
    PostRevision,
    Thread,
    ThreadFollow,
    Topic,
    TopicFollow,
    TopicStatus,
)
from participation.notifications.services import notify, register_visibility
from participation.security.permissions import Role, can, has_role, require
from participation.security.sanitize import clean_text, render_markdown
from participation.townhall.models import TownHall

TITLE_MAX = 200
BODY_MAX = 20_000
DESCRIPTION_MAX = 20_000
FLAG_DETAIL_MAX = 500
DEPARTMENT_MAX = 120
DEFAULT_FLAG_THRESHOLD = 3
SEARCH_TERMS_MAX = 12


def clean_title(title: str | None, *, field: str = "title") -> str:
    title = clean_text(title or "").strip()
    if not title:
        raise InvalidInput(_("Give it a title."), field=field)
    if len(title) > TITLE_MAX:
        raise InvalidInput(_(
            'Keep the title to %(TITLE_MAX)s characters or fewer (it has %(value)s).',
            TITLE_MAX=TITLE_MAX, value=len(title)), field=field)
    return title


def clean_body(body: str | None, *, field: str = "body", limit: int = BODY_MAX,
               required: bool = True) -> str:
    body = clean_text(body or "", multiline=True).strip()
    if required and not body:
        raise InvalidInput(_("Write something first."), field=field)
    if len(body) > limit:
        raise InvalidInput(_(
            'Keep it to %(limit)s characters or fewer (it has %(value)s).',
            limit=format(limit, ','), value=format(len(body), ',')),
                           field=field)
    return body


def thread_link(thread_id: int) -> str:
    return f"/threads/{thread_id}"


def post_link(post_id: int) -> str:
    return f"/posts/{post_id}"


def post_ref(post_id: int) -> str:
    """What a notice about a post names, so a digest can ask whether it is still visible."""
    return f"post:{post_id}"


def thread_ref(thread_id: int) -> str:
    return f"thread:{thread_id}"


def post_visible_to(session: Session, user: User, post_id: str) -> bool:
    """A notice about a post goes in a digest while its reader may still see it: never once it
    is deleted; while hidden, only to moderators and to its author (who is told why)."""
    post = session.get(Post, row_id(post_id)) if row_id(post_id) else None
    if post is None or post.deleted or not can(user, "forum.thread.view", post.thread):
        return False
    return post.public or can_see_hidden(user) or post.author_id == user.id


def thread_visible_to(session: Session, user: User, thread_id: str) -> bool:
    thread = session.get(Thread, row_id(thread_id)) if row_id(thread_id) else None
    return thread is not None and can(user, "forum.thread.view", thread)


register_visibility("post", post_visible_to)
register_visibility("thread", thread_visible_to)


# Topics


def get_topic(session: Session, topic_id: int) -> Topic:
    topic = session.get(Topic, topic_id)
    if topic is None:
        raise NotFound(_("There is no such topic."))
    return topic


def list_topics(session: Session, *, page: int = 1,
                per_page: int = 20) -> tuple[list[tuple[Topic, int]], int]:
    """Open topics first, newest first, each with its number of threads (and its town hall, so
    that whether the reader may see it is asked without a query per topic)."""
    total = session.scalar(select(func.count()).select_from(Topic)) or 0
    threads = (select(Thread.topic_id, func.count().label("n")).group_by(Thread.topic_id)
               .subquery())
    rows = session.execute(
        select(Topic, func.coalesce(threads.c.n, 0))
        .outerjoin(threads, threads.c.topic_id == Topic.id)
        .options(joinedload(Topic.townhall))
        .order_by((Topic.status == TopicStatus.OPEN).desc(), Topic.created_at.desc(),
                  Topic.id.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return [(topic, int(count)) for topic, count in rows], total


def _topic_fields(session: Session, title: str | None, description: str | None,
                  status: str | None, townhall_id: int | None) -> dict[str, Any]:
    try:
        topic_status = TopicStatus(status or TopicStatus.OPEN)
    except ValueError:
        raise InvalidInput(_("Choose open or archived."), field="status") from None
    if townhall_id is not None and (townhall_id < 1 or session.get(TownHall, townhall_id) is None):
        raise InvalidInput(_("There is no town hall with that number."), field="townhall_id")
    text = clean_body(description, field="description", limit=DESCRIPTION_MAX, required=False)
    return {"title": clean_title(title), "description": text,
            "description_html": render_markdown(text, field="description") if text else "",
            "status": topic_status, "townhall_id": townhall_id}


def create_topic(session: Session, actor: User, *, title: str | None,
                 description: str | None = "", status: str | None = "open",
                 townhall_id: int | None = None) -> Topic:
    require(actor, "forum.topic.create")
    topic = Topic(created_by_id=actor.id,
                  **_topic_fields(session, title, description, status, townhall_id))
    session.add(topic)
    session.flush()
    return topic


def update_topic(session: Session, actor: User, topic: Topic, *, title: str | None,
                 description: str | None, status: str | None,
                 townhall_id: int | None = None) -> None:
    require(actor, "forum.topic.edit", topic)
    for name, value in _topic_fields(session, title, description, status,
                                     townhall_id).items():
        setattr(topic, name, value)
    topic.updated_at = utcnow()
    session.flush()


def open_topics_except(session: Session, topic_id: int) -> list[Topic]:
    """Where a moderator may move a thread."""
    return list(session.scalars(select(Topic).where(Topic.id != topic_id,
                                                    Topic.status == TopicStatus.OPEN)
                                .order_by(Topic.title)))


def list_threads(session: Session, topic: Topic, *, page: int = 1, per_page: int = 50,
                 include_hidden: bool = True,
                 awaiting: bool = False) -> tuple[list[Thread], int]:
    """Pinned threads first, then the most recently active; with `awaiting`, only those that
    have no official response yet."""
    where = [Thread.topic_id == topic.id]
    if awaiting:
        where.append(_awaiting_response())
    if not include_hidden:
        where.append(~exists().where(Post.thread_id == Thread.id, Post.is_opening.is_(True),
                                     Post.hidden_at.is_not(None)))
    total = session.scalar(select(func.count()).select_from(Thread).where(*where)) or 0
    threads = session.scalars(
        select(Thread).where(*where)
        .options(joinedload(Thread.author), selectinload(Thread.opening_post))
        .order_by(Thread.pinned.desc(), Thread.last_activity_at.desc(), Thread.id.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(threads), total


def feed_threads(session: Session, topic: Topic, *, limit: int) -> list[tuple[Thread, Post]]:
    """A topic's threads for its public feed, newest first, each with its opening post; a
    thread hidden with its opening post is left out (a feed reader is anyone), and a deleted
    opening post gives no text."""
    rows = session.execute(
        select(Thread, Post).join(Post, and_(Post.thread_id == Thread.id,
                                             Post.is_opening.is_(True)))
        .where(Thread.topic_id == topic.id, Post.hidden_at.is_(None))
        .options(joinedload(Thread.author))
        .order_by(Thread.created_at.desc(), Thread.id.desc()).limit(limit)).all()
    return [(thread, post) for thread, post in rows]


# Threads and posts


def get_thread(session: Session, thread_id: int) -> Thread:
    thread = session.scalar(
        select(Thread).where(Thread.id == thread_id)
        .options(joinedload(Thread.topic), joinedload(Thread.author),
                 joinedload(Thread.opening_post))
    )
    if thread is None:
        raise NotFound(_("There is no such thread."))
    return thread


def get_post(session: Session, post_id: int) -> Post:
    post = session.scalar(
        select(Post).where(Post.id == post_id)
        .options(joinedload(Post.thread).joinedload(Thread.topic), joinedload(Post.author))
    )
    if post is None:
        raise NotFound(_("There is no such post."))
    return post


def quotable_post(session: Session, thread: Thread, quote_id: object) -> Post | None:
    """The public post of this thread that `quote_id` names, or None for anything else."""
    post_id = row_id(quote_id)
    if post_id is None:
        return None
    post = session.get(Post, post_id)
    if post is None or post.thread_id != thread.id or not post.public:
        return None
    return post


def thread_posts(session: Session, thread: Thread, *, page: int = 1,
                 per_page: int = 100) -> tuple[list[Post], int]:
    """The opening post and replies in order, with authors and quoted posts loaded."""
    total = session.scalar(
        select(func.count()).select_from(Post).where(Post.thread_id == thread.id)) or 0
    quoted = aliased(Post)
    posts = session.scalars(
        select(Post).where(Post.thread_id == thread.id)
        .options(joinedload(Post.author),
                 joinedload(Post.quote_of.of_type(quoted)).joinedload(quoted.author))
        .order_by(Post.is_opening.desc(), Post.created_at, Post.id)
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(posts), total


def post_position(session: Session, post: Post) -> int:
    """The 0-based place of `post` in its thread, to find its page."""
    if post.is_opening:
        return 0
    return 1 + (session.scalar(
        select(func.count()).select_from(Post).where(
            Post.thread_id == post.thread_id, Post.is_opening.is_(False),
            or_(Post.created_at < post.created_at,
                and_(Post.created_at == post.created_at, Post.id < post.id)))
    ) or 0)


def can_see_hidden(actor: User | None) -> bool:
    return has_role(actor, Role.MODERATOR)


def _check_open_for_posting(thread: Thread) -> None:
    if not thread.topic.is_open:
        raise Closed(_("This topic is archived: it takes no new posts or edits."))
    if thread.locked:
        raise Closed(_("This thread is locked: it takes no new posts or edits."))
    if thread.hidden:
        raise Closed(_("This thread is hidden pending review."))


def start_thread(session: Session, actor: User, topic: Topic, *, title: str | None,
                 body: str | None) -> Thread:
    """A resident opens a discussion; they follow it from the start."""
    require(actor, "forum.post")
    if not topic.is_open:
        raise Closed(_("This topic is archived: it takes no new threads."))
    title = clean_title(title)
    body = clean_body(body)
    body_html = render_markdown(body, field="body")
    now = utcnow()
    thread = Thread(topic_id=topic.id, author_id=actor.id, title=title, created_at=now,
                    last_activity_at=now)
    session.add(thread)
    session.flush()
    session.add(Post(thread_id=thread.id, author_id=actor.id, is_opening=True, body=body,
                     body_html=body_html, created_at=now))
    session.add(ThreadFollow(user_id=actor.id, thread_id=thread.id))
    session.flush()
    return thread


def reply_to_thread(session: Session, actor: User, thread: Thread, *, body: str | None,
                    quote_of_id: int | None = None) -> Post:
    """Add a reply and tell the thread's followers (except the one replying)."""
    require(actor, "forum.post")
    _check_open_for_posting(thread)
    return _add_reply(session, actor, thread, body=body, quote_of_id=quote_of_id)


def _add_reply(session: Session, actor: User, thread: Thread, *, body: str | None,
               quote_of_id: int | None = None, official_department: str | None = None) -> Post:
    body = clean_body(body)
    quote: Post | None = None
    if quote_of_id is not None:
        quote = session.get(Post, quote_of_id) if row_id(quote_of_id) else None
        if quote is None or quote.thread_id != thread.id:
            raise InvalidInput(_("You can only quote a post in this thread."), field="body")
        if not quote.public:
            raise Closed(_("That post is hidden or deleted and cannot be quoted."))
    now = utcnow()
    post = Post(thread_id=thread.id, author_id=actor.id, body=body,
                body_html=render_markdown(body, field="body"), created_at=now,
                quote_of_id=quote.id if quote else None,
                official_department=official_department)
    session.add(post)
    thread.last_activity_at = now
    thread.reply_count = thread.reply_count + 1
    session.flush()
    followers = session.scalars(
        select(ThreadFollow.user_id).where(ThreadFollow.thread_id == thread.id,
                                           ThreadFollow.user_id != actor.id))
    message = (f"{official_department} answered officially in “{thread.title}”."
               if official_department else f"{actor.public_name} replied in “{thread.title}”.")
    for user_id in followers:
        notify(session, user_id, kind="reply", message=message,
               link=post_link(post.id), subject_ref=post_ref(post.id))
    return post


# Official responses: the city's answer in a thread, with the department it speaks for.


def clean_department(department: str | None) -> str:
    department = clean_text(department or "").strip()
    if not department:
        raise InvalidInput(_("Enter the department that answers."), field="department")
    if len(department) > DEPARTMENT_MAX:
        raise InvalidInput(_(
            "Keep the department to %(limit)s characters or fewer (it has %(value)s).",
            limit=DEPARTMENT_MAX, value=len(department)), field="department")
    return department


def respond_officially(session: Session, actor: User, thread: Thread, *, body: str | None,
                       department: str | None) -> Post:
    """An official answers the thread for a department. The first such answer is the one whose
    time the thread shows and the figures count."""
    require(actor, "forum.respond", thread)
    _check_open_for_posting(thread)
    department = clean_department(department)
    return _add_reply(session, actor, thread, body=body, official_department=department)


def last_department(session: Session, actor: User | None) -> str:
    """The department of this official's latest official response, to fill the form with."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return ""
    return session.scalar(
        select(Post.official_department)
        .where(Post.author_id == actor.id, Post.official_department.is_not(None))
        .order_by(Post.created_at.desc(), Post.id.desc()).limit(1)) or ""


def _counted_response() -> list[Any]:
    """What makes a post the thread's answer: an official response that is shown (a hidden one
    is in the moderation log, and the thread waits again)."""
    return [Post.official_department.is_not(None), Post.deleted_at.is_(None),
            Post.hidden_at.is_(None)]


def _awaiting_response() -> Any:
    return ~exists().where(Post.thread_id == Thread.id, *_counted_response())


def _thread_shown() -> Any:
    opening = aliased(Post)
    return ~exists().where(opening.thread_id == Thread.id, opening.is_opening.is_(True),
                           opening.hidden_at.is_not(None))


def first_responses(session: Session, thread_ids: list[int]) -> dict[int, Post]:
    """For each of these threads that has one, its first official response (in one query)."""
    found: dict[int, Post] = {}
    if not thread_ids:
        return found
    for post in session.scalars(
            select(Post).where(Post.thread_id.in_(sorted(set(thread_ids))),
                               *_counted_response())
            .order_by(Post.thread_id, Post.created_at, Post.id)):
        found.setdefault(post.thread_id, post)
    return found


def awaiting_threads(session: Session, *, page: int = 1,
                     per_page: int = 50) -> tuple[list[Thread], int]:
    """The officials' queue: shown, unlocked threads of open topics with no official response
    yet, the longest waiting first."""
    where = [_awaiting_response(), _thread_shown(), Thread.locked.is_(False),
             Topic.status == TopicStatus.OPEN]
    base = select(Thread).join(Topic, Topic.id == Thread.topic_id).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    threads = session.scalars(
        base.options(joinedload(Thread.author), joinedload(Thread.topic))
        .order_by(Thread.created_at, Thread.id)
        .limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
    return list(threads), total


@dataclass(frozen=True)
class ResponseTimes:
    """How the city answers in the forums, for threads started in a period."""

    started: int
    answered: int
    # From a thread's start to its first official response, in seconds; None with no answer.
    median_seconds: float | None

    @property
    def share_answered(self) -> float | None:
        return self.answered / self.started if self.started else None


def _seconds_between(session: Session, start: Any, end: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return extract("epoch", end - start)


def response_times(session: Session, since: datetime | None = None,
                   until: datetime | None = None) -> ResponseTimes:
    """Threads started from `since` (included) to `until` (excluded), leaving out those hidden by
    moderation; how many have an official response; the median time to the first one. Two
    statements, whatever the number of threads."""
    if since is not None and until is not None and since >= until:
        raise InvalidInput(_("The period must end after it starts."))
    first = (select(Post.thread_id, func.min(Post.created_at).label("answered_at"))
             .where(*_counted_response()).group_by(Post.thread_id).subquery())
    where = [_thread_shown()]
    if since is not None:
        where.append(Thread.created_at >= since)
    if until is not None:
        where.append(Thread.created_at < until)
    started, answered = session.execute(
        select(func.count(Thread.id), func.count(first.c.thread_id))
        .select_from(Thread).outerjoin(first, first.c.thread_id == Thread.id).where(*where)).one()
    median = None
    if answered:
        seconds = _seconds_between(session, Thread.created_at, first.c.answered_at)
        middle = session.scalars(
            select(seconds).select_from(Thread).join(first, first.c.thread_id == Thread.id)
            .where(*where).order_by(seconds)
            .offset((answered - 1) // 2).limit(1 if answered % 2 else 2)).all()
        median = sum(float(value) for value in middle) / len(middle)
    return ResponseTimes(started=int(started), answered=int(answered), median_seconds=median)


def _check_author_may_change(actor: User, post: Post, action: str) -> None:
    require(actor, action, post)
    if post.deleted:
        raise Conflict(_("That post was deleted."))
    if post.hidden:
        raise Closed(_("That post is hidden by moderation and cannot be changed."))
    _check_open_for_posting(post.thread)


def edit_post(session: Session, actor: User, post: Post, *, body: str | None,
              title: str | None = None) -> bool:
    """Replace the author's post, keeping the earlier version. False when nothing changed."""
    _check_author_may_change(actor, post, "forum.post.edit")
    body = clean_body(body)
    new_title = clean_title(title) if post.is_opening else None
    old_title = post.thread.title if post.is_opening else None
    if body == post.body and new_title == old_title:
        return False
    body_html = render_markdown(body, field="body")
    session.add(PostRevision(post_id=post.id, title=old_title, body=post.body,
                             body_html=post.body_html,
                             written_at=post.edited_at or post.created_at))
    post.body = body
    post.body_html = body_html
    post.edited_at = utcnow()
    if new_title is not None:
        post.thread.title = new_title
    session.flush()
    return True


def check_deletable(actor: User, post: Post) -> None:
    """Refuse to withdraw an official response: it is corrected by editing, which keeps its
    earlier versions, and never removed."""
    require(actor, "forum.post.delete", post)
    if post.is_official_response:
        raise Conflict(_("An official response cannot be deleted. Edit it instead: its earlier "
                         "versions stay readable."))


def delete_post(session: Session, actor: User, post: Post) -> None:
    """The author withdraws a post: it shows as deleted, replies to it stay."""
    _check_author_may_change(actor, post, "forum.post.delete")
    check_deletable(actor, post)
    post.deleted_at = utcnow()
    session.flush()
    recount_replies(session, post.thread)


def post_revisions(session: Session, actor: User, post: Post) -> list[PostRevision]:
    """Earlier versions, newest first: for moderators and the author."""
    require(actor, "forum.post.history", post)
    return list(session.scalars(
        select(PostRevision).where(PostRevision.post_id == post.id)
        .order_by(PostRevision.replaced_at.desc(), PostRevision.id.desc())))


def recount_replies(session: Session, thread: Thread) -> None:
    thread.reply_count = session.scalar(
        select(func.count()).select_from(Post).where(
            Post.thread_id == thread.id, Post.is_opening.is_(False),
            Post.deleted_at.is_(None), Post.hidden_at.is_(None))
    ) or 0
    session.flush()


# Flags


def flag_post(session: Session, actor: User, post: Post, *, reason: str | None,
              detail: str | None = "", threshold: int = DEFAULT_FLAG_THRESHOLD) -> Flag:
    """Record a resident's flag; the flag that reaches `threshold` hides the post for review."""
    require(actor, "forum.post")
    if not can(actor, "forum.flag", post):
        raise Forbidden(_("You cannot flag your own post."))
    try:
        flag_reason = FlagReason(reason or "")
    except ValueError:
        raise InvalidInput(_("Choose a reason."), field="reason") from None
    detail = clean_text(detail or "").strip()
    if flag_reason == FlagReason.OTHER and not detail:
        raise InvalidInput(_("Say what is wrong with the post."), field="detail")
    if len(detail) > FLAG_DETAIL_MAX:
        raise InvalidInput(_(
            'Keep it to %(FLAG_DETAIL_MAX)s characters or fewer.',
            FLAG_DETAIL_MAX=FLAG_DETAIL_MAX), field="detail")
    if post.deleted:
        raise Conflict(_("That post was deleted."))
    if post.hidden:
        raise Closed(_("That post is already hidden and waiting for a moderator."))
    already = session.scalar(select(exists().where(Flag.post_id == post.id,
                                                   Flag.user_id == actor.id)))
    if already:
        raise Conflict(_("You have already flagged this post."))
    flag = Flag(post_id=post.id, user_id=actor.id, reason=flag_reason, detail=detail)
    session.add(flag)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_("You have already flagged this post.")) from None
    post.open_flag_count = session.scalar(
        select(func.count()).select_from(Flag).where(Flag.post_id == post.id,
                                                     Flag.resolved_at.is_(None))) or 0
    if post.open_flag_count >= max(threshold, 1):
        _hide_for_review(session, post)
    session.flush()
    return flag


def _hide_for_review(session: Session, post: Post) -> None:
    thread = post.thread
    post.hidden_at = utcnow()
    post.hidden_reason = None
    session.add(ForumModerationEntry(actor_id=None, action=ModerationAction.AUTO_HIDE,
                                     topic_id=thread.topic_id, thread_id=thread.id,
                                     post_id=post.id,
                                     reason="Reached the number of flags that hides a post."))
    session.flush()
    recount_replies(session, thread)
    if post.author_id is not None:
        notify(session, post.author_id, kind="moderation",
               message=f"Your post in “{thread.title}” was flagged by several residents and is "
                       "hidden until a moderator reviews it.",
               link=post_link(post.id), subject_ref=post_ref(post.id))


def flagged_post_ids(session: Session, actor: User | None, post_ids: list[int]) -> set[int]:
    """Which of these posts `actor` has flagged, in one query."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not post_ids:
        return set()
    return set(session.scalars(select(Flag.post_id).where(Flag.user_id == actor.id,
                                                          Flag.post_id.in_(post_ids))))


# Follows


def is_following(session: Session, actor: User | None, thread: Thread) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    return bool(session.scalar(select(exists().where(ThreadFollow.user_id == actor.id,
                                                     ThreadFollow.thread_id == thread.id))))


def follow_thread(session: Session, actor: User, thread: Thread) -> None:
    require(actor, "forum.follow", thread)
    if is_following(session, actor, thread):
        return
    session.add(ThreadFollow(user_id=actor.id, thread_id=thread.id))
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        pass  # followed in a concurrent request: the outcome is the same


def unfollow_thread(session: Session, actor: User, thread: Thread) -> None:
    require(actor, "forum.follow", thread)
    follow = session.scalar(select(ThreadFollow).where(ThreadFollow.user_id == actor.id,
                                                       ThreadFollow.thread_id == thread.id))
    if follow is not None:
        session.delete(follow)
        session.flush()


def is_following_topic(session: Session, actor: User | None, topic: Topic) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    return bool(session.scalar(select(exists().where(TopicFollow.user_id == actor.id,
                                                     TopicFollow.topic_id == topic.id))))


def follow_topic(session: Session, actor: User, topic: Topic) -> None:
    """Hear when a poll opens in this topic."""
    require(actor, "forum.follow", topic)
    if is_following_topic(session, actor, topic):
        return
    session.add(TopicFollow(user_id=actor.id, topic_id=topic.id))
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        pass  # followed in a concurrent request: the outcome is the same


def unfollow_topic(session: Session, actor: User, topic: Topic) -> None:
    require(actor, "forum.follow", topic)
    follow = session.scalar(select(TopicFollow).where(TopicFollow.user_id == actor.id,
                                                      TopicFollow.topic_id == topic.id))
    if follow is not None:
        session.delete(follow)
        session.flush()


def topic_followers(session: Session, topic_ids: list[int]) -> dict[int, list[int]]:
    """For each of these topics, the accounts following it (in one query)."""
    found: dict[int, list[int]] = {}
    if not topic_ids:
        return found
    for topic_id, user_id in session.execute(
            select(TopicFollow.topic_id, TopicFollow.user_id)
            .where(TopicFollow.topic_id.in_(sorted(set(topic_ids))))
            .order_by(TopicFollow.topic_id, TopicFollow.user_id)):
        found.setdefault(topic_id, []).append(user_id)
    return found


# Search

_WORD = re.compile(r"\w+", re.UNICODE)
_fts = table("forum_search")


def search_terms(query: str | None) -> list[str]:
    """The words of a search, without any query-language syntax."""
    words = _WORD.findall(clean_text(query or "").lower())
    return [w for w in words if w.strip("_")][:SEARCH_TERMS_MAX]


def search_posts(session: Session, query: str | None, *, page: int = 1,
                 per_page: int = 20) -> tuple[list[Post], int]:
    """Posts (and thread titles) matching every word, hidden and deleted ones left out."""
    terms = search_terms(query)
    if not terms:
        return [], 0
    opening = aliased(Post)
    visible = [
        Post.deleted_at.is_(None), Post.hidden_at.is_(None),
        ~exists().where(opening.thread_id == Post.thread_id, opening.is_opening.is_(True),
                        opening.hidden_at.is_not(None)),
    ]
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        match = " ".join('"' + term.replace('"', "") + '"' for term in terms)
        rowid = literal_column("forum_search.rowid")
        stmt = (select(Post).join(_fts, rowid == Post.id)
                .where(literal_column("forum_search").op("MATCH")(match), *visible))
        order = [literal_column("forum_search.rank"), Post.created_at.desc()]
    else:
        config = literal_column("'english'::regconfig")
        tsquery = func.plainto_tsquery(config, " ".join(terms))
        body_vector = func.to_tsvector(config, Post.body)
        title_vector = func.to_tsvector(config, Thread.title)
        stmt = (select(Post).join(Thread, Thread.id == Post.thread_id)
                .where(or_(body_vector.bool_op("@@")(tsquery),
                           and_(Post.is_opening.is_(True), title_vector.bool_op("@@")(tsquery))),
                       *visible))
        order = [func.ts_rank(body_vector, tsquery).desc(), Post.created_at.desc()]
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    posts = session.scalars(
        stmt.options(joinedload(Post.author), joinedload(Post.thread).joinedload(Thread.topic))
        .order_by(*order, Post.id.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).unique().all()
    return list(posts), total


# Download my data


@personal_data("forum_posts")
def export_forum_posts(session: Session, user: User) -> list[dict[str, Any]]:
    posts = session.scalars(select(Post).where(Post.author_id == user.id)
                            .options(joinedload(Post.thread)).order_by(Post.id))
    revisions: dict[int, list[dict[str, Any]]] = {}
    for revision in session.scalars(
            select(PostRevision).join(Post, Post.id == PostRevision.post_id)
            .where(Post.author_id == user.id).order_by(PostRevision.id)):
        revisions.setdefault(revision.post_id, []).append({
            "title": revision.title, "body": revision.body,
            "written_at": revision.written_at.isoformat(),
            "replaced_at": revision.replaced_at.isoformat()})
    return [{
        "id": p.id, "thread_id": p.thread_id,
        "thread_title": p.thread.title if p.is_opening else None,
        "body": p.body, "created_at": p.created_at.isoformat(),
        "edited_at": p.edited_at.isoformat() if p.edited_at else None,
        "deleted_at": p.deleted_at.isoformat() if p.deleted_at else None,
        "hidden_at": p.hidden_at.isoformat() if p.hidden_at else None,
        "hidden_reason": p.hidden_reason,
        "earlier_versions": revisions.get(p.id, []),
    } for p in posts]


@personal_data("forum_flags")
def export_forum_flags(session: Session, user: User) -> list[dict[str, Any]]:
    return [{"post_id": f.post_id, "reason": f.reason.value, "detail": f.detail,
             "created_at": f.created_at.isoformat()}
            for f in session.scalars(select(Flag).where(Flag.user_id == user.id)
                                     .order_by(Flag.id))]


@personal_data("forum_follows")
def export_forum_follows(session: Session, user: User) -> list[dict[str, Any]]:
    return [{"thread_id": f.thread_id, "since": f.created_at.isoformat()}
            for f in session.scalars(select(ThreadFollow).where(ThreadFollow.user_id == user.id)
                                     .order_by(ThreadFollow.id))]


@personal_data("forum_topic_follows")
def export_topic_follows(session: Session, user: User) -> list[dict[str, Any]]:
    return [{"topic_id": f.topic_id, "since": f.created_at.isoformat()}
            for f in session.scalars(select(TopicFollow).where(TopicFollow.user_id == user.id)
                                     .order_by(TopicFollow.id))]


def moderation_counts(session: Session, topic_id: int | None = None) -> dict[str, int]:
    """Public: how many of each moderation action, for one topic or the whole forum."""
    stmt = select(ForumModerationEntry.action, func.count()).group_by(
        ForumModerationEntry.action)
    if topic_id is not None:
        stmt = stmt.where(ForumModerationEntry.topic_id == topic_id)
    return {ModerationAction(action).value: int(n) for action, n in session.execute(stmt)}


def public_posts(session: Session, thread: Thread) -> list[Post]:
    """The posts of a thread everyone may read, opening post first, then in order."""
    return [post for post in session.scalars(
        select(Post).where(Post.thread_id == thread.id)
        .order_by(Post.is_opening.desc(), Post.created_at, Post.id)) if post.public]


def recently_active_threads(session: Session, limit: int) -> list[Thread]:
    """Threads with the latest activity first (visibility is the caller's to ask)."""
    return list(session.scalars(select(Thread).order_by(Thread.last_activity_at.desc())
                                .limit(limit)))
