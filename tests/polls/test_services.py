"""Poll rules tested directly with a session: creating, voting, results modes, exports."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from participation.accounts.services import export_personal_data
from participation.db import utcnow
from participation.errors import (
    Closed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TextTooComplex,
    Unauthorized,
)
from participation.extensions import db
from participation.polls import services
from participation.polls.models import Ballot
from participation.security.permissions import Role
from tests.polls.conftest import close
from tests.security.pathological import wide_table


def ballots_in(poll):
    return db.session.scalar(select(func.count()).select_from(Ballot)
                             .where(Ballot.poll_id == poll.id))


def ids(poll):
    return [option.id for option in poll.options]


def test_official_creates_a_poll_with_cleaned_options(session, official, live_townhall):
    poll = services.create_poll(
        session, official, question="  Which day for the market?  ",
        options=["Saturday", "", "  Sunday ", "Wednesday"], kind="multiple",
        results_mode="after_close", max_choices=2, townhall_id=live_townhall.id,
        description="Read **this** <script>alert(1)</script>",
    )
    assert poll.question == "Which day for the market?"
    assert [o.label for o in poll.options] == ["Saturday", "Sunday", "Wednesday"]
    assert "<strong>this</strong>" in poll.description_html
    assert "<script>" not in poll.description_html
    assert len(poll.draw_seed) == 16


@pytest.mark.parametrize(("changes", "field"), [
    ({"options": ["Only one"]}, "options"),
    ({"options": [f"Option {i}" for i in range(21)]}, "options"),
    ({"options": ["Same", "same"]}, "options"),
    ({"question": "   "}, "question"),
    ({"kind": "borda"}, "kind"),
    ({"results_mode": "sometimes"}, "results_mode"),
    ({"kind": "multiple", "max_choices": 5}, "max_choices"),
    ({"townhall_id": None}, "parent"),
    ({"topic_id": 2}, "parent"),
    ({"townhall_id": 987654}, "parent"),
    ({"townhall_id": None, "topic_id": 987654}, "parent"),
    ({"closes_at": "past"}, "closes_at"),
])
def test_bad_poll_definitions_are_refused_with_the_field_named(session, official, live_townhall,
                                                                changes, field):
    args = dict(question="Q?", options=["Yes", "No"], kind="single", results_mode="live",
                townhall_id=live_townhall.id)
    if changes.get("closes_at") == "past":
        changes = {"closes_at": utcnow() - timedelta(minutes=1)}
    args.update(changes)
    with pytest.raises(InvalidInput) as caught:
        services.create_poll(session, official, **args)
    assert caught.value.field == field


def test_residents_and_visitors_cannot_create_polls(session, make_user):
    for actor, error in ((make_user(Role.RESIDENT), Forbidden),
                         (make_user(Role.MODERATOR), Forbidden), (None, Unauthorized)):
        with pytest.raises(error):
            services.create_poll(session, actor, question="Q?", options=["a", "b"],
                                 kind="single", results_mode="live", townhall_id=1)


def test_a_cast_gives_a_receipt_and_a_second_cast_replaces_the_ballot(session, make_poll, voters):
    poll = make_poll("single")
    (resident,) = voters(1)
    first = services.cast_ballot(session, resident, poll.id, [ids(poll)[0]])
    session.commit()
    assert not first.replaced and len(first.ballot.receipt) == services.RECEIPT_LENGTH
    second = services.cast_ballot(session, resident, poll.id, [ids(poll)[1]])
    session.commit()
    assert second.replaced and second.ballot.id == first.ballot.id
    assert second.ballot.receipt == first.ballot.receipt
    assert ballots_in(poll) == 1
    results = services.poll_results(session, None, poll)
    assert [o["votes"] for o in results["options"]] == [0, 1, 0]


def test_a_retry_with_the_same_client_id_is_applied_once(session, make_poll, voters):
    poll = make_poll("single")
    (resident,) = voters(1)
    services.cast_ballot(session, resident, poll.id, [ids(poll)[0]], client_id="c-1")
    session.commit()
    retry = services.cast_ballot(session, resident, poll.id, [ids(poll)[1]], client_id="c-1")
    session.commit()
    assert retry.repeated and retry.ballot.choices == [ids(poll)[0]]
    changed = services.cast_ballot(session, resident, poll.id, [ids(poll)[1]], client_id="c-2")
    assert changed.replaced and changed.ballot.choices == [ids(poll)[1]]


def test_the_unique_constraint_not_a_check_keeps_one_ballot_per_resident(session, make_poll,
                                                                           voters):
    poll = make_poll("single")
    (resident,) = voters(1)
    session.add(Ballot(poll_id=poll.id, voter_id=resident.id, choices=[ids(poll)[0]],
                       receipt="A" * 20))
    session.flush()
    session.add(Ballot(poll_id=poll.id, voter_id=resident.id, choices=[ids(poll)[1]],
                       receipt="B" * 20))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


@pytest.mark.parametrize(("kind", "max_choices", "choices", "message"), [
    ("single", None, lambda o: [999_999], "not one of"),
    ("single", None, lambda o: [], "at least one"),
    ("single", None, lambda o: [o[0], o[1]], "exactly one"),
    ("ranked", None, lambda o: [o[0], o[0]], "at most once"),
    ("multiple", 2, lambda o: o[:3], "at most 2"),
    ("single", None, lambda o: "1", "must be a list"),
    ("single", None, lambda o: [None], "not one of"),
    ("single", None, lambda o: [1.5], "not one of"),
])
def test_bad_ballots_are_refused_and_nothing_is_counted(session, make_poll, voters, kind,
                                                        max_choices, choices, message):
    poll = make_poll(kind, max_choices=max_choices,
                     options=["North", "South", "East", "West"])
    (resident,) = voters(1)
    with pytest.raises(InvalidInput, match=message):
        services.cast_ballot(session, resident, poll.id, choices(ids(poll)))
    session.rollback()
    assert ballots_in(poll) == 0


def test_votes_before_open_after_close_by_visitors_or_on_unknown_polls_are_refused(
        session, make_poll, voters):
    (resident,) = voters(1)
    upcoming = make_poll("single", is_open=False)
    with pytest.raises(Closed, match="not open yet"):
        services.cast_ballot(session, resident, upcoming.id, [ids(upcoming)[0]])
    session.rollback()
    ended = make_poll("single")
    close(ended)
    with pytest.raises(Closed, match="closed"):
        services.cast_ballot(session, resident, ended.id, [ids(ended)[0]])
    session.rollback()
    with pytest.raises(Unauthorized):
        services.cast_ballot(session, None, ended.id, [ids(ended)[0]])
    with pytest.raises(NotFound):
        services.cast_ballot(session, resident, 987654, [1])
    with pytest.raises(NotFound):
        services.cast_ballot(session, resident, "1; drop table", [1])
    session.rollback()
    assert ballots_in(upcoming) == 0 and ballots_in(ended) == 0


def test_a_vote_a_moment_after_the_closing_time_is_refused(session, make_poll, voters):
    poll = make_poll("single")
    poll.closes_at = utcnow() + timedelta(milliseconds=1)
    session.commit()
    (resident,) = voters(1)
    import time

    time.sleep(0.01)
    with pytest.raises(Closed):
        services.cast_ballot(session, resident, poll.id, [ids(poll)[0]])


@pytest.mark.parametrize("mode", ["after_close", "hidden"])
def test_results_stay_hidden_until_the_mode_allows(session, make_poll, voters, official, mode):
    poll = make_poll("single", results_mode=mode)
    (resident,) = voters(1)
    services.cast_ballot(session, resident, poll.id, [ids(poll)[0]])
    session.commit()
    assert not services.results_visible(poll)
    with pytest.raises(Forbidden):
        services.poll_results(session, official, poll)
    with pytest.raises(Forbidden):
        services.export_poll(session, official, poll)
    services.close_poll(session, official, poll)
    session.commit()
    if mode == "hidden":
        assert not services.results_visible(poll)
        with pytest.raises(Forbidden):
            services.export_poll(session, official, poll)
        with pytest.raises(Forbidden):
            services.release_results(session, voters(1)[0], poll)
        services.release_results(session, official, poll)
        session.commit()
    assert services.results_visible(poll)
    assert services.poll_results(session, None, poll)["ballots"] == 1


def test_release_is_only_for_hidden_closed_polls(session, make_poll, official):
    hidden = make_poll("single", results_mode="hidden")
    with pytest.raises(Conflict, match="once the poll has closed"):
        services.release_results(session, official, hidden)
    live = make_poll("single", results_mode="live")
    close(live)
    with pytest.raises(Conflict, match="not hidden"):
        services.release_results(session, official, live)


def test_open_and_close_by_hand(session, make_poll, official, make_user):
    poll = make_poll("single", is_open=False)
    resident = make_user(Role.RESIDENT)
    with pytest.raises(Forbidden):
        services.open_poll(session, resident, poll)
    services.open_poll(session, official, poll)
    session.commit()
    assert poll.status(utcnow()) == "open"
    with pytest.raises(Conflict):
        services.open_poll(session, official, poll)
    services.close_poll(session, official, poll)
    session.commit()
    assert poll.status(utcnow()) == "closed"
    with pytest.raises(Closed):
        services.open_poll(session, official, poll)
    with pytest.raises(Conflict):
        services.close_poll(session, official, poll)


def test_moderators_run_polls_only_in_a_live_town_hall(session, make_poll, make_user, topic,
                                                      make_townhall):
    moderator = make_user(Role.MODERATOR)
    in_topic = make_poll("single", is_open=False, topic=topic)
    with pytest.raises(Forbidden):
        services.open_poll(session, moderator, in_topic)
    in_scheduled = make_poll("single", is_open=False, townhall=make_townhall("scheduled"))
    with pytest.raises(Forbidden):
        services.open_poll(session, moderator, in_scheduled)
    live = make_poll("single", is_open=False)
    services.open_poll(session, moderator, live)
    services.close_poll(session, moderator, live)
    session.commit()
    assert live.status(utcnow()) == "closed"


def test_a_poll_in_a_private_town_hall_is_hidden_from_visitors(session, make_poll,
                                                               make_townhall, voters):
    poll = make_poll("single", townhall=make_townhall(is_public=False))
    with pytest.raises(NotFound):
        services.get_poll(session, None, poll.id)
    assert services.list_polls(session, None) == ([], 0)
    (resident,) = voters(1)
    assert services.get_poll(session, resident, poll.id) is poll


def test_export_is_anonymous_unordered_and_recounts_to_the_published_result(
        session, make_poll, voters):
    poll = make_poll("ranked", options=["Trams", "Buses", "Bikes", "Ferries"])
    people = voters(6)
    o = ids(poll)
    rankings = [[o[0], o[1]], [o[1]], [o[2], o[1]], [o[3]], [o[0]], [o[2], o[0], o[1]]]
    for person, ranking in zip(people, rankings, strict=True):
        services.cast_ballot(session, person, poll.id, ranking)
        session.commit()
    close(poll)
    export = json.loads(json.dumps(services.export_poll(session, None, poll)))
    text = json.dumps(export)
    for person in people:
        assert person.email not in text
    receipts = [b.receipt for b in session.scalars(select(Ballot).where(Ballot.poll_id == poll.id))]
    assert not any(receipt in text for receipt in receipts)
    fingerprints = [b["fingerprint"] for b in export["ballots"]]
    assert fingerprints == sorted(fingerprints)
    assert export["results"] == services.poll_results(session, None, poll)
    report = services.recount_export(export)
    assert report.matches and report.problems == []
    tampered = json.loads(json.dumps(export))
    first = tampered["ballots"][0]["choices"][0]
    tampered["ballots"][0]["choices"] = [o[3] if first != o[3] else o[0]]
    assert not services.recount_export(tampered).matches
    csv_text = services.export_csv(export)
    assert csv_text.splitlines()[0].startswith("fingerprint,")
    assert len(csv_text.splitlines()) == 7


@pytest.mark.parametrize("data", [
    [], {"format": "other"}, {"format": services.EXPORT_FORMAT},
    {"format": services.EXPORT_FORMAT, "poll": {"kind": "borda", "options": []}, "ballots": []},
    {"format": services.EXPORT_FORMAT, "poll": {"kind": "single", "options": [{"id": 1}]},
     "ballots": [{"fingerprint": "x", "choices": [1]}]},
    {"format": services.EXPORT_FORMAT,
     "poll": {"kind": "single", "options": [{"id": 1}], "draw_seed": "s"},
     "ballots": [{"fingerprint": "x", "choices": [7]}]},
])
def test_recount_refuses_files_that_are_not_exports(data):
    with pytest.raises(services.BadExport):
        services.recount_export(data)


def test_a_voter_finds_their_ballot_by_receipt(session, make_poll, voters):
    poll = make_poll("single")
    (resident,) = voters(1)
    cast = services.cast_ballot(session, resident, poll.id, [ids(poll)[2]])
    session.commit()
    shown = services.format_receipt(cast.ballot.receipt)
    check = services.check_receipt(session, None, shown.lower().replace("-", " "))
    assert check.poll.id == poll.id and check.cast_at == cast.ballot.cast_at
    # What anyone holding the code is told carries no choices.
    assert not hasattr(check, "ballot") and not hasattr(check, "choices")
    close(poll)
    fingerprints = [b["fingerprint"] for b in services.export_poll(session, None, poll)["ballots"]]
    assert check.fingerprint in fingerprints
    with pytest.raises(NotFound):
        services.check_receipt(session, None, "Z" * 20)
    with pytest.raises(InvalidInput):
        services.check_receipt(session, None, "short")


def test_download_my_data_includes_my_ballots_and_receipts(session, make_poll, voters):
    poll = make_poll("single")
    (resident,) = voters(1)
    cast = services.cast_ballot(session, resident, poll.id, [ids(poll)[1]])
    session.commit()
    data = export_personal_data(session, resident)
    assert data["poll_ballots"] == [{
        "poll_id": poll.id, "question": poll.question, "choices": ["Market square"],
        "receipt": services.format_receipt(cast.ballot.receipt),
        "cast_at": cast.ballot.cast_at.isoformat(),
    }]


def test_receipt_codes_draw_every_character_of_the_alphabet_evenly():
    codes = [services.new_receipt() for _ in range(2000)]
    assert len(set(codes)) == len(codes)
    assert all(len(code) == services.RECEIPT_LENGTH for code in codes)
    counts = Counter("".join(codes))
    assert set(counts) == set(services.RECEIPT_ALPHABET)
    expected = 2000 * services.RECEIPT_LENGTH / len(services.RECEIPT_ALPHABET)
    assert all(abs(count - expected) < 0.2 * expected for count in counts.values()), counts


def test_a_too_complex_description_is_refused_with_its_field(session, official, live_townhall):
    with pytest.raises(TextTooComplex) as refused:
        services.create_poll(session, official, question="Which day?",
                             options=["Saturday", "Sunday"], kind="single",
                             results_mode="live", townhall_id=live_townhall.id,
                             description=wide_table(2_400))
    assert refused.value.field == "description"
