"""The demo shows ballots from people who are not online: paper and phone ballots in the live
town hall's poll, and a poll for the verified residents of one district."""

from __future__ import annotations

import csv

from sqlalchemy import select

from participation import demo
from participation.demo import seed_demo
from participation.polls import turnout
from participation.polls.models import Ballot, Eligibility, Poll
from participation.roll.models import RollEntry
from participation.roll.services import parse_identity

KEY = b"demo roll key, for this test only"
PEOPLE = [("D1000001", "1970-03-02", "28010", "Centro"),
          ("D1000002", "1985-11-20", "28010", "Centro"),
          ("D1000003", "1992-06-14", "28012", "Centro")]


def test_the_demo_has_entered_ballots_beside_online_ones(session):
    seed_demo(session)
    session.commit()
    counted = {}
    for poll in session.scalars(select(Poll)):
        counted[poll.id] = turnout.poll_turnout(session, poll)
    assert any(figures.channels["online"] and figures.channels["paper"]
               and figures.channels["phone"] for figures in counted.values())


def test_the_demo_poll_for_verified_residents_takes_paper_ballots_from_the_roll(
        app, session, tmp_path, monkeypatch):
    app.config["ROLL_KEY"] = KEY
    path = tmp_path / "demo-roll.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["document_id", "birth_date", "postcode", "district"])
        writer.writerows(PEOPLE)
    for person in PEOPLE:
        session.add(RollEntry(identity_hash=parse_identity(*person[:3]).hash(KEY),
                              district=person[3], birth_year=int(person[1][:4])))
    session.commit()
    monkeypatch.setattr(demo, "DEMO_ROLL_CSV", path, raising=False)
    seed_demo(session)
    session.commit()
    (poll,) = session.scalars(select(Poll).where(Poll.eligibility == Eligibility.VERIFIED))
    assert poll.eligible_districts == ["Centro"]
    entered = session.scalars(select(Ballot).where(Ballot.poll_id == poll.id)).all()
    entries = {entry.id for entry in session.scalars(select(RollEntry))}
    assert len(entered) == len(PEOPLE)
    assert {ballot.roll_entry_id for ballot in entered} == entries
