"""What a town hall tells whom: askers hear what became of their own question (and nobody else
does), and "remind me" sends one reminder with a calendar file an hour before the start."""

from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest

from participation.accounts.services import export_personal_data, suspend_user
from participation.db import utcnow
from participation.errors import Closed, Unauthorized
from participation.extensions import db
from participation.notifications.services import still_visible
from participation.realtime.outbox import take_events
from participation.security.permissions import Role
from participation.townhall import services
from participation.townhall.models import Reminder, Status
from tests.concurrency import at_once
from tests.conftest import csrf_token
from tests.notices import recipients, spy_on_notify, stored

PUBLIC_URL = "https://participate.example.test"


@pytest.fixture
def told(monkeypatch):
    return spy_on_notify(monkeypatch)


# The asker, and only the asker


def test_the_asker_alone_hears_their_question_was_approved_then_answered(
        session, townhall, make_question, make_user, moderator, told):
    asker, voter = make_user(), make_user()
    question = make_question(townhall, "Will the night bus come back?", author=asker)
    services.approve_question(session, moderator, question)
    services.set_upvote(session, voter, question, True)
    services.answer_question(session, moderator, question, answer="Yes, in **March**.")
    session.commit()
    assert [(t.user_id, t.kind) for t in told] == [(asker.id, "question_approved"),
                                                    (asker.id, "question_answered")]
    assert {t.subject_ref for t in told} == {f"question:{question.id}"}
    assert all(t.link == f"/townhalls/{townhall.id}#q{question.id}" for t in told)
    assert "Will the night bus come back?" in told[0].message
    assert townhall.title in told[0].message
    assert "written answer" in told[1].message
    assert [n.user_id for n in stored("question_approved")] == [asker.id]


def test_a_live_answer_says_so(session, townhall, make_question, moderator, told):
    question = make_question(townhall, status="approved")
    services.answer_question(session, moderator, question)
    assert [t.kind for t in told if t.user_id == question.author_id] == [
        "question_approved", "question_answered"]
    assert "answered live" in told[-1].message


def test_a_rejected_question_is_told_with_its_reason_to_its_asker(
        session, townhall, make_question, moderator, told):
    question = make_question(townhall)
    services.reject_question(session, moderator, question, reason="personal_information")
    [notice] = told
    assert (notice.user_id, notice.kind) == (question.author_id, "question_rejected")
    assert "Contains personal information" in notice.message
    assert notice.link.endswith(f"#mine{question.id}")


def test_a_merged_question_names_the_other_question_but_never_its_asker(
        session, townhall, make_question, make_user, moderator, told):
    named = make_user(name="Nadia Named")
    target = make_question(townhall, "Is the night bus 12 coming back?", author=named,
                           status="approved")
    told.clear()
    duplicate = make_question(townhall, "Night bus 12, when?")
    services.merge_question(session, moderator, duplicate, into=target)
    [notice] = told
    assert (notice.user_id, notice.kind) == (duplicate.author_id, "question_merged")
    assert "Is the night bus 12 coming back?" in notice.message
    assert "Nadia" not in notice.message
    assert notice.link.endswith(f"#q{target.id}")
    assert notice.subject_ref == f"question:{duplicate.id}"


def test_an_anonymous_asker_is_told_and_no_one_else_learns_anything(
        session, townhall, make_question, make_user, moderator, told):
    asker, voter = make_user(), make_user()
    anonymous = make_question(townhall, "Who pays for the new stadium?", author=asker,
                              anonymous=True)
    services.approve_question(session, moderator, anonymous)
    services.set_upvote(session, voter, anonymous, True)
    other = make_question(townhall, "A question of someone else", status="approved")
    services.merge_question(session, moderator, other, into=anonymous)
    services.answer_question(session, moderator, anonymous)
    session.commit()
    about_anonymous = [t for t in told if t.subject_ref == f"question:{anonymous.id}"]
    assert {t.user_id for t in about_anonymous} == {asker.id}
    assert [t.kind for t in about_anonymous] == ["question_approved", "question_answered"]
    # The other asker hears of the merge and its question's text, not who asked it.
    merged = [t for t in told if t.kind == "question_merged"]
    assert [t.user_id for t in merged] == [other.author_id]
    assert asker.display_name not in merged[0].message
    assert voter.id not in {t.user_id for t in told}
    assert moderator.id not in {t.user_id for t in told}


def test_no_notice_for_questions_nobody_asked_online_or_a_moderator_moderating_their_own(
        session, townhall, moderator, told):
    entered = services.enter_question(session, moderator, townhall, text="Asked by phone",
                                      channel="phone", name="Pat")
    services.answer_question(session, moderator, entered)
    own = services.ask_question(session, moderator, townhall, text="My own question")
    services.approve_question(session, moderator, own)
    assert told == []


def test_a_suspended_asker_is_not_told(session, townhall, make_question, make_user, moderator,
                                       told):
    admin = make_user(Role.ADMIN)
    question = make_question(townhall)
    suspend_user(session, admin, question.author, reason="Spam")
    services.approve_question(session, moderator, question)
    assert told == []


def test_the_notice_is_written_in_the_askers_language(session, townhall, make_question,
                                                       make_user, moderator):
    asker = make_user()
    asker.locale = "es"
    session.commit()
    question = make_question(townhall, author=asker)
    services.reject_question(session, moderator, question, reason="off_topic")
    [notice] = stored("question_rejected")
    assert "no fue aceptada" in notice.message


def test_visible_questions_answers_for_each_audience(
        session, make_townhall, make_question, make_user, moderator):
    townhall = make_townhall()
    private = make_townhall(is_public=False)
    asker, other = make_user(), make_user()
    public = make_question(townhall, author=asker, status="approved")
    rejected = make_question(townhall, author=asker, status="rejected")
    pending = make_question(townhall, author=asker)
    hidden_hall = make_question(private, author=asker, status="approved")
    ids = [public.id, rejected.id, pending.id, hidden_hall.id, 10_000]
    assert services.visible_questions(session, None, ids) == {public.id}
    assert services.visible_questions(session, other, ids) == {public.id, hidden_hall.id}
    assert services.visible_questions(session, asker, ids) == set(ids) - {10_000}
    assert services.visible_questions(session, moderator, ids) == set(ids) - {10_000}
    assert services.visible_questions(session, asker, []) == set()
    # The digest asks the same rule through the notifications registry.
    assert still_visible(session, asker, f"question:{rejected.id}")
    assert not still_visible(session, other, f"question:{rejected.id}")
    assert not still_visible(session, other, "question:not-a-number")
    assert still_visible(session, other, f"townhall:{private.id}")
    assert not still_visible(session, other, "townhall:99999")


# "Remind me"


@pytest.fixture
def upcoming(make_townhall):
    start = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    return make_townhall(Status.SCHEDULED, title="Parks town hall", starts_at=start,
                         ends_at=start + timedelta(hours=2),
                         description="Bring your questions about the parks.")


def test_remind_me_then_take_it_back(session, upcoming, resident):
    assert services.set_reminder(session, resident, upcoming, remind=True) is True
    assert services.set_reminder(session, resident, upcoming, remind=True) is True
    assert session.query(Reminder).filter_by(user_id=resident.id).count() == 1
    assert services.has_reminder(session, resident, upcoming)
    assert services.set_reminder(session, resident, upcoming, remind=False) is False
    assert not services.has_reminder(session, resident, upcoming)
    with pytest.raises(Unauthorized):
        services.set_reminder(session, None, upcoming, remind=True)


def test_a_town_hall_under_way_or_over_takes_no_reminder(session, make_townhall, resident,
                                                         official):
    live = make_townhall(Status.LIVE)
    with pytest.raises(Closed):
        services.set_reminder(session, resident, live, remind=True)
    start = utcnow() + timedelta(hours=2)
    later = make_townhall(Status.SCHEDULED, starts_at=start, ends_at=start + timedelta(hours=1))
    with pytest.raises(Closed):
        services.set_reminder(session, resident, later, remind=True, now=start)
    assert session.query(Reminder).count() == 0


def _remind(session, townhall, *people):
    for person in people:
        services.set_reminder(session, person, townhall, remind=True)
    session.commit()


def test_the_reminder_goes_out_an_hour_before_once_to_those_who_asked(
        app, session, upcoming, make_user, told):
    app.config["PUBLIC_URL"] = PUBLIC_URL
    first, second, bystander = make_user(), make_user(), make_user()
    _remind(session, upcoming, first, second)
    start = upcoming.starts_at
    assert services.send_townhall_reminders(session, now=start - timedelta(minutes=61)) == 0
    assert services.send_townhall_reminders(session, now=start - timedelta(minutes=59)) == 2
    session.commit()
    assert services.send_townhall_reminders(session, now=start - timedelta(minutes=54)) == 0
    assert services.send_townhall_reminders(session, now=start + timedelta(minutes=5)) == 0
    assert recipients(told, "townhall_starting") == [first.id, second.id]
    assert bystander.id not in {t.user_id for t in told}
    notice = told[0]
    assert f"{PUBLIC_URL}/j/{upcoming.join_code}" in notice.message
    assert notice.link == f"/townhalls/{upcoming.id}"
    assert notice.subject_ref == f"townhall:{upcoming.id}"
    [attachment] = notice.attachments
    assert (attachment.filename, attachment.mimetype) == (f"townhall-{upcoming.id}.ics",
                                                           "text/calendar")
    assert len(stored("townhall_starting")) == 2


def test_the_calendar_file_parses_and_has_the_town_halls_times_in_utc(
        app, session, upcoming, resident, told):
    app.config["PUBLIC_URL"] = PUBLIC_URL
    _remind(session, upcoming, resident)
    services.send_townhall_reminders(session, now=upcoming.starts_at - timedelta(minutes=30))
    content = told[0].attachments[0].content
    assert content.startswith(b"BEGIN:VCALENDAR\r\n") and content.endswith(b"END:VCALENDAR\r\n")
    calendar = icalendar.Calendar.from_ical(content)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == upcoming.starts_at
    assert event.decoded("DTEND") == upcoming.ends_at
    assert event.decoded("DTSTART").tzinfo.utcoffset(None) == timedelta(0)
    assert b"DTSTART:" in content and b"Z\r\n" in content  # UTC form, no TZID needed
    assert str(event["SUMMARY"]) == "Parks town hall"
    assert str(event["URL"]) == f"{PUBLIC_URL}/j/{upcoming.join_code}"
    assert str(event["UID"]) == f"townhall-{upcoming.id}@participate.example.test"
    assert event.decoded("DTSTAMP").tzinfo is not None
    assert "Bring your questions about the parks." in str(event["DESCRIPTION"])
    assert f"{PUBLIC_URL}/j/{upcoming.join_code}" in str(event["DESCRIPTION"])
    assert all(len(line) <= 75 for line in content.split(b"\r\n"))


def test_a_cancelled_or_ended_town_hall_sends_no_reminder(session, upcoming, official,
                                                          resident, told):
    _remind(session, upcoming, resident)
    services.set_status(session, official, upcoming, Status.ENDED)
    session.commit()
    take_events(session)
    assert services.send_townhall_reminders(
        session, now=upcoming.starts_at - timedelta(minutes=30)) == 0
    assert told == []


def _move(session, official, townhall, start):
    services.update_townhall(session, official, townhall, title=townhall.title,
                             description=townhall.description, starts_at=start,
                             ends_at=start + timedelta(hours=2), livestream_url=None,
                             allow_anonymous=True, question_max_length=300)
    session.commit()


def test_a_moved_town_hall_is_reminded_of_at_its_new_time(session, upcoming, official,
                                                           resident, told):
    old = upcoming.starts_at
    _remind(session, upcoming, resident)
    new = old + timedelta(days=1)
    _move(session, official, upcoming, new)
    assert services.send_townhall_reminders(session, now=old - timedelta(minutes=30)) == 0
    assert services.send_townhall_reminders(session, now=new - timedelta(minutes=30)) == 1
    session.commit()
    # Moved again after the reminder went out: one more, for the newer time, then no more.
    newer = new + timedelta(hours=3)
    _move(session, official, upcoming, newer)
    assert services.send_townhall_reminders(session, now=newer - timedelta(minutes=50)) == 1
    assert services.send_townhall_reminders(session, now=newer - timedelta(minutes=40)) == 0
    assert [t.kind for t in told] == ["townhall_starting"] * 2
    calendar = icalendar.Calendar.from_ical(told[-1].attachments[0].content)
    assert calendar.walk("VEVENT")[0].decoded("DTSTART") == newer


def test_accounts_suspended_since_asking_get_no_reminder(session, upcoming, make_user, told):
    admin, resident = make_user(Role.ADMIN), make_user()
    _remind(session, upcoming, resident)
    suspend_user(session, admin, resident, reason="Spam")
    session.commit()
    services.send_townhall_reminders(session, now=upcoming.starts_at - timedelta(minutes=30))
    assert told == []


def test_two_workers_at_the_same_moment_send_each_reminder_once(app, session, upcoming,
                                                                 make_user, backend):
    people = [make_user() for _ in range(3)]
    _remind(session, upcoming, *people)
    moment = upcoming.starts_at - timedelta(minutes=30)
    session.rollback()  # the test's own transaction would hold SQLite's write lock
    counts = at_once(app, lambda: services.send_townhall_reminders(db.session, now=moment))
    assert sorted(counts) == [0, 3]
    session.rollback()
    assert len(stored("townhall_starting")) == 3


def test_reminders_are_in_the_personal_data_export(session, upcoming, resident):
    _remind(session, upcoming, resident)
    [entry] = export_personal_data(session, resident)["townhall_reminders"]
    assert entry["townhall_id"] == upcoming.id and entry["sent_for"] is None


# The pages


def test_remind_me_buttons_on_the_list_and_the_town_hall_page(client_as, upcoming, app):
    client = client_as(Role.RESIDENT)
    listing = client.get("/townhalls").get_data(as_text=True)
    assert "Remind me" in listing
    token = csrf_token(client, f"/townhalls/{upcoming.id}")
    response = client.post(f"/townhalls/{upcoming.id}/remind",
                           data={"csrf_token": token, "remind": "1", "next": "/townhalls"})
    assert response.status_code == 302 and response.headers["Location"] == "/townhalls"
    page = client.get(f"/townhalls/{upcoming.id}").get_data(as_text=True)
    assert "Reminder set: cancel" in page
    assert 'aria-pressed="true"' in page
    assert services.has_reminder(db.session, client.user, upcoming)
    response = client.post(f"/townhalls/{upcoming.id}/remind",
                           data={"csrf_token": token, "remind": "0",
                                 "next": "https://evil.example/"})
    assert response.headers["Location"] == f"/townhalls/{upcoming.id}"
    assert not services.has_reminder(db.session, client.user, upcoming)


def test_remind_me_refuses_bad_posts_and_visitors(client_as, client, upcoming, make_townhall):
    resident = client_as(Role.RESIDENT)
    token = csrf_token(resident, f"/townhalls/{upcoming.id}")
    assert resident.post(f"/townhalls/{upcoming.id}/remind",
                         data={"remind": "1"}).status_code == 400
    assert resident.post(f"/townhalls/{upcoming.id}/remind",
                         data={"csrf_token": token, "remind": "maybe"}).status_code == 400
    live = make_townhall(Status.LIVE)
    response = resident.post(f"/townhalls/{live.id}/remind",
                             data={"csrf_token": token, "remind": "1"}, follow_redirects=True)
    assert "already started" in response.get_data(as_text=True)
    assert db.session.query(Reminder).count() == 0
    visitor_token = csrf_token(client, f"/townhalls/{upcoming.id}")
    response = client.post(f"/townhalls/{upcoming.id}/remind",
                           data={"csrf_token": visitor_token, "remind": "1"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = client.get(f"/townhalls/{upcoming.id}").get_data(as_text=True)
    assert "Sign in to be reminded" in page



def test_the_five_minute_job_sends_what_is_due_now_once(session, make_townhall, resident, told):
    from participation.townhall import tasks

    start = utcnow() + timedelta(minutes=30)
    soon = make_townhall(Status.SCHEDULED, starts_at=start, ends_at=start + timedelta(hours=1))
    _remind(session, soon, resident)
    session.rollback()  # the job has its own session; ours must not hold SQLite's write lock
    assert tasks.remind_townhalls.call_local() == 1
    assert tasks.remind_townhalls.call_local() == 0
    assert [n.user_id for n in stored("townhall_starting")] == [resident.id]


def test_the_reminder_is_mailed_at_once_with_the_join_link_and_the_calendar_file(
        app, session, upcoming, resident, smtp_server):
    from tests.mail_server import links_in

    app.config.update(MAIL_URL=smtp_server.url, PUBLIC_URL=PUBLIC_URL)
    _remind(session, upcoming, resident)
    services.send_townhall_reminders(session, now=upcoming.starts_at - timedelta(minutes=30))
    session.commit()
    [message] = smtp_server.wait_for(1)
    assert resident.email in message["To"]
    assert f"{PUBLIC_URL}/j/{upcoming.join_code}" in links_in(message)
    [ics] = [part for part in message.iter_attachments()
             if part.get_content_type() == "text/calendar"]
    assert ics.get_filename() == f"townhall-{upcoming.id}.ics"
    [event] = icalendar.Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert event.decoded("DTSTART") == upcoming.starts_at
    assert message["List-Unsubscribe"]
