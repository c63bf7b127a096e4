"""Who voted, by which channel, and out of how many: the figures a poll publishes beside its result.

A poll for verified residents has an electorate: the active roll entries that meet its
restriction (districts, minimum age) at the moment it closes, frozen into `Poll.electorate` then
(by the close, or for a scheduled close by the job every minute), so a later roll import does
not change a closed poll's turnout. Plain functions; they flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from participation.db import utcnow
from participation.polls import counting
from participation.polls.models import Ballot, Eligibility, Poll
from participation.roll.models import RollEntry


@dataclass
class Turnout:
    """A poll's ballots by channel and, for a closed verified poll, its electorate and turnout."""

    ballots: int
    channels: dict[str, int]
    # Verified polls only: the electorate (frozen once closed) and ballots as a share of it.
    electorate: int | None
    percent: float | None
    # True once the electorate is the figure frozen at the close.
    frozen: bool

    @property
    def entered(self) -> int:
        """Ballots entered by poll officers (every channel but online)."""
        return self.ballots - self.channels["online"]


def channel_counts(session: Session, poll: Poll) -> dict[str, int]:
    """How many of the poll's ballots came by each channel (every channel named)."""
    rows = session.execute(select(Ballot.channel, func.count()).where(Ballot.poll_id == poll.id)
                           .group_by(Ballot.channel))
    counts = dict.fromkeys(counting.CHANNELS, 0)
    for channel, number in rows:
        counts[channel.value] = number
    return counts


def count_electorate(session: Session, poll: Poll, now: datetime | None = None) -> int | None:
    """The active roll entries that may vote in this poll now (None: not a verified poll).

    The same rule as `eligibility.meets_roll_restriction`, as one COUNT."""
    if poll.eligibility is not Eligibility.VERIFIED:
        return None
    stmt = select(func.count()).select_from(RollEntry).where(RollEntry.active.is_(True))
    if poll.eligible_districts:
        stmt = stmt.where(RollEntry.district.in_(sorted(poll.eligible_districts)))
    if poll.min_age:
        year = (poll.closes_at or now or utcnow()).year
        stmt = stmt.where(RollEntry.birth_year.is_not(None),
                          RollEntry.birth_year <= year - poll.min_age)
    return session.scalar(stmt) or 0


def freeze_electorate(session: Session, poll: Poll, now: datetime | None = None) -> bool:
    """Freeze a closed verified poll's electorate, once; True when it was frozen now."""
    now = now or utcnow()
    if (poll.eligibility is not Eligibility.VERIFIED or not poll.is_closed(now)
            or poll.electorate is not None):
        return False
    poll.electorate = count_electorate(session, poll, now)
    session.flush()
    return True


def freeze_closed_electorates(session: Session, now: datetime | None = None) -> int:
    """Freeze the electorate of every verified poll that closed by its time and has none yet
    (the job every minute); returns how many were frozen."""
    now = now or utcnow()
    polls = session.scalars(select(Poll).where(
        Poll.eligibility == Eligibility.VERIFIED, Poll.electorate.is_(None),
        Poll.closes_at.is_not(None), Poll.closes_at <= now).order_by(Poll.id))
    return sum(freeze_electorate(session, poll, now) for poll in list(polls))


def poll_turnout(session: Session, poll: Poll, now: datetime | None = None) -> Turnout:
    """The poll's figures as its pages, exports and decision records show them. A closed verified
    poll whose electorate the job has not frozen yet shows the roll's count as it stands."""
    now = now or utcnow()
    channels = channel_counts(session, poll)
    ballots = sum(channels.values())
    electorate = None
    frozen = False
    if poll.eligibility is Eligibility.VERIFIED and poll.is_closed(now):
        frozen = poll.electorate is not None
        electorate = poll.electorate if frozen else count_electorate(session, poll, now)
    return Turnout(ballots=ballots, channels=channels, electorate=electorate,
                   percent=counting.turnout_percent(ballots, electorate), frozen=frozen)
