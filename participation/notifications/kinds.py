"""Every kind of notice, what it is called, and how it is mailed unless the person chooses.

Other domains call `notify(..., kind=NAME)` with one of these names; nothing else declares a kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


class Cadence(StrEnum):
    """How a person wants one kind of notice mailed."""

    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"
    NEVER = "never"


# The cadences a digest collects, in the order the preferences page offers them.
DIGESTS = (Cadence.DAILY, Cadence.WEEKLY)

CADENCE_LABELS: dict[Cadence, LazyString] = {
    Cadence.IMMEDIATE: _l("At once"),
    Cadence.DAILY: _l("In the daily digest"),
    Cadence.WEEKLY: _l("In the weekly digest"),
    Cadence.NEVER: _l("Not by mail"),
}


@dataclass(frozen=True)
class Kind:
    name: str
    label: LazyString
    description: LazyString
    default: Cadence = Cadence.DAILY


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("reply", _l("Replies"),
         _l("Someone replied in a thread you follow.")),
    Kind("moderation", _l("Moderation of your posts"),
         _l("A moderator hid, restored, locked or moved something you wrote.")),
    Kind("question_approved", _l("Your question approved"),
         _l("A moderator put your town hall question in the public queue.")),
    Kind("question_answered", _l("Your question answered"),
         _l("Your town hall question was answered, live or in writing.")),
    Kind("question_rejected", _l("Your question rejected"),
         _l("A moderator declined your town hall question, with the reason.")),
    Kind("question_merged", _l("Your question merged"),
         _l("Your town hall question was merged into a similar one.")),
    Kind("townhall_starting", _l("Town hall starting"),
         _l("A town hall you asked to be reminded of starts within the hour."),
         Cadence.IMMEDIATE),
    Kind("poll_opened", _l("New polls"),
         _l("A poll opened in a topic you follow.")),
    Kind("decision_published", _l("Decisions published"),
         _l("A decision was published on a poll, town hall or thread you took part in.")),
    Kind("commitment_closed", _l("Commitments closed"),
         _l("A commitment made in a decision you follow was fulfilled or closed.")),
    Kind("commitment_due", _l("Commitments due"),
         _l("A commitment you published is due in a week.")),
    Kind("commitment_overdue", _l("Commitments overdue"),
         _l("A commitment you published is past its date.")),
)}


def get_kind(name: str) -> Kind | None:
    return KINDS.get(name)


def default_cadence(name: str) -> Cadence:
    kind = KINDS.get(name)
    return kind.default if kind else Cadence.DAILY
