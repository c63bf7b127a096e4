"""Ballots from people who are not online: a poll officer (a moderator or an official) enters a
ballot taken on paper, by phone or in person, with its channel.

In a poll for verified residents the officer types the voter's identity: it is checked against
the roll and the ballot names the roll entry, so the database's one-ballot-per-entry constraint
keeps that person from also voting online (and someone who voted online cannot hand in paper).
In any other poll the ballot is entered without identity. Every entry is audited (officer,
time, channel, poll), never the choices and never the identity.

Plain functions `verb_noun(session, actor, ...)`: they flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exc, or_, select
from sqlalchemy.orm import Session

from participation.accounts.models import AuditEntry, User
from participation.db import utcnow
from participation.errors import Closed, Conflict, Forbidden, InvalidInput, NotFound
from participation.i18n import N_
from participation.polls import counting, services
from participation.polls.eligibility import meets_roll_restriction
from participation.polls.models import Ballot, Channel, Eligibility, Poll
from participation.roll.models import Verification
from participation.roll.services import Identity, find_entry
from participation.security.permissions import can, require

# The channels an officer may enter a ballot by ("online" is the resident's own vote).
ENTERED_CHANNELS = (Channel.PAPER, Channel.PHONE, Channel.IN_PERSON)
CHANNEL_LABELS = {
    Channel.ONLINE: N_("Online"),
    Channel.PAPER: N_("On paper"),
    Channel.PHONE: N_("By phone"),
    Channel.IN_PERSON: N_("In person"),
}
AUDIT_ACTION = "poll.enter_ballot"


@dataclass
class EnteredBallot:
    """A ballot an officer entered, and the receipt code to hand to its voter."""

    ballot: Ballot
    receipt: str
    # Whether the room's tally should be pushed (live results, held in a town hall).
    push_tally: bool


def needs_identity(poll: Poll) -> bool:
    """Whether the officer must type the voter's identity: polls for verified residents."""
    return poll.eligibility is Eligibility.VERIFIED


def parse_channel(value: Any) -> Channel:
    try:
        channel = Channel(value)
    except ValueError:
        channel = None
    if channel not in ENTERED_CHANNELS:
        raise InvalidInput(_l("Choose how the ballot was taken: on paper, by phone or in "
                              "person."), field="channel")
    return channel


def enter_ballot(session: Session, actor: User | None, poll_id: Any, choices: Any, *,
                 channel: Any, identity: Identity | None = None,
                 roll_key: bytes | None = None) -> EnteredBallot:
    """Enter a ballot taken off line in an open poll (poll officers: moderators, officials).

    A verified poll needs the voter's `identity` (and the `roll_key` to look it up); it is
    refused when nobody on the roll has it, when that person may not vote in this poll, and
    when they already voted, online or entered. Nothing is written when it is refused.
    """
    require(actor, "poll.enter_ballot")
    assert actor is not None  # noqa: S101 - require refuses visitors
    poll = services.get_poll(session, actor, poll_id)
    entry_channel = parse_channel(channel)
    parsed = services._parse_choices(choices)
    locked = services._lock_poll(session, poll.id)
    if locked is None:
        raise NotFound(_l("No such poll."))
    now = utcnow()
    if poll.is_closed(now):
        raise Closed(_l("This poll has closed; no more ballots are counted."))
    if not poll.is_open(now):
        raise Closed(_l("This poll is not open yet."))
    problem = counting.check_ballot_shape(
        poll.kind.value, [option.id for option in poll.options], poll.max_choices, parsed)
    if problem:
        raise InvalidInput(services._ballot_problem(problem, poll.max_choices),
                           field="choices")
    entry_id = None
    if needs_identity(poll):
        entry_id = _eligible_entry(session, poll, identity, roll_key, now)
    ballot = Ballot(poll_id=poll.id, voter_id=None, roll_entry_id=entry_id,
                    channel=entry_channel, choices=parsed, receipt=services.new_receipt(),
                    cast_at=now)
    try:
        with session.begin_nested():
            session.add(ballot)
    except exc.IntegrityError:
        # An online ballot for the same roll entry got in first, at the same moment.
        raise Conflict(_l("This person has already voted in this poll.")) from None
    session.add(AuditEntry(actor_id=actor.id, subject_id=None, action=AUDIT_ACTION,
                           detail={"poll_id": poll.id, "channel": entry_channel.value,
                                   "identity_checked": entry_id is not None}))
    session.flush()
    return EnteredBallot(ballot=ballot, receipt=services.format_receipt(ballot.receipt),
                         push_tally=poll.townhall_id is not None
                         and services.results_visible(poll, now))


def _eligible_entry(session: Session, poll: Poll, identity: Identity | None,
                    roll_key: bytes | None, now: datetime) -> int:
    """The roll entry of the voter the officer named, if they may still vote in this poll."""
    if identity is None:
        raise InvalidInput(_l("This poll is for verified residents: type the voter's document "
                              "number, date of birth and postcode."), field="document_id")
    if not roll_key:
        raise Conflict(_l("The electoral roll is not set up on this site."))
    entry = find_entry(session, roll_key, identity)
    # One message for every way the identity fails to match, as for online verification.
    if entry is None:
        raise NotFound(_l("Nobody on the electoral roll matches this identity. Check the "
                          "document, the date of birth and the postcode with the voter."))
    if not meets_roll_restriction(poll, entry.district, entry.birth_year, now):
        raise Forbidden(_l("This person is on the roll but may not vote in this poll (its "
                           "districts or minimum age)."))
    voted = session.scalar(
        select(Ballot.channel).where(
            Ballot.poll_id == poll.id,
            or_(Ballot.roll_entry_id == entry.id,
                Ballot.voter_id.in_(select(Verification.user_id)
                                    .where(Verification.entry_id == entry.id))))
        .limit(1))
    if voted is Channel.ONLINE:
        raise Conflict(_l("This person already voted online in this poll."))
    if voted is not None:
        raise Conflict(_l("This person already has a ballot in this poll, entered by a poll "
                          "officer."))
    return entry.id


def may_enter_ballots(actor: User | None, poll: Poll) -> bool:
    """Whether the page should offer `actor` the officer's entry form for this poll now."""
    return can(actor, "poll.enter_ballot") and poll.is_open(utcnow())
