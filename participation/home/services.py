"""What the home page shows a newcomer: each domain's current activity, asked of its services.

A section is gathered only when the app serves that domain (its blueprint is registered), so the
home page works in any combination of domains.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from participation.accounts.models import User

UPCOMING_LIMIT = 3
POLL_LIMIT = 5
DECISION_LIMIT = 3


@dataclass
class FrontPage:
    """The home page's sections; None means the app does not serve that domain."""

    live: list[Any] | None = None
    upcoming: list[Any] | None = None
    open_polls: list[Any] | None = None
    decisions: list[Any] | None = None
    sections: list[str] = field(default_factory=list)


def front_page(session: Session, actor: User | None, endpoints: Container[str],
               now: datetime) -> FrontPage:
    """Live and upcoming town halls, open polls and recent decisions the actor may see."""
    page = FrontPage()
    if "townhall.index" in endpoints:
        from participation.townhall import services as townhall

        groups = townhall.list_townhalls(session, actor)
        page.live = groups["live"]
        page.upcoming = groups["upcoming"][:UPCOMING_LIMIT]
        page.sections += ["live", "upcoming"]
    if "polls.index" in endpoints:
        from participation.polls import services as polls

        visible, _total = polls.list_polls(session, actor, page=1, per_page=200)
        page.open_polls = [p for p in visible if p.is_open(now)][:POLL_LIMIT]
        page.sections.append("polls")
    if "decisions.index" in endpoints:
        from participation.decisions import services as decisions

        records, _total = decisions.list_records(session, page=1, per_page=DECISION_LIMIT)
        page.decisions = records
        page.sections.append("decisions")
    return page
