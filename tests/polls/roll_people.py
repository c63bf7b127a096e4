"""Invented people on an electoral roll, for the tests of polls restricted to it: the roll key,
their identities, putting them on the roll, and a poll for verified residents."""

from __future__ import annotations

from datetime import date
from typing import Any

from participation.extensions import db
from participation.polls.models import Eligibility
from participation.roll.models import RollEntry
from participation.roll.services import Identity, parse_identity

KEY = b"test roll key, for these tests only"


def identity(person: tuple[str, ...]) -> Identity:
    """A person (document id, date of birth, postcode, district) as the roll reads them."""
    return parse_identity(person[0], person[1], person[2])


def put_on_roll(session: Any, *people: tuple[str, ...], active: bool = True) -> list[RollEntry]:
    entries = [RollEntry(identity_hash=identity(person).hash(KEY), district=person[3],
                         birth_year=date.fromisoformat(person[1]).year, active=active)
               for person in people]
    session.add_all(entries)
    session.commit()
    return entries


def verified_poll(make_poll: Any, *, districts: Any = (), min_age: int | None = None,
                  **fields: Any) -> Any:
    poll = make_poll(**fields)
    poll.eligibility = Eligibility.VERIFIED
    poll.eligible_districts = list(districts)
    poll.min_age = min_age
    db.session.commit()
    return poll
