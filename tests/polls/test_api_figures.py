"""The poll document of the JSON API carries its ballots by channel (where its results are
public) and, once a poll for verified residents has closed, its electorate and turnout."""

from __future__ import annotations

from collections import Counter

import pytest

from participation.polls import counting, paper
from tests.polls.conftest import close
from tests.polls.roll_people import KEY, identity, put_on_roll, verified_poll
from tests.polls.test_paper_counting import expected_electorate, mixed_ballots, person


@pytest.fixture(autouse=True)
def roll_key(app):
    app.config["ROLL_KEY"] = KEY


def by_channel(used):
    """The test's own count of the ballots it cast and entered, every channel named."""
    counted = Counter(used)
    return {channel: counted[channel] for channel in counting.CHANNELS}


def listed(client, poll_id):
    polls = client.get("/api/v1/polls?per_page=100").get_json()["polls"]
    return next(document for document in polls if document["id"] == poll_id)


def test_an_open_poll_with_live_results_gives_its_ballots_by_channel(
        client, session, make_poll, moderator, voters):
    poll = make_poll(results_mode="live")
    used = mixed_ballots(session, poll, moderator, voters)
    assert {"online", "paper"} <= set(used)
    for document in (client.get(f"/api/v1/polls/{poll.id}").get_json(),
                     listed(client, poll.id)):
        assert document["channels"] == by_channel(used)
        assert sum(document["channels"].values()) == document["ballots"] == len(used)
        # Not a poll for verified residents: no electorate, no turnout.
        assert document["electorate"] is None and document["turnout_percent"] is None


def test_the_counts_by_channel_stay_hidden_with_the_results(client, session, make_poll,
                                                             moderator, voters):
    poll = make_poll(results_mode="after_close")
    used = mixed_ballots(session, poll, moderator, voters)
    document = client.get(f"/api/v1/polls/{poll.id}").get_json()
    assert document["results"] is None and document["channels"] is None
    close(poll)
    document = client.get(f"/api/v1/polls/{poll.id}").get_json()
    assert document["channels"] == by_channel(used)


def test_a_closed_verified_poll_gives_its_electorate_and_turnout(client, session, make_poll,
                                                                 moderator):
    people = [person(number) for number in range(20)]
    put_on_roll(session, *people[:15])
    put_on_roll(session, *people[15:], active=False)
    poll = verified_poll(make_poll, districts=["Centro", "Retiro"])
    used = []
    for someone in people[:15]:
        if someone[3] not in ("Centro", "Retiro") or len(used) == 6:
            continue
        channel = "paper" if len(used) % 2 else "in_person"
        paper.enter_ballot(session, moderator, poll.id, [poll.options[0].id], channel=channel,
                           identity=identity(someone), roll_key=KEY)
        used.append(channel)
    session.commit()
    open_document = client.get(f"/api/v1/polls/{poll.id}").get_json()
    assert open_document["channels"] == by_channel(used)
    # Open: no electorate yet, the roll may still change before the close.
    assert open_document["electorate"] is None and open_document["turnout_percent"] is None
    close(poll)
    electorate = expected_electorate(session, poll)
    assert 0 < len(used) < electorate
    for document in (client.get(f"/api/v1/polls/{poll.id}").get_json(),
                     listed(client, poll.id)):
        assert document["electorate"] == electorate
        assert document["turnout_percent"] == round(100.0 * len(used) / electorate, 1)
        assert document["channels"] == by_channel(used)


def test_a_verified_poll_with_unreleased_results_gives_its_electorate_only(
        client, session, make_poll, moderator):
    people = [person(number) for number in range(6)]
    put_on_roll(session, *people)
    poll = verified_poll(make_poll, results_mode="hidden")
    paper.enter_ballot(session, moderator, poll.id, [poll.options[1].id], channel="phone",
                       identity=identity(people[0]), roll_key=KEY)
    session.commit()
    close(poll)
    document = client.get(f"/api/v1/polls/{poll.id}").get_json()
    assert document["results"] is None and document["ballots"] is None
    assert document["electorate"] == expected_electorate(session, poll) == len(people)
    # The share would tell how many voted: it waits for the results.
    assert document["channels"] is None and document["turnout_percent"] is None
