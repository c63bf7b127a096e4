"""Every domain's models, imported so that Base.metadata knows all tables (Alembic, tests)."""

from participation.accounts.models import AccountToken, AuditEntry, User
from participation.forums.models import (
            Flag,
            ForumModerationEntry,
            Post,
            PostRevision,
            Thread,
            ThreadFollow,
            Topic,
            TopicFollow,
)
from participation.notifications.models import Notification

__all__ = ["AccountToken", "AuditEntry", "User"]
__all__ += ["Flag", "ForumModerationEntry", "Notification", "Post", "PostRevision", "Thread",
            "ThreadFollow", "Topic", "TopicFollow"]
from participation.realtime.models import Event, EventCounter  # noqa: E402
from participation.townhall.models import (  # noqa: E402
    ModerationEntry,
    Question,
    Reminder,
    TownHall,
    Upvote,
)

__all__ += ["Event", "EventCounter", "ModerationEntry", "Question", "Reminder", "TownHall",
            "Upvote"]
from participation.polls.models import Ballot, Poll, PollOption  # noqa: E402

__all__ += ["Ballot", "Poll", "PollOption"]
from participation.decisions.models import (  # noqa: E402,F401,I001
    Closure,
    Commitment,
    CommitmentNotice,
    DecisionLink,
    DecisionRecord,
)
from participation.mail.models import OutgoingMail  # noqa: E402

__all__ += ["OutgoingMail"]
from participation.roll.models import (  # noqa: E402
    RollEntry,
    RollImport,
    Verification,
    VerificationAttempt,
)

__all__ += ["RollEntry", "RollImport", "Verification", "VerificationAttempt"]
