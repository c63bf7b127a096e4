"""Notification mail as a resident receives it, read from a real SMTP server: digests, at once,
and the one-click unsubscribe in every mail's header."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from participation.accounts import services as accounts
from participation.accounts.models import User
from participation.extensions import db
from participation.mail.services import Attachment
from participation.moderation import services as moderation
from participation.notifications import services
from participation.notifications.kinds import Cadence
from participation.notifications.models import Notification
from participation.security.permissions import Role
from tests.conftest import PASSWORD
from tests.mail_server import links_in
from tests.notifications.conftest import tomorrow_morning


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


def _html(message) -> str:
    return message.get_body(("html",)).get_content()


def _to(smtp_server, user) -> list:
    return [m for m in smtp_server.messages if user.email in str(m["To"])]


def _unsubscribe_path(message) -> str:
    header = str(message["List-Unsubscribe"])
    assert header.startswith("<https://participation.example/unsubscribe/") and header.endswith(">")
    return urlsplit(header[1:-1]).path


def _prefer(user, **choices: str) -> None:
    services.set_notification_preferences(db.session, user, choices)
    db.session.commit()


def test_a_day_of_notifications_arrives_as_one_daily_digest_and_its_header_unsubscribes(
        app, smtp_server, thread, follower, reply, make_user):
    """Done when: several kinds in one day make one mail; the unsubscribe POST from its header
    turns the digest's kinds off with no session, and the next day brings nothing."""
    first = reply(thread, body="The oaks stay.")
    second = reply(thread, body="And the benches.")
    services.notify(db.session, follower.id, kind="decision_published",
                    message="A decision was published on “Keep the oaks”.", link="/decisions/1")
    services.notify(db.session, follower.id, kind="poll_opened",
                    message="A poll opened in “Riverside Park”.", link="")
    db.session.commit()
    assert _to(smtp_server, follower) == []  # nothing at once: the default is the digest

    assert services.send_digests(db.session, Cadence.DAILY, tomorrow_morning()) >= 1
    db.session.commit()
    mails = smtp_server.wait_for(1) and _to(smtp_server, follower)
    assert len(mails) == 1
    digest = mails[0]
    text = _text(digest)
    assert "4 notifications" in str(digest["Subject"])
    for label in ("Replies", "Decisions published", "New polls"):
        assert label in text and label in _html(digest)
    assert text.index("Replies") < text.index("New polls") < text.index("Decisions published")
    links = links_in(digest)
    for post in (first, second):
        notice = db.session.scalar(select(Notification).where(
            Notification.user_id == follower.id, Notification.link == f"/posts/{post.id}"))
        assert f"https://participation.example/notifications/{notice.id}" in links
        assert notice.mailed_at is not None
    assert "https://participation.example/account/notifications" in links
    assert str(digest["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"

    # The mail client posts to the header's address: no cookie, no CSRF token.
    stranger = app.test_client()
    response = stranger.post(_unsubscribe_path(digest), data="List-Unsubscribe=One-Click",
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "You will get no more daily digests." in response.get_data(as_text=True)
    chosen = services.notification_preferences(db.session, follower)
    assert chosen["reply"] is chosen["poll_opened"] is chosen["decision_published"] \
        is Cadence.NEVER
    assert chosen["townhall_starting"] is Cadence.IMMEDIATE  # not in the digest: untouched

    reply(thread, body="One more, the day after.")
    assert services.send_digests(db.session, Cadence.DAILY,
                                 tomorrow_morning() + timedelta(days=1)) == 0
    db.session.commit()
    assert len(_to(smtp_server, follower)) == 1


def test_a_kind_s_own_link_in_the_digest_turns_off_that_kind_only(
        app, smtp_server, thread, follower, reply):
    reply(thread)
    services.notify(db.session, follower.id, kind="poll_opened", message="A poll opened.")
    db.session.commit()
    services.send_digests(db.session, "daily", tomorrow_morning())
    db.session.commit()
    (digest,) = _to(smtp_server, follower)
    header_link = str(digest["List-Unsubscribe"])[1:-1]
    # One link per kind, in the digest's order: replies first, then polls.
    reply_link, poll_link = [link for link in dict.fromkeys(links_in(digest))
                             if "/unsubscribe/" in link and link != header_link]
    page = app.test_client().get(urlsplit(reply_link).path)
    assert page.status_code == 200 and "Replies" in page.get_data(as_text=True)
    assert services.cadence_for(db.session, follower.id, "reply") is Cadence.DAILY  # GET: nothing
    assert app.test_client().post(urlsplit(reply_link).path).status_code == 200
    assert services.cadence_for(db.session, follower.id, "reply") is Cadence.NEVER
    assert services.cadence_for(db.session, follower.id, "poll_opened") is Cadence.DAILY
    assert poll_link != reply_link


def test_a_digest_is_sent_once_per_period_even_when_run_again(
        app, smtp_server, thread, follower, reply):
    reply(thread, body="Before the digest.")
    morning = tomorrow_morning()
    assert services.send_digests(db.session, "daily", morning) == 1
    db.session.commit()
    # A second consumer that read the notices before the first one marked them.
    db.session.execute(Notification.__table__.update().values(
        mailed_at=None, digest_cadence="daily"))
    db.session.commit()
    assert services.send_digests(db.session, "daily", morning + timedelta(hours=5)) == 0
    db.session.commit()
    assert len(_to(smtp_server, follower)) == 1

    # Notices of the next day go in the next day's digest, and earlier ones are not repeated.
    db.session.execute(Notification.__table__.update().values(
        mailed_at=morning, digest_cadence=None))
    db.session.commit()
    reply(thread, body="After the digest.")
    assert services.send_digests(db.session, "daily", morning + timedelta(days=1)) == 1
    db.session.commit()
    mails = _to(smtp_server, follower)
    assert len(mails) == 2
    assert "After the digest." not in _text(mails[1])  # the notice names the thread, not the body
    assert "1 notification" in str(mails[1]["Subject"])


def test_nothing_waiting_means_no_mail(app, smtp_server, thread, follower, reply):
    assert services.send_digests(db.session, "daily", tomorrow_morning()) == 0
    reply(thread)
    db.session.commit()
    services.mark_all_read(db.session, follower)  # read online: the digest has nothing new
    db.session.commit()
    assert services.send_digests(db.session, "daily", tomorrow_morning()) == 0
    assert services.send_digests(db.session, "weekly", tomorrow_morning()) == 0
    db.session.commit()
    assert _to(smtp_server, follower) == []


def test_a_hidden_or_deleted_post_s_notice_is_left_out(
        app, smtp_server, thread, follower, reply, make_user):
    moderator = make_user(Role.MODERATOR)
    hidden = reply(thread, body="Something rude.")
    deleted_by = make_user()
    deleted = reply(thread, deleted_by, body="Second thoughts.")
    kept = reply(thread, body="Something kind.")
    moderation.hide_post(db.session, moderator, hidden, reason="Rude")
    from participation.forums import services as forums
    forums.delete_post(db.session, deleted_by, deleted)
    db.session.commit()

    assert services.send_digests(db.session, "daily", tomorrow_morning()) >= 1
    db.session.commit()
    (digest,) = _to(smtp_server, follower)
    assert "1 notification" in str(digest["Subject"])
    links = links_in(digest)
    by_post = {n.link: n.id for n in db.session.scalars(
        select(Notification).where(Notification.user_id == follower.id))}
    assert f"https://participation.example/notifications/{by_post[f'/posts/{kept.id}']}" in links
    for post in (hidden, deleted):
        assert not any(link.endswith(f"/notifications/{by_post[f'/posts/{post.id}']}")
                       for link in links)
    # The hidden post's author is still told, in their own digest: they may see why.
    (told,) = _to(smtp_server, hidden.author)
    assert "hid your post" in _text(told)


def test_only_hidden_notices_means_no_digest(app, smtp_server, thread, follower, reply,
                                             make_user):
    moderator = make_user(Role.MODERATOR)
    moderation.hide_post(db.session, moderator, reply(thread), reason="Spam")
    db.session.commit()
    services.send_digests(db.session, "daily", tomorrow_morning())
    db.session.commit()
    assert _to(smtp_server, follower) == []


def test_an_account_deleted_or_suspended_in_between_gets_no_digest(
        app, smtp_server, thread, follower, reply, make_user):
    suspended = make_user()
    from participation.forums import services as forums
    forums.follow_thread(db.session, suspended, thread)
    db.session.commit()
    reply(thread)
    address = follower.email
    accounts.delete_account(db.session, follower, password=PASSWORD)
    accounts.suspend_user(db.session, make_user(Role.ADMIN), suspended, reason="Spam")
    db.session.commit()
    assert services.send_digests(db.session, "daily", tomorrow_morning()) == 0
    db.session.commit()
    assert not [m for m in smtp_server.messages
                if address in str(m["To"]) or suspended.email in str(m["To"])]


def test_weekly_kinds_wait_for_the_weekly_digest(app, smtp_server, thread, follower, reply):
    _prefer(follower, reply="weekly")
    reply(thread)
    services.notify(db.session, follower.id, kind="poll_opened", message="A poll opened.")
    db.session.commit()
    morning = tomorrow_morning()
    assert services.send_digests(db.session, "daily", morning) == 1
    db.session.commit()
    (daily,) = _to(smtp_server, follower)
    assert "New polls" in _text(daily) and "Replies" not in _text(daily)
    assert "daily" in str(daily["Subject"])

    assert services.send_digests(db.session, "weekly", morning) == 1
    assert services.send_digests(db.session, "weekly", morning + timedelta(days=1)) == 0
    db.session.commit()
    weekly = _to(smtp_server, follower)[1]
    assert "weekly" in str(weekly["Subject"]) and "Replies" in _text(weekly)
    assert "New polls" not in _text(weekly)
    assert str(weekly["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


def test_changing_a_kind_to_weekly_moves_what_waits(app, smtp_server, thread, follower, reply):
    reply(thread)
    _prefer(follower, reply="weekly")
    assert services.send_digests(db.session, "daily", tomorrow_morning()) == 0
    assert services.send_digests(db.session, "weekly", tomorrow_morning()) == 1


def test_at_once_mails_each_notice_after_the_commit_with_its_unsubscribe(
        app, smtp_server, thread, follower, reply):
    _prefer(follower, reply="immediate")
    post = reply(thread, body="Right away.")
    (mail,) = smtp_server.wait_for(1) and _to(smtp_server, follower)
    notice = db.session.scalar(select(Notification).where(Notification.user_id == follower.id))
    assert f"https://participation.example/notifications/{notice.id}" in links_in(mail)
    assert notice.link == f"/posts/{post.id}" and notice.mailed_at is not None
    assert "Replies" in str(mail["Subject"])
    assert str(mail["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    # Not again in a digest.
    assert services.send_digests(db.session, "daily", tomorrow_morning()) == 0

    response = app.test_client().post(_unsubscribe_path(mail))
    assert response.status_code == 200
    assert services.cadence_for(db.session, follower.id, "reply") is Cadence.NEVER
    reply(thread)
    assert services.send_digests(db.session, "daily", tomorrow_morning()) == 0
    db.session.commit()
    assert len(_to(smtp_server, follower)) == 1


def test_a_rolled_back_notice_mails_nothing(app, smtp_server, follower):
    _prefer(follower, reply="immediate")
    services.notify(db.session, follower.id, kind="reply", message="Never committed.")
    db.session.rollback()
    services.notify(db.session, follower.id, kind="reply", message="Committed.")
    db.session.commit()
    (mail,) = smtp_server.wait_for(1) and _to(smtp_server, follower)
    assert "Committed." in _text(mail) and "Never committed." not in _text(mail)


def test_townhall_starting_is_mailed_at_once_by_default_with_its_attachment(
        app, smtp_server, make_user):
    person = make_user()
    services.notify(db.session, person.id, kind="townhall_starting",
                    message="“Budget” starts within the hour.", link="/townhalls/1",
                    subject_ref="townhall:1",
                    attachments=[Attachment("townhall.ics", "text/calendar",
                                            b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")])
    db.session.commit()
    (mail,) = smtp_server.wait_for(1) and _to(smtp_server, person)
    (attached,) = list(mail.iter_attachments())
    assert attached.get_filename() == "townhall.ics"
    assert "BEGIN:VCALENDAR" in attached.get_content()


def test_mails_are_in_the_recipient_s_language(app, smtp_server, thread, follower, reply):
    follower.locale = "es"
    db.session.commit()
    reply(thread)
    services.send_digests(db.session, "daily", tomorrow_morning())
    db.session.commit()
    (digest,) = _to(smtp_server, follower)
    assert "Respuestas" in _text(digest)
    assert "notificación" in str(digest["Subject"])


def test_an_unknown_kind_is_a_programming_error(app, follower):
    with pytest.raises(ValueError, match="unknown notification kind"):
        services.notify(db.session, follower.id, kind="gossip", message="x")
    with pytest.raises(ValueError):
        services.send_digests(db.session, "immediate", tomorrow_morning())


def test_the_periodic_jobs_send_the_digests(app, smtp_server, thread, follower, reply):
    from participation.notifications import jobs

    reply(thread)
    assert jobs.send_weekly_digests.call_local() == 0  # replies wait for the daily one
    assert jobs.send_daily_digests.call_local() == 1
    assert jobs.send_daily_digests.call_local() == 0
    assert len(smtp_server.wait_for(1) and _to(smtp_server, follower)) == 1


def test_notices_for_several_people_in_one_transaction_are_each_mailed(
        app, smtp_server, make_user):
    """Each queued mail takes a savepoint; none may leave before the whole transaction commits."""
    people = [make_user() for _ in range(3)]
    for person in people:
        services.notify(db.session, person.id, kind="townhall_starting", message="Soon.")
    assert smtp_server.messages == []
    db.session.commit()
    smtp_server.wait_for(3)
    assert all(len(_to(smtp_server, person)) == 1 for person in people)


def test_an_address_mail_cannot_go_to_stops_neither_the_action_nor_other_digests(
        app, smtp_server, thread, follower, reply, make_user, caplog):
    broken = make_user()
    from participation.forums import services as forums
    forums.follow_thread(db.session, broken, thread)
    _prefer(broken, reply="immediate")
    broken.email = "no address at all"
    db.session.commit()
    post = reply(thread)  # the reply goes through; its at-once mail is skipped
    assert post.id
    assert services.send_digests(db.session, "daily", tomorrow_morning()) == 1
    db.session.commit()
    assert len(smtp_server.wait_for(1)) == 1 and len(_to(smtp_server, follower)) == 1
    assert "no address at all" not in caplog.text
    assert f"account {broken.id} not queued" in caplog.text


def test_the_unsubscribe_header_is_sent_as_a_plain_url_a_mail_client_can_read(
        app, smtp_server, follower):
    """RFC 2369 headers hold <URL>s: folded into encoded words, no client would find it."""
    services.notify(db.session, follower.id, kind="townhall_starting", message="Soon.")
    db.session.commit()
    smtp_server.wait_for(1)
    (raw,) = smtp_server.raw
    lines = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].split(b"\n")
    (header,) = [line for line in lines if line.startswith(b"List-Unsubscribe:")]
    url = services.unsubscribe_url(follower.id, "townhall_starting")
    assert header == f"List-Unsubscribe: <{url}>".encode()
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines


@pytest.mark.skipif(not hasattr(User, "email_confirmed_at"),
                    reason="needs account-mail's confirmed addresses")
def test_an_address_not_yet_confirmed_gets_no_notification_mail_until_it_is(
        app, smtp_server, thread, follower, reply):
    follower.email_confirmed_at = None
    db.session.commit()
    reply(thread)
    assert services.send_digests(db.session, "daily", tomorrow_morning()) == 0
    db.session.commit()
    assert _to(smtp_server, follower) == []
    follower.email_confirmed_at = tomorrow_morning()
    db.session.commit()
    assert services.send_digests(db.session, "daily", tomorrow_morning()) == 1
