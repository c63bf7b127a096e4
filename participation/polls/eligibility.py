"""Who may vote in a poll: the rule each path (form, socket, API, a poll officer's entry) asks.

A poll is open to anyone signed in, to residents with a confirmed address, or to residents
verified against the electoral roll, optionally only those of some districts and of a minimum age
(reached in the year the poll closes, from the roll's birth year).
"""

from __future__ import annotations

from datetime import datetime

from participation.polls.models import Eligibility, Poll


def meets_roll_restriction(poll: Poll, district: str | None, birth_year: int | None,
                           now: datetime) -> bool:
    """Whether a roll entry with this district and birth year may vote in `poll` (verified
    polls; the others have no roll restriction)."""
    if poll.eligibility is not Eligibility.VERIFIED:
        return True
    if poll.eligible_districts and district not in poll.eligible_districts:
        return False
    if poll.min_age:
        year = (poll.closes_at or now).year
        if birth_year is None or year - birth_year < poll.min_age:
            return False
    return True
