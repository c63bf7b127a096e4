"""Every domain's models, imported so that Base.metadata knows all tables (Alembic, tests)."""

from participation.accounts.models import AuditEntry, User

__all__ = ["AuditEntry", "User"]
from participation.realtime.models import Event, EventCounter  # noqa: E402
from participation.townhall.models import (  # noqa: E402
    ModerationEntry,
    Question,
    TownHall,
    Upvote,
)

__all__ += ["Event", "EventCounter", "ModerationEntry", "Question", "TownHall", "Upvote"]
