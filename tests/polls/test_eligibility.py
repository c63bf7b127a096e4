"""Who may vote: the poll's setting, said on its page, and enforced on every path (the form, the
socket's `vote`, the JSON API) by the one service check; one ballot per roll entry."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from participation.db import utcnow
from participation.errors import InvalidInput
from participation.extensions import db
from participation.polls import services
from participation.polls.models import Ballot, BallotSecrecy, Channel, Eligibility, Poll
from participation.realtime.rooms import NAMESPACE
from participation.roll.models import RollEntry, Verification
from participation.security.permissions import Role
from tests.conftest import csrf_token


def enrol(district: str | None = "Centro", birth_year: int | None = 1980) -> RollEntry:
    """A person on the roll (an entry as an import leaves it: a keyed hash, district, year)."""
    entry = RollEntry(identity_hash=secrets.token_hex(32), district=district,
                      birth_year=birth_year, active=True)
    db.session.add(entry)
    db.session.commit()
    return entry


def verify(user, entry: RollEntry) -> Verification:
    verification = Verification(user_id=user.id, entry_id=entry.id, method="online")
    db.session.add(verification)
    db.session.commit()
    return verification


def ballots_of(poll: Poll) -> list[Ballot]:
    db.session.expire_all()
    return list(db.session.scalars(select(Ballot).where(Ballot.poll_id == poll.id)))


def count_polls() -> int:
    return db.session.scalar(select(func.count()).select_from(Poll)) or 0


@pytest.fixture
def roll():
    """A small roll: two districts, and one entry too young for a poll of those aged 18+."""
    return {"centro": enrol("Centro", 1980), "norte": enrol("Norte", 1975),
            "young": enrol("Centro", utcnow().year - 15)}


@pytest.fixture
def verified_poll(make_poll, roll):
    return make_poll("single", eligibility="verified", eligible_districts=["Centro"],
                     min_age=18)


# The setting, on the service


def test_a_poll_for_verified_residents_keeps_its_districts_and_age_and_is_secret(
        make_poll, roll):
    poll = make_poll("single", eligibility="verified", eligible_districts=["Norte", "Centro"],
                     min_age=16)
    assert poll.eligibility is Eligibility.VERIFIED
    assert poll.eligible_districts == ["Norte", "Centro"] and poll.min_age == 16
    assert poll.ballot_secrecy is BallotSecrecy.SECRET
    chosen = make_poll("single", eligibility="verified", ballot_secrecy="verifiable",
                       question="Verifiable on purpose?")
    assert chosen.ballot_secrecy is BallotSecrecy.VERIFIABLE
    assert make_poll("single", question="Open to all?").ballot_secrecy is \
        BallotSecrecy.VERIFIABLE


@pytest.mark.parametrize(("settings", "field", "words"), [
    ({"eligibility": "verified", "eligible_districts": ["Atlantis"]}, "eligible_districts",
     "no district called “Atlantis”"),
    ({"eligibility": "verified", "min_age": 0}, "min_age", "minimum age"),
    ({"eligibility": "verified", "min_age": 500}, "min_age", "minimum age"),
    ({"eligibility": "confirmed", "eligible_districts": ["Centro"]}, "eligible_districts",
     "only to a poll for verified residents"),
    ({"eligibility": "signed_in", "min_age": 18}, "min_age",
     "only to a poll for verified residents"),
    ({"eligibility": "everyone"}, "eligibility", "Choose who may vote"),
    ({"eligibility": "verified", "eligible_districts": "Centro"}, "eligible_districts",
     "from the list"),
])
def test_bad_who_may_vote_settings_are_refused_and_create_nothing(
        make_poll, roll, settings, field, words):
    before = count_polls()
    with pytest.raises(InvalidInput) as refused:
        make_poll("single", **settings)
    db.session.rollback()
    assert refused.value.field == field and words in refused.value.message
    assert count_polls() == before


def test_no_poll_for_verified_residents_before_the_roll_is_imported(make_poll):
    with pytest.raises(InvalidInput) as refused:
        make_poll("single", eligibility="verified")
    assert refused.value.field == "eligibility" and "roll is empty" in refused.value.message


def test_the_districts_offered_are_those_of_the_active_roll(roll):
    gone = enrol("Sur")
    gone.active = False
    db.session.commit()
    assert services.roll_districts(db.session) == ["Centro", "Norte"]


# The setting, on the form


def test_the_form_offers_the_rolls_districts_and_refuses_one_it_lacks(client_as, topic, roll):
    official = client_as(Role.OFFICIAL)
    page = official.get("/polls/new").get_data(as_text=True)
    assert "Who may vote" in page
    for district in ("Centro", "Norte"):
        assert f'name="eligible_districts" value="{district}"' in page
    form = {"csrf_token": csrf_token(official, "/polls/new"), "parent": f"topic:{topic.id}",
            "question": "Where should the library open?", "kind": "single",
            "options": "North\nSouth", "results_mode": "after_close", "open_now": "y",
            "eligibility": "verified", "min_age": "16"}
    before = count_polls()
    bad = official.post("/polls/new", data={**form, "eligible_districts": ["Centro", "Atlantis"]})
    assert bad.status_code == 400
    body = bad.get_data(as_text=True)
    assert re.search(r'id="eligible_districts-error">[^<]*no district called “Atlantis”', body)
    assert count_polls() == before
    made = official.post("/polls/new", data={**form, "eligible_districts": ["Norte"]})
    assert made.status_code == 302
    poll = db.session.scalar(select(Poll).order_by(Poll.id.desc()))
    assert (poll.eligibility, poll.eligible_districts, poll.min_age) == (
        Eligibility.VERIFIED, ["Norte"], 16)
    # The form's default secrecy follows who may vote.
    assert poll.ballot_secrecy is BallotSecrecy.SECRET


# The poll page says who may vote and what to do


def test_the_page_tells_an_unverified_resident_to_verify_and_offers_no_form(
        client_as, verified_poll):
    page = client_as(Role.RESIDENT).get(f"/polls/{verified_poll.id}").get_data(as_text=True)
    who = re.search(r'id="who-may-vote"[^>]*>([^<]*)<', page).group(1)
    assert "Verified residents of Centro" in who and "18" in who
    notice = re.search(r'id="not-eligible">(.*?)</div>', page, re.S).group(1)
    assert "verify your account" in notice
    assert re.search(r'<a [^>]*href="/account', notice)
    assert "vote-form" not in page


def test_the_page_tells_a_resident_of_another_district_there_is_nothing_to_do(
        client_as, make_user, verified_poll, roll):
    person = make_user(Role.RESIDENT)
    verify(person, roll["norte"])
    page = client_as(user=person).get(f"/polls/{verified_poll.id}").get_data(as_text=True)
    notice = re.search(r'id="not-eligible">(.*?)</div>', page, re.S).group(1)
    assert "open only to" in notice and "<a " not in notice
    assert "vote-form" not in page


def test_the_page_offers_the_form_to_an_eligible_resident(client_as, make_user, verified_poll,
                                                           roll):
    person = make_user(Role.RESIDENT)
    verify(person, roll["centro"])
    page = client_as(user=person).get(f"/polls/{verified_poll.id}").get_data(as_text=True)
    assert "not-eligible" not in page and "vote-form" in page


def test_a_poll_for_confirmed_addresses_asks_for_the_confirmation(app, make_poll, make_user,
                                                                  client_as):
    # The site itself lets unconfirmed accounts vote; this poll does not.
    app.config["CONFIRMED_EMAIL_REQUIRED_FOR"] = ""
    poll = make_poll("single", eligibility="confirmed")
    unconfirmed = client_as(user=make_user(Role.RESIDENT, confirmed=False))
    page = unconfirmed.get(f"/polls/{poll.id}").get_data(as_text=True)
    notice = re.search(r'id="not-eligible">(.*?)</div>', page, re.S).group(1)
    assert "confirmed email address" in notice and "Send the link again" in notice
    refused = unconfirmed.post(f"/polls/{poll.id}", data={
        "csrf_token": csrf_token(unconfirmed, f"/polls/{poll.id}"),
        "choice": str(poll.options[0].id)})
    assert refused.status_code == 403
    assert ballots_of(poll) == []
    confirmed = client_as(Role.RESIDENT)
    assert confirmed.post(f"/polls/{poll.id}", data={
        "csrf_token": csrf_token(confirmed, f"/polls/{poll.id}"),
        "choice": str(poll.options[0].id)}).status_code == 302
    assert len(ballots_of(poll)) == 1


# Every path enforces it


def _form_vote(client, poll, option):
    return client.post(f"/polls/{poll.id}", data={
        "csrf_token": csrf_token(client, f"/polls/{poll.id}"), "choice": str(option.id)})


def _api_vote(client, poll, choices):
    return client.post(f"/api/v1/polls/{poll.id}/ballot", json={"choices": choices},
                       headers={"X-CSRFToken": csrf_token(client, f"/polls/{poll.id}")})


def test_an_unverified_resident_is_refused_on_the_form(client_as, verified_poll):
    resident = client_as(Role.RESIDENT)
    refused = _form_vote(resident, verified_poll, verified_poll.options[0])
    assert refused.status_code == 403
    assert "verified against the electoral roll" in refused.get_data(as_text=True)
    assert ballots_of(verified_poll) == []


def test_an_unverified_resident_is_refused_over_the_socket(client_as, socket_client,
                                                           verified_poll):
    sio = socket_client(client_as(Role.RESIDENT))
    ack = sio.emit("vote", {"poll_id": verified_poll.id,
                            "choices": [verified_poll.options[0].id]},
                   namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False and ack["error"] == "forbidden"
    assert "verified against the electoral roll" in ack["message"]
    assert ballots_of(verified_poll) == []


def test_an_unverified_resident_is_refused_by_the_api(client_as, verified_poll):
    refused = _api_vote(client_as(Role.RESIDENT), verified_poll, [verified_poll.options[0].id])
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "forbidden"
    assert "verified against the electoral roll" in refused.get_json()["message"]
    assert ballots_of(verified_poll) == []


def test_the_api_describes_who_may_vote(client, verified_poll):
    document = client.get(f"/api/v1/polls/{verified_poll.id}").get_json()
    assert document["eligibility"]["who"] == "verified"
    assert document["eligibility"]["districts"] == ["Centro"]
    assert document["eligibility"]["min_age"] == 18


@pytest.mark.parametrize("person", ["norte", "young"])
def test_a_verified_resident_outside_the_restriction_is_refused_everywhere(
        client_as, socket_client, make_user, verified_poll, roll, person):
    voter = make_user(Role.RESIDENT)
    verify(voter, roll[person])
    client = client_as(user=voter)
    option = verified_poll.options[0]
    assert _form_vote(client, verified_poll, option).status_code == 403
    assert _api_vote(client, verified_poll, [option.id]).status_code == 403
    ack = socket_client(client).emit("vote", {"poll_id": verified_poll.id,
                                              "choices": [option.id]},
                                     namespace=NAMESPACE, callback=True)
    assert ack["error"] == "forbidden" and "open only to" in ack["message"]
    assert ballots_of(verified_poll) == []


def test_an_eligible_resident_votes_on_every_path_and_changing_replaces_the_ballot(
        client_as, socket_client, make_user, verified_poll, roll):
    voter = make_user(Role.RESIDENT)
    verify(voter, roll["centro"])
    client = client_as(user=voter)
    first, second, third = verified_poll.options
    assert _form_vote(client, verified_poll, first).status_code == 302
    (ballot,) = ballots_of(verified_poll)
    assert ballot.roll_entry_id == roll["centro"].id and ballot.voter_id == voter.id
    api = _api_vote(client, verified_poll, [second.id])
    assert api.status_code == 200 and api.get_json()["replaced"] is True
    ack = socket_client(client).emit("vote", {"poll_id": verified_poll.id,
                                              "choices": [third.id]},
                                     namespace=NAMESPACE, callback=True)
    assert ack["ok"] and ack["replaced"]
    (changed,) = ballots_of(verified_poll)
    assert changed.id == ballot.id and changed.choices == [third.id]
    assert changed.roll_entry_id == roll["centro"].id


def test_a_verification_that_left_the_roll_no_longer_votes(make_user, verified_poll, roll):
    voter = make_user(Role.RESIDENT)
    verify(voter, roll["centro"])
    roll["centro"].active = False
    db.session.commit()
    with pytest.raises(services.NotEligible) as refused:
        services.cast_ballot(db.session, voter, verified_poll.id,
                             [verified_poll.options[0].id])
    assert refused.value.remedy == "verify"


# One ballot per roll entry, whatever the account or channel


def test_a_verification_moved_to_another_account_cannot_vote_again(make_user, verified_poll,
                                                                  roll):
    first, second = make_user(Role.RESIDENT), make_user(Role.RESIDENT)
    moved = verify(first, roll["centro"])
    services.cast_ballot(db.session, first, verified_poll.id, [verified_poll.options[0].id])
    db.session.commit()
    db.session.delete(moved)
    db.session.flush()
    verify(second, roll["centro"])
    with pytest.raises(services.AlreadyVoted) as refused:
        services.cast_ballot(db.session, second, verified_poll.id,
                             [verified_poll.options[1].id])
    db.session.rollback()
    assert refused.value.code == "conflict" and "already voted" in refused.value.message
    (ballot,) = ballots_of(verified_poll)
    assert ballot.voter_id == first.id and ballot.choices == [verified_poll.options[0].id]


def test_someone_whose_paper_ballot_was_entered_cannot_vote_online(
        client_as, socket_client, make_user, verified_poll, roll):
    voter = make_user(Role.RESIDENT)
    verify(voter, roll["centro"])
    # As a poll officer's entry leaves it: no account, the roll entry as its "has voted" mark.
    db.session.add(Ballot(poll_id=verified_poll.id, voter_id=None, channel=Channel.PAPER,
                          roll_entry_id=roll["centro"].id, receipt=services.new_receipt(),
                          choices=[verified_poll.options[2].id]))
    db.session.commit()
    client = client_as(user=voter)
    option = verified_poll.options[0]
    form = _form_vote(client, verified_poll, option)
    assert form.status_code == 409 and "already voted" in form.get_data(as_text=True)
    api = _api_vote(client, verified_poll, [option.id])
    assert api.status_code == 409 and api.get_json()["error"] == "conflict"
    ack = socket_client(client).emit("vote", {"poll_id": verified_poll.id,
                                              "choices": [option.id]},
                                     namespace=NAMESPACE, callback=True)
    assert ack["error"] == "conflict"
    (ballot,) = ballots_of(verified_poll)
    assert ballot.channel is Channel.PAPER and ballot.choices == [verified_poll.options[2].id]


def test_a_group_of_socket_votes_refuses_only_the_entry_that_voted(make_user, verified_poll,
                                                                   roll):
    """The grouped writer's path: one INSERT for several voters, one of them already counted."""
    entries = [roll["centro"], enrol("Centro"), enrol("Centro")]
    people = [make_user(Role.RESIDENT) for _ in entries]
    for person, entry in zip(people, entries, strict=True):
        verify(person, entry)
    db.session.add(Ballot(poll_id=verified_poll.id, voter_id=None, channel=Channel.PHONE,
                          roll_entry_id=entries[1].id, receipt=services.new_receipt(),
                          choices=[verified_poll.options[0].id]))
    db.session.commit()
    outcomes = services.cast_ballots(db.session, [
        services.VoteRequest(person, verified_poll.id, [verified_poll.options[1].id])
        for person in people])
    db.session.commit()
    assert isinstance(outcomes[1], services.AlreadyVoted)
    assert all(isinstance(outcomes[i], services.CastOutcome) for i in (0, 2))
    ballots = ballots_of(verified_poll)
    assert sorted(b.roll_entry_id for b in ballots) == sorted(e.id for e in entries)
    assert len(ballots) == 3


def test_polls_open_to_everyone_take_no_roll_entry(make_poll, make_user, roll):
    poll = make_poll("single")
    voter = make_user(Role.RESIDENT)
    verify(voter, roll["centro"])
    result = services.cast_ballot(db.session, voter, poll.id, [poll.options[0].id])
    assert result.ballot.roll_entry_id is None


def test_a_poll_that_has_closed_refuses_before_asking_the_roll(make_poll, make_user, roll):
    poll = make_poll("single", eligibility="verified",
                     closes_at=utcnow() + timedelta(hours=1))
    poll.closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(services.Closed):
        services.cast_ballot(db.session, make_user(Role.RESIDENT), poll.id,
                             [poll.options[0].id])


def test_the_town_halls_live_page_tells_who_may_not_vote_instead_of_a_form(
        client_as, make_user, verified_poll, roll):
    townhall_id = verified_poll.townhall_id
    page = client_as(Role.RESIDENT).get(f"/townhalls/{townhall_id}").get_data(as_text=True)
    card = re.search(rf'id="poll-{verified_poll.id}"(.*?)</article>', page, re.S).group(1)
    assert "poll-not-eligible" in card and "verified against the electoral roll" in card
    assert "poll-vote-form" not in card
    voter = make_user(Role.RESIDENT)
    verify(voter, roll["centro"])
    page = client_as(user=voter).get(f"/townhalls/{townhall_id}").get_data(as_text=True)
    card = re.search(rf'id="poll-{verified_poll.id}"(.*?)</article>', page, re.S).group(1)
    assert "poll-not-eligible" not in card and "poll-vote-form" in card


def test_the_api_ballot_needs_the_pages_csrf_token_and_a_sign_in(client, client_as, make_user,
                                                                verified_poll, roll):
    voter = make_user(Role.RESIDENT)
    verify(voter, roll["centro"])
    signed_in = client_as(user=voter)
    choices = {"choices": [verified_poll.options[0].id]}
    forged = signed_in.post(f"/api/v1/polls/{verified_poll.id}/ballot", json=choices)
    assert forged.status_code == 403 and forged.get_json()["error"] == "forbidden"
    visitor = client.post(f"/api/v1/polls/{verified_poll.id}/ballot", json=choices)
    assert visitor.status_code == 401 and visitor.get_json()["error"] == "unauthorized"
    not_json = signed_in.post(f"/api/v1/polls/{verified_poll.id}/ballot", data="choices=1",
                              headers={"X-CSRFToken": csrf_token(signed_in,
                                                                 f"/polls/{verified_poll.id}")})
    assert not_json.status_code == 400 and not_json.get_json()["error"] == "invalid"
    assert ballots_of(verified_poll) == []



def test_the_list_of_polls_says_which_are_for_verified_residents(client, make_poll,
                                                                  verified_poll):
    make_poll("single", question="Open to everyone signed in?")
    page = client.get("/polls").get_data(as_text=True)
    shown = re.findall(r'class="poll-who">([^<]*)<', page)
    assert shown == [services.who_may_vote(verified_poll)]
