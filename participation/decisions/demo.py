"""Demo decision records: a decision resting on the demo's closed poll, ended town hall and
forum thread, an amendment that corrects it, progress updates on its commitments, and a written
answer closing one of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from participation.db import utcnow
from participation.decisions import services
from participation.decisions.models import Commitment
from participation.decisions.providers import PROVIDERS
from participation.demo import DemoAccounts
from participation.errors import DomainError

# kind -> function(session) -> the demo item's id, or None; filled as the domains provide items.
DEMO_EVIDENCE: dict[str, Callable[[Session], int | None]] = {}


def demo_links(session: Session) -> list[tuple[str, int]]:
    """Links to the demo's finished items that a record may rest on."""
    links = []
    for kind, find in DEMO_EVIDENCE.items():
        if kind not in PROVIDERS:
            continue
        item_id = find(session)
        if item_id is None:
            continue
        try:
            PROVIDERS[kind](session, item_id)
        except DomainError:
            continue
        links.append((kind, item_id))
    return links


def _ended_townhall(session: Session) -> int | None:
    from participation.townhall.models import Status, TownHall

    return session.scalar(select(TownHall.id).where(TownHall.status == Status.ENDED,
                                                    TownHall.is_public.is_(True))
                          .order_by(TownHall.id).limit(1))


def _first_thread(session: Session) -> int | None:
    from participation.forums.models import Thread

    return session.scalar(select(Thread.id).order_by(Thread.id).limit(1))


def _closed_poll(session: Session) -> int | None:
    """The first poll whose close time has passed; the provider checks its results are public."""
    from participation.polls.models import Poll

    return session.scalar(select(Poll.id).where(Poll.closes_at <= utcnow())
                          .order_by(Poll.id).limit(1))


DEMO_EVIDENCE["poll"] = _closed_poll
DEMO_EVIDENCE["townhall"] = _ended_townhall
DEMO_EVIDENCE["thread"] = _first_thread


def seed_decisions(session: Session, accounts: DemoAccounts) -> None:
    """The records follow the ended town hall (two weeks ago); their commitments then stand
    where the commitments page can show every state: one closed on time by a written answer,
    one done late, one overdue after an update that said it was delayed, one still open."""
    official = accounts.users["official"]
    now = utcnow()
    links = demo_links(session)
    first = services.publish_decision(session, official, services.Draft(
        title="Summer works: Main Street cycle lanes and shade at the Riverside playground",
        summary=(
            "Residents asked about the Main Street cycle lanes at the town hall, discussed shade "
            "at the Riverside playground in the forum, and voted on the priorities.\n\n"
            "- The cycle lanes go ahead, on the priority snow-clearing route.\n"
            "- Loading bays stay on the side streets so deliveries can still stop.\n"
            "- Shade sails go up at the playground before **June**.\n\n"
            "Questions we could not answer live get a written answer (see the commitments)."
        ),
        outcome="adopted",
        decision_text="Cycle lanes from April; playground shade before June",
        department="Transport and Parks",
        links=links,
        commitments=[
            ((now - timedelta(days=4)).date(),
             "Answer in writing when construction on Main Street starts"),
            ((now + timedelta(days=60)).date(), "Publish the cycle-lane counts after two months"),
            ((now - timedelta(days=7)).date(), "Publish the tree survey of the Riverside oaks"),
            ((now - timedelta(days=2)).date(),
             "Put up the shade sails over the playground benches"),
        ],
    ), now=now - timedelta(days=12))
    services.publish_decision(session, official, services.Draft(
        title="Correction: the cycle lanes open in May, not April",
        summary=(
            f"Record {first.seq} gave the wrong month for the cycle lanes. They open in **May**; "
            "everything else stands."
        ),
        outcome="adopted",
        decision_text="Cycle lanes from May; playground shade before June",
        department="Transport and Parks",
        links=links,
        amends=first.seq,
    ), now=now - timedelta(days=11))
    construction, _counts, survey, sails = first.commitments
    _post_updates(session, accounts, now, construction=construction, survey=survey, sails=sails)
    services.publish_decision(session, official, services.Draft(
        title="Written answer: when construction on Main Street starts",
        summary="Construction starts on 3 March and runs for eight weeks, one block at a time, "
                "so every shop keeps its entrance open.",
        outcome="other",
        decision_text="Answer to a question not answered live",
        department="Transport and Parks",
        closes=[construction.id],
    ), now=now - timedelta(days=6))


def _post_updates(session: Session, accounts: DemoAccounts, now: datetime, *,
                  construction: Commitment, survey: Commitment, sails: Commitment) -> None:
    """Progress on the commitments, in the order it was posted (the updates are chained)."""
    official = accounts.users["official"]
    updates = (
        (construction, 10, "on_track", 50,
         "The contractor is booked; we are agreeing the order of the blocks with the shops."),
        (sails, 9, "on_track", 20,
         "The sails are ordered; the posts go in once the ground survey is done."),
        (survey, 8, "delayed", 60,
         "Two of the oaks need a second inspection before the survey can be published."),
        (survey, 5, "done", 100,
         "The tree survey is published with the final plan: all six oaks stay."),
        (sails, 3, "delayed", 70,
         "The posts are in, but the sails were delivered in the wrong size and go back."),
    )
    for commitment, days_ago, status, percent, note in updates:
        services.post_commitment_update(
            session, official, commitment.id, status=status, note=note, percent=percent,
            department="Transport and Parks", now=now - timedelta(days=days_ago))
