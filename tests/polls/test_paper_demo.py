"""The demo shows ballots from people who are not online: paper and phone ballots in the live
town hall's poll, and a poll for the verified residents of one district."""

from __future__ import annotations

from sqlalchemy import select

from participation.demo import seed_demo
from participation.polls import turnout
from participation.polls.models import Ballot, Channel, Eligibility, Poll
from participation.roll.models import RollEntry, Verification


def test_the_demo_has_entered_ballots_beside_online_ones(session):
    seed_demo(session)
    session.commit()
    counted = {}
    for poll in session.scalars(select(Poll)):
        counted[poll.id] = turnout.poll_turnout(session, poll)
    assert any(figures.channels["online"] and figures.channels["paper"]
               and figures.channels["phone"] for figures in counted.values())


def test_the_demo_poll_for_verified_residents_takes_paper_ballots_from_the_roll(session):
    seed_demo(session)
    session.commit()
    (poll,) = session.scalars(select(Poll).where(Poll.eligibility == Eligibility.VERIFIED))
    (district,) = poll.eligible_districts
    ballots = session.scalars(select(Ballot).where(Ballot.poll_id == poll.id)).all()
    by_channel = {channel: [b for b in ballots if b.channel is channel] for channel in Channel}
    assert by_channel[Channel.ONLINE] and by_channel[Channel.PAPER]
    # Every ballot is one person of the district on the roll; nobody is counted twice.
    entries = {entry.id: entry for entry in session.scalars(select(RollEntry))}
    named = [ballot.roll_entry_id for ballot in ballots]
    assert len(set(named)) == len(named) and None not in named
    assert all(entries[entry].active and entries[entry].district == district for entry in named)
    # Online ballots come from the accounts verified for those entries; paper ones from none.
    verified = dict(session.execute(select(Verification.entry_id, Verification.user_id)).all())
    assert all(verified[b.roll_entry_id] == b.voter_id for b in by_channel[Channel.ONLINE])
    assert all(b.voter_id is None for b in by_channel[Channel.PAPER])
