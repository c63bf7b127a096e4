"""Town-hall rules, tested directly with a session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from participation.accounts.services import export_personal_data, set_role
from participation.db import utcnow
from participation.errors import (
    Closed,
    Conflict,
    Forbidden,
    InvalidInput,
    TextTooComplex,
    Unauthorized,
)
from participation.i18n import iso_datetime
from participation.realtime.models import Event
from participation.realtime.outbox import MODERATORS, PUBLIC, take_events, user_audience
from participation.security.permissions import Role
from participation.townhall import services
from participation.townhall.models import (
    Channel,
    ModerationEntry,
    Question,
    QuestionStatus,
    Status,
    TownHall,
    Upvote,
)
from tests.security.pathological import wide_table


def events_of(session, townhall):
    return list(session.scalars(select(Event).where(Event.townhall_id == townhall.id)
                                .order_by(Event.seq)))


def test_officials_schedule_town_halls_and_residents_cannot(session, official, resident):
    now = utcnow()
    townhall = services.create_townhall(
        session, official, title="  Parks  ", description="Read **this**<script>x</script>",
        starts_at=now, ends_at=now + timedelta(hours=1),
        livestream_url="https://www.youtube-nocookie.com/embed/abc")
    assert townhall.title == "Parks"
    assert townhall.status is Status.SCHEDULED
    assert "<strong>this</strong>" in townhall.description_html
    assert "<script" not in townhall.description_html
    with pytest.raises(Forbidden):
        services.create_townhall(session, resident, title="Mine", starts_at=now,
                                 ends_at=now + timedelta(hours=1))


@pytest.mark.parametrize(("fields", "field"), [
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"ends_at_offset": -1}, "ends_at"),
    ({"livestream_url": "https://evil.example/embed/1"}, "livestream_url"),
    ({"livestream_url": "javascript:alert(1)"}, "livestream_url"),
    ({"question_max_length": 5}, "question_max_length"),
    ({"question_max_length": 5000}, "question_max_length"),
])
def test_town_hall_settings_are_checked_by_field(session, official, fields, field):
    now = utcnow()
    fields = dict(fields)
    offset = fields.pop("ends_at_offset", 1)
    values = {"title": "Parks", "starts_at": now, "ends_at": now + timedelta(hours=offset),
              **fields}
    with pytest.raises(InvalidInput) as error:
        services.create_townhall(session, official, **values)
    assert error.value.field == field
    session.rollback()
    assert session.query(TownHall).count() == 0


def edit_values(townhall, **changes):
    values = {name: getattr(townhall, name) for name in services.EDITABLE_FIELDS}
    return {**values, **changes}


def test_officials_edit_a_town_hall_and_each_change_is_logged(session, make_townhall, official):
    townhall = make_townhall(Status.SCHEDULED, description="Old")
    changed = services.update_townhall(
        session, official, townhall, **edit_values(
            townhall, title="  New title ", description="Now **bold**",
            livestream_url="https://player.vimeo.com/video/7", question_max_length=500))
    assert changed == ["title", "description", "livestream_url", "question_max_length"]
    assert townhall.title == "New title"
    assert "<strong>bold</strong>" in townhall.description_html
    entries = session.scalars(select(ModerationEntry).where(ModerationEntry.action == "edit")
                              .order_by(ModerationEntry.id)).all()
    assert [(e.moderator_id, e.reason) for e in entries] == [(official.id, name)
                                                              for name in changed]
    [event] = take_events(session)  # the room hears of the correction
    assert (event.kind, event.audience) == ("townhall", PUBLIC)
    assert event.payload["edited"] == changed
    assert event.payload["title"] == "New title"
    assert event.payload["description_html"] == townhall.description_html
    assert event.payload["livestream_url"] == "https://player.vimeo.com/video/7"
    assert event.payload["starts_at"] == iso_datetime(townhall.starts_at)
    revision = townhall.revision
    assert revision == 1
    assert services.update_townhall(session, official, townhall,
                                    **edit_values(townhall)) == []
    assert take_events(session) == []  # nothing changed, nothing to tell
    assert townhall.revision == revision
    services.update_townhall(session, official, townhall, **edit_values(townhall, title="T2"))
    [event] = take_events(session)
    assert event.payload["edited"] == ["title"] and "description_html" not in event.payload
    assert townhall.revision == revision + 1


def test_only_officials_and_admins_edit(session, townhall, make_user, resident, moderator):
    for actor in (resident, moderator):
        with pytest.raises(Forbidden):
            services.update_townhall(session, actor, townhall,
                                     **edit_values(townhall, title="Mine"))
    with pytest.raises(Unauthorized):
        services.check_editable(None, townhall)
    admin = make_user(Role.ADMIN)
    services.update_townhall(session, admin, townhall, **edit_values(townhall, title="Admin's"))
    assert townhall.title == "Admin's"


def test_an_ended_town_hall_cannot_be_edited(session, make_townhall, official):
    townhall = make_townhall(Status.ENDED)
    with pytest.raises(Closed):
        services.update_townhall(session, official, townhall,
                                 **edit_values(townhall, title="Rewritten"))
    session.rollback()
    assert session.get(TownHall, townhall.id).title == "Budget town hall"


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"ends_at_offset": 0}, "ends_at"),
    ({"ends_at_offset": -1}, "ends_at"),
    ({"livestream_url": "https://evil.example/embed/1"}, "livestream_url"),
    ({"question_max_length": 5}, "question_max_length"),
    ({"question_max_length": "300"}, "question_max_length"),
])
def test_bad_edits_are_refused_by_field_and_change_nothing(session, townhall, official,
                                                          changes, field):
    changes = dict(changes)
    if "ends_at_offset" in changes:
        changes["ends_at"] = townhall.starts_at + timedelta(hours=changes.pop("ends_at_offset"))
    with pytest.raises(InvalidInput) as error:
        services.update_townhall(session, official, townhall, **edit_values(townhall, **changes))
    assert error.value.field == field
    session.rollback()
    assert session.get(TownHall, townhall.id).title == "Budget town hall"
    assert session.query(ModerationEntry).filter_by(action="edit").count() == 0


def test_lowering_the_length_limit_while_live_keeps_asked_questions(session, townhall,
                                                                     official, resident,
                                                                     make_question):
    long_text = "Why " + "x" * 240 + "?"
    approved = make_question(townhall, long_text, status="approved")
    retried = services.ask_question(session, resident, townhall, text=long_text,
                                    anonymous=True, client_id="c1")
    session.commit()
    services.update_townhall(session, official, townhall, **edit_values(
        townhall, question_max_length=100, allow_anonymous=False))
    session.commit()
    take_events(session)
    session.refresh(approved)
    assert approved.text == long_text and approved.status is QuestionStatus.APPROVED
    again = services.ask_question(session, resident, townhall, text=long_text,
                                  anonymous=True, client_id="c1")
    assert again.id == retried.id and again.anonymous
    with pytest.raises(InvalidInput):
        services.ask_question(session, resident, townhall, text=long_text, client_id="c2")


def test_status_moves_scheduled_live_ended_and_is_recorded(session, make_townhall, official,
                                                           resident):
    townhall = make_townhall(Status.SCHEDULED)
    with pytest.raises(Forbidden):
        services.set_status(session, resident, townhall, "live")
    services.set_status(session, official, townhall, "live")
    assert townhall.status is Status.LIVE and townhall.started_at is not None
    with pytest.raises(Conflict):
        services.set_status(session, official, townhall, "scheduled")
    with pytest.raises(InvalidInput):
        services.set_status(session, official, townhall, "paused")
    services.set_status(session, official, townhall, "ended")
    kinds = [(e.kind, e.payload["status"]) for e in take_events(session)]
    assert kinds == [("townhall", "live"), ("townhall", "ended")]


def test_asked_question_waits_and_only_author_and_moderators_hear_of_it(session, townhall,
                                                                        resident):
    question = services.ask_question(session, resident, townhall, text="  Where is the bus? ")
    assert question.status is QuestionStatus.PENDING
    assert question.text == "Where is the bus?"
    events = take_events(session)
    assert {(e.kind, e.audience) for e in events} == {
        ("queue", MODERATORS), ("question", user_audience(resident.id))}
    assert all(e.audience != PUBLIC for e in events)


def test_visitors_cannot_ask(session, townhall):
    with pytest.raises(Unauthorized):
        services.ask_question(session, None, townhall, text="Hello?")


@pytest.mark.parametrize(("text", "anonymous"), [
    ("", False), ("   ", False), ("x" * 301, False), (42, False), ("Fine text", "yes"),
])
def test_bad_questions_are_refused_and_nothing_is_stored(session, townhall, resident, text,
                                                         anonymous):
    with pytest.raises(InvalidInput):
        services.ask_question(session, resident, townhall, text=text, anonymous=anonymous)
    session.rollback()
    assert session.query(Question).count() == 0


def test_anonymous_questions_only_where_allowed_and_the_public_never_sees_who(
        session, make_townhall, resident):
    closed = make_townhall(allow_anonymous=False)
    with pytest.raises(InvalidInput):
        services.ask_question(session, resident, closed, text="Who pays?", anonymous=True)
    open_ = make_townhall()
    question = services.ask_question(session, resident, open_, text="Who pays?", anonymous=True)
    assert services.question_data(question)["author_name"] is None
    assert services.question_data(question, view="moderator")["asked_by"] == (
        resident.display_name)


def test_asking_in_an_ended_town_hall_is_closed(session, make_townhall, resident):
    townhall = make_townhall(Status.ENDED)
    with pytest.raises(Closed):
        services.ask_question(session, resident, townhall, text="Too late?")


def test_a_retried_ask_with_the_same_client_id_is_stored_once(session, townhall, resident):
    first = services.ask_question(session, resident, townhall, text="Once?", client_id="abc")
    session.commit()
    take_events(session)
    again = services.ask_question(session, resident, townhall, text="Once?", client_id="abc")
    assert again.id == first.id
    assert take_events(session) == []
    assert session.query(Question).count() == 1


def test_approving_makes_a_question_public(session, townhall, make_question, moderator):
    question = make_question(townhall)
    services.approve_question(session, moderator, question)
    events = take_events(session)
    public = [e for e in events if e.audience == PUBLIC]
    assert [(e.kind, e.payload["question"]["status"]) for e in public] == [
        ("question", "approved")]
    with pytest.raises(Conflict):
        services.approve_question(session, moderator, question)


def test_rejected_question_is_never_broadcast_and_its_author_sees_the_reason(
        session, townhall, make_question, moderator):
    question = make_question(townhall)
    with pytest.raises(InvalidInput):
        services.reject_question(session, moderator, question, reason="I don't like it")
    services.reject_question(session, moderator, question, reason="off_topic")
    events = take_events(session)
    assert all(e.audience != PUBLIC for e in events)
    to_author = [e for e in events if e.audience == user_audience(question.author_id)]
    assert to_author[0].payload["question"]["reject_reason"] == "off_topic"
    assert question not in services.public_questions(session, townhall)
    assert question not in services.transcript(session, townhall)


def test_residents_and_demoted_moderators_cannot_moderate(session, townhall, make_question,
                                                          resident, moderator, make_user):
    question = make_question(townhall)
    with pytest.raises(Forbidden):
        services.moderate_question(session, resident, question, "approve")
    admin = make_user(Role.ADMIN)
    set_role(session, admin, moderator, "resident")
    with pytest.raises(Forbidden):
        services.approve_question(session, moderator, question)
    assert question.status is QuestionStatus.PENDING


def test_unknown_moderation_action_is_invalid(session, townhall, make_question, moderator):
    with pytest.raises(InvalidInput):
        services.moderate_question(session, moderator, make_question(townhall), "delete")


def test_upvotes_count_once_per_person_and_can_be_taken_back(session, townhall, make_question,
                                                             make_user):
    question = make_question(townhall, status="approved")
    voter = make_user()
    services.set_upvote(session, voter, question, True)
    services.set_upvote(session, voter, question, True)
    assert question.upvote_count == 1
    services.set_upvote(session, make_user(), question, True)
    assert question.upvote_count == 2
    services.set_upvote(session, voter, question, False)
    services.set_upvote(session, voter, question, False)
    assert question.upvote_count == 1
    assert session.query(Upvote).count() == 1
    with pytest.raises(InvalidInput):
        services.set_upvote(session, voter, question, "yes")


def test_upvotes_only_on_open_public_questions_and_not_ones_own(session, townhall,
                                                                make_question, make_user):
    pending = make_question(townhall)
    with pytest.raises(Closed):
        services.set_upvote(session, make_user(), pending, True)
    approved = make_question(townhall, status="approved")
    with pytest.raises(Forbidden):
        services.set_upvote(session, approved.author, approved, True)


def test_merge_carries_upvotes_without_double_counting_and_tells_the_author(
        session, townhall, make_question, make_user, moderator):
    target = make_question(townhall, "Bus 12 at night?", status="approved")
    duplicate = make_question(townhall, "Night bus 12 back?", status="approved")
    both, only_dup, only_target = make_user(), make_user(), make_user()
    for user in (both, only_target):
        services.set_upvote(session, user, target, True)
    for user in (both, only_dup):
        services.set_upvote(session, user, duplicate, True)
    session.commit()
    take_events(session)
    services.merge_question(session, moderator, duplicate, into=target)
    assert duplicate.status is QuestionStatus.MERGED
    assert duplicate.merged_into_id == target.id
    assert target.upvote_count == 3
    assert session.query(Upvote).filter_by(question_id=target.id).count() == 3
    events = take_events(session)
    told = [e for e in events if e.audience == user_audience(duplicate.author_id)]
    assert told[0].payload["question"]["status"] == "merged"
    public_ids = {e.payload["question"]["id"] for e in events if e.audience == PUBLIC}
    assert public_ids == {duplicate.id, target.id}


def test_merge_refuses_itself_other_town_halls_and_pending_targets(
        session, make_townhall, make_question, moderator):
    townhall, other = make_townhall(), make_townhall()
    question = make_question(townhall)
    with pytest.raises(InvalidInput):
        services.merge_question(session, moderator, question, into=question)
    with pytest.raises(InvalidInput):
        services.merge_question(session, moderator, question,
                                into=make_question(other, status="approved"))
    with pytest.raises(Conflict):
        services.merge_question(session, moderator, question, into=make_question(townhall))


def test_answers_live_or_in_writing_with_sanitized_html(session, townhall, make_question,
                                                        moderator):
    live = make_question(townhall, status="approved")
    written = make_question(townhall, status="approved")
    services.answer_question(session, moderator, live)
    services.answer_question(session, moderator, written,
                             answer="See [the plan](https://example.org)<script>x()</script>")
    assert (live.status, live.answer_mode, live.answer_html) == (
        QuestionStatus.ANSWERED, "live", None)
    assert written.answer_mode == "written"
    assert 'href="https://example.org"' in written.answer_html
    assert "<script" not in written.answer_html
    with pytest.raises(Conflict):
        services.answer_question(session, moderator, make_question(townhall))


def test_highlight_toggles_and_answering_clears_it(session, townhall, make_question, moderator):
    question = make_question(townhall, status="approved")
    services.highlight_question(session, moderator, question)
    assert townhall.highlighted_question_id == question.id
    services.highlight_question(session, moderator, question)
    assert townhall.highlighted_question_id is None
    services.highlight_question(session, moderator, question)
    services.answer_question(session, moderator, question)
    assert townhall.highlighted_question_id is None
    states = [e.payload["highlighted_id"] for e in take_events(session) if e.kind == "townhall"]
    assert states == [question.id, None, question.id, None]


def test_moderators_enter_offline_questions_labelled_with_their_channel(session, townhall,
                                                                        moderator, resident):
    question = services.enter_question(session, moderator, townhall, text="Bins on Elm St?",
                                       channel="phone", name="Margaret")
    assert question.status is QuestionStatus.APPROVED
    assert question.channel is Channel.PHONE
    data = services.question_data(question)
    assert (data["author_name"], data["channel_label"]) == ("Margaret", "by phone")
    with pytest.raises(InvalidInput):
        services.enter_question(session, moderator, townhall, text="x", channel="fax")
    with pytest.raises(InvalidInput):
        services.enter_question(session, moderator, townhall, text="x", channel="online")
    with pytest.raises(Forbidden):
        services.enter_question(session, resident, townhall, text="x", channel="phone")


def test_every_moderation_action_is_logged(session, townhall, make_question, moderator):
    question = make_question(townhall, status="approved")
    services.highlight_question(session, moderator, question)
    actions = [e.action for e in session.scalars(
        select(ModerationEntry).where(ModerationEntry.question_id == question.id)
        .order_by(ModerationEntry.id))]
    assert actions == ["approve", "highlight"]


def test_ledger_counts_every_outcome_and_the_median_wait(session, townhall, make_question,
                                                         moderator):
    make_question(townhall)
    make_question(townhall, status="rejected")
    live = make_question(townhall, status="answered")
    written = make_question(townhall, status="approved")
    services.answer_question(session, moderator, written, answer="In writing.")
    target = make_question(townhall, status="approved")
    services.merge_question(session, moderator, make_question(townhall), into=target)
    live.created_at = live.answered_at - timedelta(minutes=10)
    written.created_at = written.answered_at - timedelta(minutes=20)
    session.flush()
    ledger = services.ledger(session, townhall)
    assert ledger["asked"] == 6
    assert ledger["approved"] == 3
    assert ledger["rejected"] == 1 and ledger["rejected_by_reason"]["off_topic"] == 1
    assert ledger["merged"] == 1
    assert (ledger["answered_live"], ledger["answered_in_writing"]) == (1, 1)
    assert ledger["open"] == 2
    assert ledger["median_seconds_to_answer"] == 15 * 60


def test_sequence_numbers_come_from_the_database_and_a_rollback_uses_none(
        session, townhall, make_question, moderator):
    before = services.sequence_number(session, townhall)
    question = make_question(townhall)
    after_ask = services.sequence_number(session, townhall)
    assert after_ask == before + 2
    services.approve_question(session, moderator, question)
    session.rollback()
    assert services.sequence_number(session, townhall) == after_ask
    assert take_events(session) == []
    seqs = [e.seq for e in events_of(session, townhall)]
    assert seqs == list(range(1, after_ask + 1))


def test_private_town_halls_are_hidden_from_visitors(session, make_townhall, resident):
    private = make_townhall(is_public=False)
    with pytest.raises(Unauthorized):
        services.get_townhall(session, None, private.id)
    assert services.get_townhall(session, resident, private.id) is private
    assert private not in services.list_townhalls(session, None)["live"]


def test_download_my_data_includes_questions_and_upvotes(session, townhall, make_question,
                                                         resident, make_user):
    mine = make_question(townhall, "My own question", author=resident)
    other = make_question(townhall, status="approved")
    services.set_upvote(session, resident, other, True)
    data = export_personal_data(session, resident)["townhall_questions"]
    assert [q["text"] for q in data["questions"]] == ["My own question"]
    assert data["questions"][0]["question_id"] == mine.id
    assert data["upvoted_question_ids"] == [other.id]


def test_demo_has_questions_in_every_state(session):
    from participation.demo import seed_demo

    seed_demo(session, password="demo password 123")
    live = session.scalar(select(TownHall).where(TownHall.status == Status.LIVE))
    questions = session.scalars(select(Question).where(Question.townhall_id == live.id)).all()
    states = {q.status for q in questions}
    assert states == set(QuestionStatus)
    assert {q.answer_mode for q in questions} >= {"live", "written"}
    assert any(q.channel is Channel.PHONE for q in questions)
    statuses = set(session.scalars(select(TownHall.status)))
    assert statuses == {Status.LIVE, Status.SCHEDULED, Status.ENDED}
    ended = session.scalar(select(TownHall).where(TownHall.status == Status.ENDED))
    assert services.transcript(session, ended)


def test_a_too_complex_description_is_refused_with_its_field(session, official):
    now = utcnow()
    with pytest.raises(TextTooComplex) as refused:
        services.create_townhall(session, official, title="Budget",
                                 description=wide_table(9_910), starts_at=now,
                                 ends_at=now + timedelta(hours=1))
    assert refused.value.field == "description"


def test_a_too_complex_written_answer_leaves_the_question_approved(session, townhall,
                                                                   make_question, moderator):
    question = make_question(townhall, status="approved")
    with pytest.raises(TextTooComplex) as refused:
        services.answer_question(session, moderator, question, answer=wide_table(4_900))
    assert refused.value.field == "answer"
    assert question.status is QuestionStatus.APPROVED and question.answer_html is None
