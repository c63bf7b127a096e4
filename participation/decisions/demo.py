"""Demo decision records: a decision resting on the demo's closed poll, ended town hall and
forum thread (whichever of them exist), and an amendment that corrects it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from participation.db import utcnow
from participation.decisions import services
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


def seed_decisions(session: Session, accounts: DemoAccounts) -> None:
    official = accounts.users["official"]
    now = utcnow()
    links = demo_links(session)
    first = services.publish_decision(session, official, services.Draft(
        title="Riverside Library opens late on weekday evenings",
        summary=(
            "Residents asked for evening hours in the town hall and in the forum, and the poll "
            "chose the evenings.\n\n"
            "- The library opens until **21:00** on the evenings the poll chose.\n"
            "- The trial runs for six months and is then reviewed in public.\n\n"
            "Questions we could not answer live get a written answer (see the commitments)."
        ),
        outcome="adopted",
        decision_text="Evening opening until 21:00 on a six-month trial",
        department="Libraries and Culture",
        links=links,
        commitments=[
            ((now + timedelta(days=21)).date(), "Answer in writing how evening staffing is paid"),
            ((now + timedelta(days=60)).date(), "Publish the visitor counts after two months"),
        ],
    ), now=now - timedelta(days=2))
    services.publish_decision(session, official, services.Draft(
        title="Correction: the evening trial starts in March, not February",
        summary=(
            f"Record {first.seq} gave the wrong start month. The trial starts on **1 March**; "
            "everything else stands."
        ),
        outcome="adopted",
        decision_text="Evening opening until 21:00 from 1 March, six-month trial",
        department="Libraries and Culture",
        links=links,
        amends=first.seq,
    ), now=now - timedelta(days=1))
    staffing = first.commitments[0]
    services.publish_decision(session, official, services.Draft(
        title="Written answer: how evening staffing is paid",
        summary="Evening shifts are paid at the agreed overtime rate from the library budget; "
                "no other branch loses hours.",
        outcome="other",
        decision_text="Answer to a question not answered live",
        department="Libraries and Culture",
        closes=[staffing.id],
    ), now=now)
