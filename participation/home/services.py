"""What the home page shows a newcomer: each domain's current activity, asked of its services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from participation.accounts.models import User
from participation.decisions import services as decisions
from participation.polls import services as polls
from participation.townhall import services as townhall

UPCOMING_LIMIT = 3
POLL_LIMIT = 5
DECISION_LIMIT = 3


@dataclass
class FrontPage:
    """The home page's sections, in the order shown."""

    live: list[Any] = field(default_factory=list)
    upcoming: list[Any] = field(default_factory=list)
    open_polls: list[Any] = field(default_factory=list)
    decisions: list[Any] = field(default_factory=list)


def front_page(session: Session, actor: User | None, now: datetime) -> FrontPage:
    """Live and upcoming town halls, open polls and recent decisions the actor may see."""
    groups = townhall.list_townhalls(session, actor)
    visible, _total = polls.list_polls(session, actor, page=1, per_page=200)
    records, _total = decisions.list_records(session, page=1, per_page=DECISION_LIMIT)
    return FrontPage(live=groups["live"], upcoming=groups["upcoming"][:UPCOMING_LIMIT],
                     open_polls=[p for p in visible if p.is_open(now)][:POLL_LIMIT],
                     decisions=records)
