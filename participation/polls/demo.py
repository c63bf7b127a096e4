"""Demo polls: one open poll of each kind (the single-choice one live in the live town hall, shown
on its live page and projector, with ballots taken on paper and by phone beside the online ones),
a closed ranked-choice poll whose count takes several rounds, and a poll for the verified
residents of one district with online and paper ballots."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from participation.accounts.models import User
from participation.db import utcnow
from participation.demo import DemoAccounts
from participation.errors import DomainError
from participation.forums.models import Topic
from participation.polls import paper, services
from participation.polls.models import Ballot, Eligibility, Poll
from participation.realtime.outbox import take_events
from participation.roll.demo import DEMO_ROLL
from participation.roll.models import RollEntry
from participation.roll.services import parse_identity, roll_key, standing_of
from participation.townhall.models import Status, TownHall


def seed_polls(session: Session, accounts: DemoAccounts) -> None:
    people = accounts.users
    official = people["official"]
    voters = [people[key] for key in ("resident", "resident2", "resident3", "resident4",
                                      "moderator", "admin", "official")]
    live = session.scalar(select(TownHall).where(TownHall.status == Status.LIVE)
                          .order_by(TownHall.id))
    topic = session.scalar(select(Topic).order_by(Topic.id))
    if live is None or topic is None:
        raise RuntimeError("demo polls need the demo town halls and forum topics first")
    now = utcnow()

    spending = services.create_poll(
        session, official, question="Which should the budget fund first?",
        description="Live during the town hall: the results update as people vote.",
        options=["Night buses", "Park maintenance", "Affordable housing", "Library hours"],
        kind="single", results_mode="live", opens_at=now, townhall_id=live.id)
    for voter, choice in zip(voters[:5], [0, 2, 2, 1, 0], strict=True):
        services.cast_ballot(session, voter, spending.id, [spending.options[choice].id])
    # Residents in the hall without a phone, and one who called in: entered by the moderator.
    for channel, choice in (("paper", 2), ("paper", 3), ("phone", 1)):
        paper.enter_ballot(session, people["moderator"], spending.id,
                           [spending.options[choice].id], channel=channel)

    services.create_poll(
        session, official, question="Which features should the redesigned park have?",
        description="Choose up to three. Results are shown when the poll closes.",
        options=["Shade trees", "Lit paths", "Wild riverbank", "Water play", "Café",
                 "Dog area"],
        kind="multiple", max_choices=3, results_mode="after_close", opens_at=now,
        closes_at=now + timedelta(days=14), topic_id=topic.id)

    services.create_poll(
        session, official, question="Rank the options for winter street parking.",
        description="Ranked choice, counted by instant runoff, with secret ballots: a "
                    "receipt shows that a ballot is counted, not how. The results are "
                    "released by the transport office after the close.",
        options=["Alternate-side parking", "Snow routes only", "Permit zones",
                 "No change"],
        kind="ranked", results_mode="hidden", ballot_secrecy="secret", opens_at=now,
        closes_at=now + timedelta(days=21), topic_id=topic.id)

    mascot = services.create_poll(
        session, official, question="Name the new river ferry (ranked choice)",
        description="This poll has closed: see every round of the count, check your receipt, "
                    "or download the ballots and recount them yourself.",
        options=["Otter", "Heron", "Willow", "Lantern"],
        kind="ranked", results_mode="after_close", opens_at=now - timedelta(days=7),
        topic_id=topic.id)
    otter, heron, willow, lantern = (option.id for option in mascot.options)
    # Several rounds: Lantern goes first and its one ballot, ranking nothing else, is exhausted;
    # then three options tie and the tie-break rule decides, round by round.
    rankings = [[otter, heron], [otter, willow], [heron, willow], [heron, otter],
                [willow, heron], [lantern], [willow, otter]]
    for voter, ranking in zip(voters, rankings, strict=True):
        services.cast_ballot(session, voter, mascot.id, ranking)
    services.close_poll(session, official, mascot)
    # Its week ended before the decision records that cite it: ballots cast over that week.
    mascot.opens_at = now - timedelta(days=20)
    mascot.closes_at = now - timedelta(days=13)
    for n, ballot in enumerate(session.scalars(select(Ballot).where(Ballot.poll_id == mascot.id)
                                               .order_by(Ballot.id))):
        ballot.cast_at = mascot.opens_at + timedelta(hours=9 + 19 * n)
    seed_roll_poll(session, accounts, topic)
    session.flush()
    # The live town hall's poll is in its event log (`poll`); nobody is connected while seeding.
    take_events(session)


def seed_roll_poll(session: Session, accounts: DemoAccounts, topic: Topic) -> Poll:
    """A poll for the verified residents of one district (secret ballots), with the online
    ballots of the demo residents verified there and paper ballots for a few more people on the
    demo roll. Without a roll yet it is still created (for verified residents, any district) and
    simply has no ballots: nobody can be verified."""
    people = accounts.users
    standings = {key: standing_of(session, user) for key, user in people.items()}
    districts = Counter(standing.district for standing in standings.values()
                        if standing is not None and standing.district)
    district = (districts.most_common(1)[0][0] if districts
                else session.scalar(select(RollEntry.district)
                                    .where(RollEntry.active.is_(True),
                                           RollEntry.district.is_not(None))
                                    .order_by(RollEntry.district).limit(1)))
    poll = services.create_poll(
        session, people["official"],
        question="Should the old market hall become a covered playground?",
        description="A consultation for the verified residents of the district, on the "
                    "electoral roll: vote online once your account is verified, or hand in a "
                    "paper ballot at the town hall. One person, one ballot, either way.",
        options=["Yes", "No"], kind="single", results_mode="after_close",
        ballot_secrecy="secret", opens_at=utcnow(), closes_at=utcnow() + timedelta(days=10),
        topic_id=topic.id)
    poll.eligibility = Eligibility.VERIFIED
    poll.eligible_districts = [district] if district else []
    session.flush()
    for number, (key, standing) in enumerate(sorted(standings.items(), key=lambda s: s[0])):
        if standing is None or (district and standing.district != district):
            continue
        voter: User = people[key]
        try:
            services.cast_ballot(session, voter, poll.id, [poll.options[number % 2].id])
        except DomainError:
            continue  # a restriction the demo account does not meet
    key = _roll_key()
    entered = 0
    for row in _demo_roll_rows():
        if entered == 3 or key is None:
            break
        try:
            identity = parse_identity(row.get("document_id", ""), row.get("birth_date", ""),
                                      row.get("postcode", ""))
            with session.begin_nested():
                paper.enter_ballot(session, people["moderator"], poll.id,
                                   [poll.options[entered % 2].id], channel="paper",
                                   identity=identity, roll_key=key)
            entered += 1
        except DomainError:
            continue  # verified online, another district, or too young: the officer is told
    return poll


def _roll_key() -> bytes | None:
    return roll_key(current_app.config) if has_app_context() else None


def _demo_roll_rows() -> list[dict[str, str]]:
    """The invented people of the demo roll (participation/roll/demo_roll.csv)."""
    with DEMO_ROLL.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))
