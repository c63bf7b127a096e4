"""Forum rules, tested directly with a session."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from participation.accounts import services as accounts
from participation.errors import (
    Closed,
    Conflict,
    Forbidden,
    InvalidInput,
    TextTooComplex,
    Unauthorized,
)
from participation.forums import services
from participation.forums.models import (
    Flag,
    ForumModerationEntry,
    ModerationAction,
    Post,
    PostRevision,
    Thread,
    ThreadFollow,
    TopicStatus,
)
from participation.moderation import services as moderation
from participation.notifications import services as notifications
from participation.notifications.models import Notification
from participation.security.permissions import Role
from tests.security.pathological import wide_table


def _notices(session, user):
    return list(session.scalars(select(Notification).where(Notification.user_id == user.id)
                                .order_by(Notification.id)))


def test_only_officials_and_admins_open_topics(session, make_user, linked_townhall):
    resident = make_user()
    with pytest.raises(Forbidden):
        services.create_topic(session, resident, title="Mine", description="")
    for role in (Role.OFFICIAL, Role.ADMIN):
        topic = services.create_topic(session, make_user(role), title=f"By {role}",
                                      description="*Why*", townhall_id=linked_townhall.id)
        assert topic.description_html.strip() == "<p><em>Why</em></p>"
        assert topic.townhall_id == linked_townhall.id and topic.status is TopicStatus.OPEN


def test_topic_with_bad_fields_is_refused(session, official):
    with pytest.raises(InvalidInput) as error:
        services.create_topic(session, official, title="  ", description="")
    assert error.value.field == "title"
    with pytest.raises(InvalidInput) as error:
        services.create_topic(session, official, title="T", description="", status="deleted")
    assert error.value.field == "status"
    with pytest.raises(InvalidInput) as error:
        services.create_topic(session, official, title="T", description="", townhall_id=0)
    assert error.value.field == "townhall_id"
    with pytest.raises(InvalidInput) as error:
        services.create_topic(session, official, title="T", description="", townhall_id=999)
    assert error.value.field == "townhall_id"


def test_start_thread_stores_source_and_html_and_follows(session, topic, make_user):
    author = make_user()
    thread = services.start_thread(session, author, topic, title="Oaks",
                                   body="Keep **all** of them")
    session.commit()
    opening = thread.opening_post
    assert opening.is_opening and opening.body == "Keep **all** of them"
    assert opening.body_html.strip() == "<p>Keep <strong>all</strong> of them</p>"
    assert services.is_following(session, author, thread)


@pytest.mark.parametrize(("body", "message"), [
    ("", "Write something first."),
    ("   \n  ", "Write something first."),
    ("x" * (services.BODY_MAX + 1), "20,000 characters"),
])
def test_empty_or_overlong_body_is_refused_and_nothing_is_added(session, topic, make_user,
                                                                 body, message):
    with pytest.raises(InvalidInput, match=message) as error:
        services.start_thread(session, make_user(), topic, title="Fine", body=body)
    assert error.value.field == "body"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Post)) == 0


def test_body_of_exactly_the_limit_is_accepted(session, topic, make_user):
    thread = services.start_thread(session, make_user(), topic, title="Long",
                                   body="y" * services.BODY_MAX)
    assert len(thread.opening_post.body) == services.BODY_MAX


def test_visitor_cannot_post(session, topic):
    with pytest.raises(Unauthorized):
        services.start_thread(session, None, topic, title="T", body="B")


def test_reply_notifies_followers_but_not_the_replier(session, make_thread, make_reply,
                                                      make_user):
    author = make_user()
    thread = make_thread(author)
    replier = make_user(name="Sam")
    reply = make_reply(thread, replier, body="Me too")
    notices = _notices(session, author)
    assert [n.kind for n in notices] == ["reply"]
    assert "Sam replied" in notices[0].message and notices[0].link == f"/posts/{reply.id}"
    assert _notices(session, replier) == []
    assert thread.reply_count == 1


def test_quote_must_be_a_visible_post_of_the_same_thread(session, make_thread, make_reply,
                                                         make_user):
    thread, other = make_thread(), make_thread(title="Other")
    first = make_reply(thread)
    quoting = make_reply(thread, body="Quoting", quote_of_id=first.id)
    assert quoting.quote_of.id == first.id
    with pytest.raises(InvalidInput):
        services.reply_to_thread(session, make_user(), other, body="x", quote_of_id=first.id)
    session.rollback()
    services.delete_post(session, first.author, first)
    session.commit()
    with pytest.raises(Closed):
        services.reply_to_thread(session, make_user(), thread, body="x", quote_of_id=first.id)


def test_edit_keeps_every_earlier_version(session, make_thread, make_user):
    author = make_user()
    thread = make_thread(author, title="First title", body="one")
    post = thread.opening_post
    assert services.edit_post(session, author, post, body="two", title="Second title")
    assert services.edit_post(session, author, post, body="three", title="Second title")
    assert not services.edit_post(session, author, post, body="three", title="Second title")
    session.commit()
    assert post.edited_at is not None and post.body == "three"
    assert thread.title == "Second title"
    revisions = services.post_revisions(session, author, post)
    assert [(r.title, r.body) for r in revisions] == [("Second title", "two"),
                                                      ("First title", "one")]


def test_someone_elses_post_cannot_be_edited_deleted_or_its_history_read(session, make_thread,
                                                                         make_user, moderator):
    thread = make_thread(body="original")
    post = thread.opening_post
    stranger = make_user()
    with pytest.raises(Forbidden):
        services.edit_post(session, stranger, post, body="defaced", title="defaced")
    with pytest.raises(Forbidden):
        services.delete_post(session, stranger, post)
    with pytest.raises(Forbidden):
        services.post_revisions(session, stranger, post)
    session.rollback()
    assert post.body == "original" and post.deleted_at is None
    assert services.post_revisions(session, moderator, post) == []


def test_deleted_post_shows_as_deleted_and_replies_stay(session, make_thread, make_reply):
    thread = make_thread()
    first = make_reply(thread)
    second = make_reply(thread, quote_of_id=first.id)
    services.delete_post(session, first.author, first)
    session.commit()
    assert first.deleted and thread.reply_count == 1
    assert session.get(Post, second.id) is not None
    with pytest.raises(Conflict):
        services.edit_post(session, first.author, first, body="back")


def test_locked_thread_and_archived_topic_take_nothing_new(session, topic, make_thread,
                                                           make_reply, make_user, moderator,
                                                           official):
    author = make_user()
    thread = make_thread(author)
    reply = make_reply(thread, author)
    moderation.lock_thread(session, moderator, thread, locked=True)
    session.commit()
    for attempt in (
        lambda: services.reply_to_thread(session, make_user(), thread, body="x"),
        lambda: services.edit_post(session, author, reply, body="changed"),
        lambda: services.delete_post(session, author, reply),
    ):
        with pytest.raises(Closed, match="locked"):
            attempt()
        session.rollback()
    moderation.lock_thread(session, moderator, thread, locked=False)
    services.update_topic(session, official, topic, title=topic.title, description="",
                          status="archived")
    session.commit()
    with pytest.raises(Closed, match="archived"):
        services.reply_to_thread(session, make_user(), thread, body="x")
    session.rollback()
    with pytest.raises(Closed, match="archived"):
        services.start_thread(session, make_user(), topic, title="New", body="x")
    session.rollback()
    assert reply.body == "Agreed." and thread.reply_count == 1


def test_third_flag_hides_the_post_for_review_and_tells_the_author(session, make_thread,
                                                                   make_user):
    author = make_user()
    thread = make_thread(author)
    post = thread.opening_post
    flaggers = [make_user() for _ in range(3)]
    for n, flagger in enumerate(flaggers, start=1):
        services.flag_post(session, flagger, post, reason="abusive", threshold=3)
        session.commit()
        assert post.open_flag_count == n
        assert post.hidden is (n == 3)
    assert thread.hidden and post.hidden_reason is None
    entry = session.scalar(select(ForumModerationEntry))
    assert entry.action is ModerationAction.AUTO_HIDE and entry.actor_id is None
    assert [n.kind for n in _notices(session, author)] == ["moderation"]
    with pytest.raises(Closed):
        services.reply_to_thread(session, make_user(), thread, body="x")


def test_flag_once_with_a_reason_never_your_own(session, make_thread, make_user):
    author = make_user()
    post = make_thread(author).opening_post
    flagger = make_user()
    with pytest.raises(Forbidden):
        services.flag_post(session, author, post, reason="spam")
    with pytest.raises(InvalidInput) as error:
        services.flag_post(session, flagger, post, reason="boring")
    assert error.value.field == "reason"
    with pytest.raises(InvalidInput) as error:
        services.flag_post(session, flagger, post, reason="other", detail="  ")
    assert error.value.field == "detail"
    session.rollback()
    services.flag_post(session, flagger, post, reason="other", detail="Names a neighbour")
    session.commit()
    with pytest.raises(Conflict):
        services.flag_post(session, flagger, post, reason="spam")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Flag)) == 1


def test_moderator_restores_hidden_post_and_author_is_told(session, make_thread, make_user,
                                                           moderator):
    author = make_user()
    thread = make_thread(author)
    post = thread.opening_post
    for _ in range(3):
        services.flag_post(session, make_user(), post, reason="spam")
    session.commit()
    queue, total = moderation.flag_queue(session, moderator)
    assert total == 1 and queue[0][0].id == post.id and len(queue[0][1]) == 3
    moderation.restore_post(session, moderator, post)
    session.commit()
    assert not post.hidden and post.open_flag_count == 0
    assert moderation.flag_queue(session, moderator)[1] == 0
    kinds = [n.message for n in _notices(session, author)]
    assert len(kinds) == 2 and "restored" in kinds[1]
    counts = services.moderation_counts(session, thread.topic_id)
    assert counts == {"auto_hide": 1, "restore": 1}


def test_hide_needs_a_reason_and_the_author_sees_it(session, make_thread, make_reply, make_user,
                                                    moderator):
    thread = make_thread()
    reply = make_reply(thread)
    with pytest.raises(InvalidInput):
        moderation.hide_post(session, moderator, reply, reason=" ")
    session.rollback()
    moderation.hide_post(session, moderator, reply, reason="Personal details of a neighbour")
    session.commit()
    assert reply.hidden and reply.hidden_reason == "Personal details of a neighbour"
    assert thread.reply_count == 0
    notice = _notices(session, reply.author)[-1]
    assert "Personal details of a neighbour" in notice.message
    with pytest.raises(Closed):
        services.edit_post(session, reply.author, reply, body="sorry")
    with pytest.raises(Closed):
        services.flag_post(session, make_user(), reply, reason="spam")


def test_residents_cannot_moderate(session, make_thread, make_user):
    thread = make_thread()
    resident = make_user()
    for attempt in (
        lambda: moderation.hide_post(session, resident, thread.opening_post, reason="x"),
        lambda: moderation.lock_thread(session, resident, thread, locked=True),
        lambda: moderation.pin_thread(session, resident, thread, pinned=True),
        lambda: moderation.flag_queue(session, resident),
    ):
        with pytest.raises(Forbidden):
            attempt()
    assert not thread.locked and not thread.pinned


def test_dismissing_flags_shows_an_auto_hidden_post_again(session, make_thread, make_user,
                                                          moderator):
    post = make_thread().opening_post
    for _ in range(3):
        services.flag_post(session, make_user(), post, reason="off_topic")
    moderation.dismiss_flags(session, moderator, post)
    session.commit()
    assert not post.hidden and post.open_flag_count == 0
    assert session.scalar(select(func.count()).select_from(Flag)
                          .where(Flag.resolved_at.is_(None))) == 0
    with pytest.raises(Conflict):
        moderation.dismiss_flags(session, moderator, post)


def test_move_pin_and_counts_per_topic(session, make_topic, make_thread, moderator):
    first, second = make_topic("First"), make_topic("Second")
    archived = make_topic("Old", status="archived")
    thread = make_thread(in_topic=first)
    moderation.pin_thread(session, moderator, thread, pinned=True)
    with pytest.raises(Closed):
        moderation.move_thread(session, moderator, thread, archived)
    moderation.move_thread(session, moderator, thread, second, reason="Belongs there")
    session.commit()
    assert thread.topic_id == second.id and thread.pinned
    assert services.moderation_counts(session, first.id) == {"pin": 1, "move": 1}
    by_topic = {t.title: c for t, c in moderation.counts_by_topic(session)}
    assert by_topic["Second"] == {} and by_topic["First"]["move"] == 1
    entries, _ = moderation.moderation_log(session, moderator)
    assert entries[0].reason == "Belongs there" and entries[0].actor_id == moderator.id


def test_unfollow_stops_reply_notices(session, make_thread, make_reply, make_user):
    author = make_user()
    thread = make_thread(author)
    services.unfollow_thread(session, author, thread)
    session.commit()
    make_reply(thread)
    assert _notices(session, author) == []
    follower = make_user()
    services.follow_thread(session, follower, thread)
    services.follow_thread(session, follower, thread)
    session.commit()
    assert session.scalar(select(func.count()).select_from(ThreadFollow)
                          .where(ThreadFollow.user_id == follower.id)) == 1
    make_reply(thread)
    assert len(_notices(session, follower)) == 1
    assert notifications.unread_count(session, follower) == 1
    assert notifications.mark_all_read(session, follower) == 1
    assert notifications.unread_count(session, follower) == 0


def test_personal_data_includes_posts_revisions_flags_follows_notices(session, make_thread,
                                                                      make_reply, make_user):
    author = make_user()
    thread = make_thread(author, body="v1")
    services.edit_post(session, author, thread.opening_post, body="v2", title=thread.title)
    reply = make_reply(thread)
    services.flag_post(session, author, reply, reason="spam")
    session.commit()
    data = accounts.export_personal_data(session, author)
    assert data["forum_posts"][0]["body"] == "v2"
    assert data["forum_posts"][0]["earlier_versions"][0]["body"] == "v1"
    assert data["forum_flags"][0]["reason"] == "spam"
    assert data["forum_follows"][0]["thread_id"] == thread.id
    assert [n["kind"] for n in data["notifications"]] == ["reply"]


def test_revision_rows_are_kept(session, make_thread):
    thread = make_thread()
    services.edit_post(session, thread.author, thread.opening_post, body="new",
                       title=thread.title)
    session.commit()
    assert session.scalar(select(func.count()).select_from(PostRevision)) == 1


WIDE_TABLE = wide_table(9_910)


def test_a_too_complex_opening_post_writes_nothing(session, resident, topic):
    threads = session.scalar(select(func.count()).select_from(Thread))
    with pytest.raises(TextTooComplex) as refused:
        services.start_thread(session, resident, topic, title="Costs", body=WIDE_TABLE)
    assert refused.value.field == "body"
    # The body is rendered before the thread row is written.
    assert not session.new
    assert session.scalar(select(func.count()).select_from(Thread)) == threads


def test_a_too_complex_edit_keeps_the_post_as_it_was(session, make_thread):
    post = make_thread().opening_post
    with pytest.raises(TextTooComplex) as refused:
        services.edit_post(session, post.author, post, body=WIDE_TABLE, title="Costs")
    assert refused.value.field == "body"
    assert not session.new and post.body == "Please keep the old oaks."


def test_a_too_complex_topic_description_is_refused_with_its_field(session, official):
    with pytest.raises(TextTooComplex) as refused:
        services.create_topic(session, official, title="Budget", description=WIDE_TABLE)
    assert refused.value.field == "description"
