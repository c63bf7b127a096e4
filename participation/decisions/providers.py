"""What a decision record can link to, and how each kind of item is frozen into a snapshot.

A provider is `function(session, item_id) -> Evidence`. It raises NotFound for items that do not
exist or are not public, and Closed for items that are not finished yet (an open poll, a town hall
still live): a record may only rest on evidence that can no longer change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Evidence:
    """A frozen view of one linked item.

    `snapshot` goes into the hashed record. `participants` (account ids) and `answer_seconds`
    never do: they only let the record's participation figures count people once across links
    and take a true median.
    """

    title: str
    snapshot: dict[str, Any]
    topic_id: int | None = None
    townhall_id: int | None = None
    participants: frozenset[int] = field(default_factory=frozenset)
    questions_asked: int = 0
    questions_answered: int = 0
    answer_seconds: tuple[int, ...] = ()
    ballots: int = 0


Provider = Callable[[Session, int], Evidence]

# kind -> provider, in the order the publish form lists them.
PROVIDERS: dict[str, Provider] = {}

KIND_LABELS = {"poll": "Poll", "townhall": "Town hall", "thread": "Forum thread"}


def provider(kind: str) -> Callable[[Provider], Provider]:
    """Register the function that freezes items of `kind`."""

    def register(function: Provider) -> Provider:
        PROVIDERS[kind] = function
        return function

    return register
