"""Every domain's models, imported so that Base.metadata knows all tables (Alembic, tests)."""

from participation.accounts.models import AuditEntry, User

__all__ = ["AuditEntry", "User"]
from participation.decisions.models import Closure, Commitment, DecisionLink, DecisionRecord  # noqa: E402,F401,I001
