"""Demo polls: one open poll of each kind (the single-choice one live in the live town hall, shown
on its live page and projector) and a closed ranked-choice poll whose count takes several
rounds."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from participation.db import utcnow
from participation.demo import DemoAccounts
from participation.forums.models import Topic
from participation.polls import services
from participation.realtime.outbox import take_events
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
    session.flush()
    # The live town hall's poll is in its event log (`poll`); nobody is connected while seeding.
    take_events(session)
