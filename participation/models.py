"""Every domain's models, imported so that Base.metadata knows all tables (Alembic, tests)."""

from participation.accounts.models import AuditEntry, User

__all__ = ["AuditEntry", "User"]
from participation.polls.models import Ballot, Poll, PollOption  # noqa: E402

__all__ += ["Ballot", "Poll", "PollOption"]
