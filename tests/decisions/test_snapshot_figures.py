"""A decision record's page shows the figures frozen with each poll it cites: the ballots by
channel and, for a poll for verified residents, the electorate and turnout; a record frozen
before those figures existed renders as it did."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from babel.numbers import format_decimal
from sqlalchemy import select

from participation.db import utcnow
from participation.decisions import services
from participation.extensions import db
from participation.forums import services as forums
from participation.polls import paper
from participation.polls import services as polls
from participation.polls.models import Eligibility
from participation.realtime.outbox import take_events
from participation.roll.models import RollEntry, Verification
from participation.security.permissions import Role
from tests.decisions.conftest import draft
from tests.polls.roll_people import KEY, identity, put_on_roll
from tests.polls.test_paper_counting import expected_electorate, person

CHANNEL_NAMES = {"online": "Online", "paper": "On paper", "phone": "By phone",
                 "in_person": "In person"}


@pytest.fixture(autouse=True)
def roll_key(app):
    app.config["ROLL_KEY"] = KEY


@pytest.fixture
def make_poll(official):
    topic = forums.create_topic(db.session, official, title="Ferry", description="")
    db.session.commit()

    def factory(eligibility=Eligibility.SIGNED_IN):
        poll = polls.create_poll(db.session, official, question=f"Ferry name? ({eligibility})",
                                 options=["Otter", "Heron", "Willow"], kind="single",
                                 results_mode="after_close",
                                 opens_at=utcnow() - timedelta(hours=1), topic_id=topic.id)
        poll.eligibility = eligibility
        db.session.commit()
        return poll

    return factory


def close_and_cite(official, *cited):
    for poll in cited:
        polls.close_poll(db.session, official, poll)
    db.session.commit()
    take_events(db.session)
    record = services.publish_decision(
        db.session, official, draft(links=[("poll", poll.id) for poll in cited]))
    db.session.commit()
    return record


def evidence_of(page, poll_id):
    """The part of the record page about one poll."""
    start = page.index(f'id="evidence-poll-{poll_id}"')
    end = page.find("</article>", start)
    return page[start:end]


def shown_channels(section):
    return {channel: int(re.sub(r"\D", "", count)) for channel, count in
            re.findall(r'data-channel="(\w+)">([^<]*)</dd>', section)}


def test_a_record_shows_the_ballots_by_channel_and_a_verified_polls_turnout(
        client, official, moderator, make_user, make_poll):
    # An open poll: online ballots and ballots entered on paper and by phone.
    open_poll = make_poll()
    used = Counter()
    for index in range(3):
        polls.cast_ballot(db.session, make_user(Role.RESIDENT), open_poll.id,
                          [open_poll.options[index % 3].id])
        used["online"] += 1
    for channel in ("paper", "paper", "phone"):
        paper.enter_ballot(db.session, moderator, open_poll.id, [open_poll.options[1].id],
                           channel=channel)
        used[channel] += 1
    db.session.commit()

    # A poll for verified residents, with a roll of more than a thousand (and some who left it).
    people = [person(number) for number in range(1030)]
    put_on_roll(db.session, *people[:1010])
    put_on_roll(db.session, *people[1010:], active=False)
    verified = make_poll(Eligibility.VERIFIED)
    entries = db.session.scalars(select(RollEntry).where(RollEntry.active.is_(True))
                                 .order_by(RollEntry.id).limit(2)).all()
    voted = Counter()
    for entry in entries:
        resident = make_user(Role.RESIDENT)
        db.session.add(Verification(user_id=resident.id, entry_id=entry.id, method="online"))
        db.session.flush()
        polls.cast_ballot(db.session, resident, verified.id, [verified.options[0].id])
        voted["online"] += 1
    for someone in people[500:505]:
        paper.enter_ballot(db.session, moderator, verified.id, [verified.options[2].id],
                           channel="in_person", identity=identity(someone), roll_key=KEY)
        voted["in_person"] += 1
    db.session.commit()

    record = close_and_cite(official, open_poll, verified)
    electorate = expected_electorate(db.session, verified)
    assert electorate == 1010
    page = client.get(f"/decisions/{record.seq}").get_data(as_text=True)

    section = evidence_of(page, open_poll.id)
    assert shown_channels(section) == {**used, "total": used.total()}
    for channel, name in CHANNEL_NAMES.items():
        assert (f"<dt>{name}</dt>" in section) == (used[channel] > 0)
    assert "residents on the roll" not in section

    section = evidence_of(page, verified.id)
    assert shown_channels(section) == {**voted, "total": voted.total()}
    share = 100 * voted.total() / electorate
    assert (f"{voted.total()} of {format_decimal(electorate, locale='en')} residents on the "
            f"roll voted ({share:.1f}%)") in section
    assert f'data-electorate="{electorate}"' in section

    # In Spanish, the numbers are written the Spanish way.
    spanish = evidence_of(client.get(f"/decisions/{record.seq}",
                                     headers={"Accept-Language": "es"}).get_data(as_text=True),
                          verified.id)
    percent = format_decimal(round(share, 1), format="#,##0.0", locale="es")
    assert "," in percent
    assert (f"Participación: {voted.total()} de {format_decimal(electorate, locale='es')} "
            f"residentes del censo ({percent} %)") in spanish
    assert "<dt>En persona</dt>" in spanish and "<dt>En papel</dt>" not in spanish


def test_an_older_snapshot_without_the_figures_renders_as_before(client, publish,
                                                                 fake_evidence):
    fake_evidence.add("poll", 4, title="Which evenings?", snapshot={
        "question": "Which evenings?", "kind": "single", "turnout": 7,
        "tally": [{"option_id": 1, "label": "Tuesday", "votes": 5},
                  {"option_id": 2, "label": "Thursday", "votes": 2}],
        "leaders": ["Tuesday"]}, ballots=7)
    # Figures a record cannot show (not numbers) are left out rather than failing the page.
    fake_evidence.add("poll", 5, title="Odd figures", snapshot={
        "question": "Odd figures", "turnout": 3, "channels": {"online": "three", "paper": -1},
        "electorate": 10, "turnout_percent": "n/a"}, ballots=3)
    record = publish(links=[("poll", 4), ("poll", 5)])
    for language in ("en", "es"):
        response = client.get(f"/decisions/{record.seq}", headers={"Accept-Language": language})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Which evenings?" in page and "Tuesday" in page
        assert "data-channel=" not in page and "data-electorate=" not in page
