"""Ballots from people who are not online: poll officers enter them with their channel; a poll
for verified residents checks the voter's identity against the roll and keeps one ballot per
person, whichever way they voted first."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from participation.accounts.models import AuditEntry
from participation.errors import Closed, Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from participation.extensions import db
from participation.polls import paper, services
from participation.polls.models import Ballot, Channel
from participation.roll.models import Verification
from participation.security.permissions import Role
from tests.concurrency import at_once
from tests.conftest import csrf_token
from tests.polls.roll_people import KEY, identity, put_on_roll, verified_poll

# Invented people: (document id, date of birth, postcode, district).
ANA = ("12345678Z", "1981-02-17", "28001", "Centro")
BEN = ("X-1234567-L", "2012-01-05", "28001", "Centro")
CARLA = ("87654321X", "1975-09-30", "28045", "Arganzuela")


@pytest.fixture(autouse=True)
def roll_key(app):
    app.config["ROLL_KEY"] = KEY


def ballots(session, poll):
    return list(session.scalars(select(Ballot).where(Ballot.poll_id == poll.id)
                                .execution_options(populate_existing=True)))


def audits(session):
    return list(session.scalars(select(AuditEntry).where(
        AuditEntry.action == paper.AUDIT_ACTION)))


def enter(session, officer, poll, choices=None, *, channel="paper", person=None):
    result = paper.enter_ballot(
        session, officer, poll.id, choices if choices is not None else [poll.options[0].id],
        channel=channel, identity=identity(person) if person else None, roll_key=KEY)
    session.commit()
    return result


# Entering ballots in an open poll


def test_an_officer_enters_a_ballot_without_identity_and_it_is_counted_with_a_receipt(
        session, make_poll, moderator):
    poll = make_poll()
    result = enter(session, moderator, poll, [poll.options[1].id], channel="phone")
    (ballot,) = ballots(session, poll)
    assert ballot.voter_id is None and ballot.roll_entry_id is None
    assert ballot.channel is Channel.PHONE
    assert result.receipt == services.format_receipt(ballot.receipt)
    check = services.check_receipt(session, None, result.receipt)
    assert check.counted and check.poll.id == poll.id
    assert services.count_poll(session, poll)["options"][1]["votes"] == 1


def test_every_entry_is_audited_with_officer_channel_and_poll_never_the_choices(
        session, make_poll, moderator, official):
    poll = make_poll()
    enter(session, moderator, poll, [poll.options[2].id], channel="in_person")
    enter(session, official, poll, [poll.options[0].id], channel="paper")
    entries = audits(session)
    assert {(entry.actor_id, entry.detail["channel"]) for entry in entries} == {
        (moderator.id, "in_person"), (official.id, "paper")}
    for entry in entries:
        assert entry.detail["poll_id"] == poll.id
        assert entry.subject_id is None and entry.created_at is not None
        assert set(entry.detail) == {"poll_id", "channel", "identity_checked"}


def test_the_room_gets_a_new_tally_only_when_its_results_are_live(session, make_poll,
                                                                  moderator, topic):
    live = make_poll(results_mode="live")
    after_close = make_poll(results_mode="after_close")
    in_topic = make_poll(results_mode="live", topic=topic)
    assert enter(session, moderator, live).push_tally
    assert not enter(session, moderator, after_close).push_tally
    assert not enter(session, moderator, in_topic).push_tally


@pytest.mark.parametrize("role", [None, Role.RESIDENT])
def test_a_resident_or_visitor_cannot_enter_a_ballot(session, make_poll, make_user, role):
    poll = make_poll()
    actor = make_user(role) if role else None
    with pytest.raises(Forbidden if role else Unauthorized):
        enter(session, actor, poll)
    session.rollback()
    assert ballots(session, poll) == [] and audits(session) == []


@pytest.mark.parametrize("choices", [[], [999999], ["x"], "1", None, [True]])
def test_invalid_choices_are_refused_and_nothing_is_written(session, make_poll, moderator,
                                                            choices):
    poll = make_poll()
    with pytest.raises(InvalidInput):
        paper.enter_ballot(session, moderator, poll.id, choices, channel="paper")
    session.rollback()
    assert ballots(session, poll) == [] and audits(session) == []


def test_two_choices_in_a_single_choice_poll_are_refused(session, make_poll, moderator):
    poll = make_poll()
    with pytest.raises(InvalidInput):
        enter(session, moderator, poll, [poll.options[0].id, poll.options[1].id])


@pytest.mark.parametrize("channel", ["online", "fax", "", None, 3])
def test_an_entered_ballot_needs_an_offline_channel(session, make_poll, moderator, channel):
    poll = make_poll()
    with pytest.raises(InvalidInput) as refused:
        enter(session, moderator, poll, channel=channel)
    assert refused.value.field == "channel"
    session.rollback()
    assert ballots(session, poll) == []


def test_a_closed_or_upcoming_poll_takes_no_entered_ballot(session, make_poll, moderator,
                                                          official):
    closed = make_poll()
    services.close_poll(session, official, closed)
    session.commit()
    upcoming = make_poll(is_open=False)
    for poll in (closed, upcoming):
        with pytest.raises(Closed):
            enter(session, moderator, poll)
        session.rollback()
        assert ballots(session, poll) == []
    assert audits(session) == []


# Polls for verified residents


def test_a_verified_poll_checks_the_identity_and_marks_the_entry_as_having_voted(
        session, make_poll, moderator):
    (ana,) = put_on_roll(session, ANA)
    poll = verified_poll(make_poll)
    # Typed as it is on the card: spaces and dashes, lower case.
    typed = ("12 345 678-z", ANA[1], " 28001 ", ANA[3])
    enter(session, moderator, poll, person=typed)
    (ballot,) = ballots(session, poll)
    assert ballot.roll_entry_id == ana.id and ballot.voter_id is None
    assert audits(session)[0].detail["identity_checked"] is True


def test_a_verified_poll_refuses_a_ballot_without_identity(session, make_poll, moderator):
    put_on_roll(session, ANA)
    poll = verified_poll(make_poll)
    with pytest.raises(InvalidInput):
        enter(session, moderator, poll)
    session.rollback()
    assert ballots(session, poll) == []


def test_someone_not_on_the_roll_or_removed_from_it_is_refused(session, make_poll, moderator):
    put_on_roll(session, ANA)
    put_on_roll(session, CARLA, active=False)
    poll = verified_poll(make_poll)
    wrong_postcode = (ANA[0], ANA[1], "28002", ANA[3])
    for person in (wrong_postcode, CARLA, BEN):
        with pytest.raises(NotFound) as refused:
            enter(session, moderator, poll, person=person)
        # The message names nothing that was typed.
        assert person[0] not in refused.value.message and person[2] not in refused.value.message
        session.rollback()
    assert ballots(session, poll) == [] and audits(session) == []


def test_the_polls_districts_and_minimum_age_apply_to_entered_ballots(session, make_poll,
                                                                     moderator):
    put_on_roll(session, ANA, BEN, CARLA)
    poll = verified_poll(make_poll, districts=["Centro"], min_age=18)
    for person in (CARLA, BEN):  # another district; too young
        with pytest.raises(Forbidden):
            enter(session, moderator, poll, person=person)
        session.rollback()
    enter(session, moderator, poll, person=ANA)
    assert len(ballots(session, poll)) == 1


def test_someone_who_voted_online_cannot_hand_in_paper(session, make_poll, moderator, resident):
    (ana,) = put_on_roll(session, ANA)
    session.add(Verification(user_id=resident.id, entry_id=ana.id, method="online"))
    session.commit()
    poll = verified_poll(make_poll)
    services.cast_ballot(session, resident, poll.id, [poll.options[0].id])
    session.commit()
    with pytest.raises(Conflict) as refused:
        enter(session, moderator, poll, [poll.options[1].id], person=ANA)
    assert "already voted online" in refused.value.message
    session.rollback()
    (ballot,) = ballots(session, poll)
    assert ballot.channel is Channel.ONLINE and ballot.choices == [poll.options[0].id]
    assert audits(session) == []


def test_an_online_ballot_naming_the_entry_blocks_paper_whoever_holds_the_account_now(
        session, make_poll, moderator, resident):
    (ana,) = put_on_roll(session, ANA)
    poll = verified_poll(make_poll)
    verification = Verification(user_id=resident.id, entry_id=ana.id, method="online")
    session.add(verification)
    session.flush()
    services.cast_ballot(session, resident, poll.id, [poll.options[0].id])
    # The account's verification moved away since; its ballot keeps the entry's mark.
    session.delete(verification)
    session.commit()
    with pytest.raises(Conflict) as refused:
        enter(session, moderator, poll, person=ANA)
    assert "already voted online" in refused.value.message


def test_a_ballot_entered_twice_for_one_person_is_refused(session, make_poll, moderator,
                                                         official):
    put_on_roll(session, ANA)
    poll = verified_poll(make_poll)
    enter(session, moderator, poll, person=ANA)
    with pytest.raises(Conflict):
        enter(session, official, poll, [poll.options[1].id], channel="phone", person=ANA)
    session.rollback()
    (ballot,) = ballots(session, poll)
    assert ballot.channel is Channel.PAPER and ballot.choices == [poll.options[0].id]


def test_after_paper_the_database_refuses_an_online_ballot_for_the_same_entry(
        session, make_poll, moderator, resident):
    (ana,) = put_on_roll(session, ANA)
    poll = verified_poll(make_poll)
    enter(session, moderator, poll, person=ANA)
    session.add(Ballot(poll_id=poll.id, voter_id=resident.id, roll_entry_id=ana.id,
                       channel=Channel.ONLINE, choices=[poll.options[1].id],
                       receipt=services.new_receipt()))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert len(ballots(session, poll)) == 1


def test_an_online_ballot_that_gets_in_first_at_the_same_moment_is_a_clear_conflict(
        session, make_poll, moderator, resident, monkeypatch):
    (ana,) = put_on_roll(session, ANA)
    poll = verified_poll(make_poll)
    checked = paper._eligible_entry

    def online_vote_in_between(*args, **kwargs):
        entry_id = checked(*args, **kwargs)
        session.add(Ballot(poll_id=poll.id, voter_id=resident.id, roll_entry_id=ana.id,
                           channel=Channel.ONLINE, choices=[poll.options[1].id],
                           receipt=services.new_receipt()))
        session.flush()
        return entry_id

    monkeypatch.setattr(paper, "_eligible_entry", online_vote_in_between)
    with pytest.raises(Conflict):
        paper.enter_ballot(session, moderator, poll.id, [poll.options[0].id], channel="paper",
                           identity=identity(ANA), roll_key=KEY)
    # The refused entry left nothing of its own: the online ballot stands, and no audit entry.
    (ballot,) = ballots(session, poll)
    assert ballot.channel is Channel.ONLINE
    assert audits(session) == []


def test_officers_entering_one_persons_ballot_at_once_make_one_ballot(app, session, make_poll,
                                                                     moderator, official):
    put_on_roll(session, ANA)
    poll = verified_poll(make_poll)
    poll_id, officers = poll.id, [moderator.id, official.id]
    poll_option = poll.options[0].id
    session.rollback()

    def job():
        from participation.accounts.models import User

        officer = db.session.get(User, officers[len(outcomes) % 2])
        outcomes.append(None)
        try:
            paper.enter_ballot(db.session, officer, poll_id, [poll_option], channel="paper",
                               identity=identity(ANA), roll_key=KEY)
            return "entered"
        except Conflict:
            db.session.rollback()
            return "refused"

    outcomes: list[None] = []
    results = []
    for _ in range(10):
        results += at_once(app, job, workers=2)
    assert results.count("entered") == 1 and results.count("refused") == 19
    assert session.scalar(select(func.count()).select_from(Ballot)
                          .where(Ballot.poll_id == poll_id)) == 1


def test_paper_and_online_at_the_same_moment_leave_one_ballot_for_the_person(
        app, session, make_poll, moderator, resident):
    """Fifty attempts, half entered on paper and half cast online (as the online path writes a
    verified poll's ballot: naming the roll entry), two at a time: one ballot results."""
    (ana,) = put_on_roll(session, ANA)
    session.add(Verification(user_id=resident.id, entry_id=ana.id, method="online"))
    session.commit()
    poll = verified_poll(make_poll)
    poll_id, entry_id, option = poll.id, ana.id, poll.options[0].id
    officer_id, voter_id = moderator.id, resident.id
    session.rollback()
    turns = iter(range(1000))
    lock = threading.Lock()

    def job():
        from participation.accounts.models import User

        with lock:
            online = next(turns) % 2 == 1
        try:
            if online:
                with db.session.begin_nested():
                    db.session.add(Ballot(poll_id=poll_id, voter_id=voter_id,
                                          roll_entry_id=entry_id, channel=Channel.ONLINE,
                                          choices=[option], receipt=services.new_receipt()))
                return "online"
            paper.enter_ballot(db.session, db.session.get(User, officer_id), poll_id, [option],
                               channel="paper", identity=identity(ANA), roll_key=KEY)
            return "paper"
        except (Conflict, IntegrityError):
            return "refused"

    results = []
    for _ in range(25):
        results += at_once(app, job, workers=2)
    assert len(results) == 50 and results.count("refused") == 49
    assert session.scalar(select(func.count()).select_from(Ballot)
                          .where(Ballot.poll_id == poll_id)) == 1


# The pages


def test_an_officer_enters_a_ballot_with_the_form_and_is_shown_the_receipt(
        client_as, make_poll, session):
    poll = make_poll()
    client = client_as(Role.MODERATOR)
    path = f"/polls/{poll.id}/paper"
    page = client.get(path)
    assert page.status_code == 200
    response = client.post(path, data={"channel": "paper", "choice": str(poll.options[2].id),
                                       "csrf_token": csrf_token(client, path)})
    assert response.status_code == 302 and response.location.startswith(path)
    (ballot,) = ballots(session, poll)
    shown = client.get(path).get_data(as_text=True)
    assert services.format_receipt(ballot.receipt) in shown
    assert ballot.channel is Channel.PAPER and ballot.choices == [poll.options[2].id]
    # Ready for the next voter, by the same channel.
    assert 'checked id="channel-0" name="channel" type="radio" value="paper"' in shown


def test_the_form_keeps_the_channel_and_returns_to_the_console(client_as, make_poll,
                                                               live_townhall):
    poll = make_poll(townhall=live_townhall)
    client = client_as(Role.MODERATOR)
    path = f"/polls/{poll.id}/paper"
    console = f"/townhalls/{live_townhall.id}/moderate"
    response = client.post(path, data={"channel": "phone", "choice": str(poll.options[0].id),
                                       "next": console, "csrf_token": csrf_token(client, path)})
    page = client.get(response.location).get_data(as_text=True)
    assert 'checked id="channel-1" name="channel" type="radio" value="phone"' in page
    assert f'href="{console}"' in page


def test_the_form_refuses_a_resident_and_a_visitor(client_as, client, make_poll):
    poll = make_poll()
    assert client_as(Role.RESIDENT).get(f"/polls/{poll.id}/paper").status_code == 403
    assert client.get(f"/polls/{poll.id}/paper").status_code == 401


def test_a_refused_identity_is_not_shown_back_and_says_nothing_of_which_field(
        client_as, make_poll, session):
    put_on_roll(session, ANA)
    poll = verified_poll(make_poll)
    client = client_as(Role.MODERATOR)
    path = f"/polls/{poll.id}/paper"
    response = client.post(path, data={
        "channel": "paper", "choice": str(poll.options[0].id), "document_id": ANA[0],
        "birth_date": ANA[1], "postcode": "28999", "csrf_token": csrf_token(client, path)})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Nobody on the electoral roll matches this identity" in page
    assert ANA[0] not in page and "28999" not in page and ANA[1] not in page
    assert ballots(session, poll) == []


@pytest.mark.parametrize("field", ["document_id", "birth_date", "postcode"])
def test_an_overlong_identity_field_is_refused_on_its_field_and_not_shown_back(
        client_as, make_poll, session, field):
    put_on_roll(session, ANA)
    poll = verified_poll(make_poll)
    client = client_as(Role.MODERATOR)
    path = f"/polls/{poll.id}/paper"
    sent = {"document_id": ANA[0], "birth_date": ANA[1], "postcode": ANA[2]}
    sent[field] = "7Q" * 5000
    response = client.post(path, data={**sent, "channel": "paper",
                                       "choice": str(poll.options[0].id),
                                       "csrf_token": csrf_token(client, path)})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page
    assert "7Q7Q" not in page and ANA[0] not in page
    assert ballots(session, poll) == []


def test_the_console_and_the_poll_page_link_the_entry_form_for_officers_only(
        client_as, make_poll, live_townhall):
    poll = make_poll(townhall=live_townhall)
    link = f"/polls/{poll.id}/paper"
    moderator = client_as(Role.MODERATOR)
    console = moderator.get(f"/townhalls/{live_townhall.id}/moderate").get_data(as_text=True)
    assert link in console
    assert link in moderator.get(f"/polls/{poll.id}").get_data(as_text=True)
    assert link not in client_as(Role.RESIDENT).get(f"/polls/{poll.id}").get_data(as_text=True)


def test_the_poll_page_shows_how_many_ballots_came_by_each_channel(
        session, client, make_poll, moderator, voters):
    poll = make_poll()
    for person in voters(2):
        services.cast_ballot(session, person, poll.id, [poll.options[0].id])
    enter(session, moderator, poll, channel="paper")
    enter(session, moderator, poll, channel="phone")
    enter(session, moderator, poll, channel="phone")
    page = client.get(f"/polls/{poll.id}").get_data(as_text=True)
    for channel, number in (("online", 2), ("paper", 1), ("phone", 2)):
        assert f'data-channel="{channel}">{number} ballot' in page
    assert 'data-channel="in_person"' not in page
