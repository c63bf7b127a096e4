"""What a decision record can link to, and how each kind of item is frozen into a snapshot.

A provider is `function(session, item_id) -> Evidence`. It raises NotFound for items that do not
exist or are not public, and Closed for items that are not finished yet (an open poll, a town hall
still live): a record may only rest on evidence that can no longer change. Public means what the
permission rules let a visitor see, since anyone may read a record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from participation.decisions.chain import canonical_json, timestamp
from participation.errors import Closed, NotFound
from participation.i18n import N_
from participation.security.permissions import can


@dataclass(frozen=True)
class Evidence:
    """A frozen view of one linked item.

    `snapshot` goes into the hashed record. `participants` (account ids) and `answer_seconds`
    never do: they only let the record's participation figures count people once across links
    and take a true median over every linked town hall.
    """

    title: str
    snapshot: dict[str, Any]
    topic_id: int | None = None
    townhall_id: int | None = None
    participants: frozenset[int] = field(default_factory=frozenset)
    questions_asked: int = 0
    questions_answered: int = 0
    answer_seconds: tuple[float, ...] = ()
    ballots: int = 0
    # A town hall's attendance: the most watching online at once, the highest head count in the
    # room (None when nobody counted).
    online_watchers_peak: int | None = None
    in_room_attendance: int | None = None


Provider = Callable[[Session, int], Evidence]

# kind -> provider, in the order the publish form lists them.
PROVIDERS: dict[str, Provider] = {}

KIND_LABELS = {"poll": N_("Poll"), "townhall": N_("Town hall"), "thread": N_("Forum thread")}


def provider(kind: str) -> Callable[[Provider], Provider]:
    """Register the function that freezes items of `kind`."""

    def register(function: Provider) -> Provider:
        PROVIDERS[kind] = function
        return function

    return register


def evidence_choices(session: Session, limit: int = 15,
                     search: str = "") -> dict[str, list[tuple[int, str]]]:
    """Recent items of each kind a record could rest on, for the publish form's picker: the
    latest `limit` of each kind, or, with `search`, those whose title holds it."""
    from participation.forums import services as forums
    from participation.polls import services as polls
    from participation.townhall import services as townhalls

    # A few more candidates than are shown, since some may not be public; a search looks further.
    needle = search.strip().casefold()
    candidates = limit * (40 if needle else 4)
    polls_closed = polls.recently_closed(session, candidates)
    townhalls_ended = townhalls.recently_ended(session, candidates)
    threads = forums.recently_active_threads(session, candidates)
    return {"poll": _public(polls_closed, "poll.view", "question", limit, needle),
            "townhall": _public(townhalls_ended, "townhall.view", "title", limit, needle),
            "thread": _public(threads, "forum.thread.view", "title", limit, needle)}


def _public(items: Iterable[Any], rule: str, label: str, limit: int,
            needle: str = "") -> list[tuple[int, str]]:
    """The first `limit` items a visitor may see whose label holds `needle`, as (id, label):
    what a record may rest on."""
    return [(item.id, getattr(item, label)) for item in items
            if needle in getattr(item, label).casefold() and can(None, rule, item)][:limit]


def _moment(value: datetime | None) -> str | None:
    return timestamp(value) if value is not None else None


@provider("townhall")
def freeze_townhall(session: Session, townhall_id: int) -> Evidence:
    """An ended public town hall: every public question with its outcome and answer, and the
    moderation ledger's counts."""
    from participation.townhall import services as townhalls
    from participation.townhall.models import Status

    townhall = townhalls.find_townhall(session, None, townhall_id)
    if townhall.status is not Status.ENDED:
        raise Closed(_("the town hall has not ended yet."))
    questions = townhalls.transcript(session, townhall)
    ledger = townhalls.ledger(session, townhall)
    snapshot = {
        "title": townhall.title,
        "starts_at": _moment(townhall.starts_at),
        "ended_at": _moment(townhall.ended_at),
        "questions": [{
            "id": question.id,
            "text": question.text,
            "outcome": question.status.value,
            "channel": question.channel.value,
            "author": townhalls.public_author(question),
            "upvotes": question.upvote_count,
            "asked_at": _moment(question.created_at),
            "answered_at": _moment(question.answered_at),
            "answer_mode": question.answer_mode,
            "answer": question.answer_text,
            "merged_into": question.merged_into_id,
        } for question in questions],
        "ledger": ledger,
    }
    return Evidence(
        title=townhall.title, snapshot=snapshot, townhall_id=townhall.id,
        participants=frozenset(townhalls.participant_ids(session, townhall)),
        questions_asked=ledger["asked"],
        questions_answered=ledger["answered_live"] + ledger["answered_in_writing"],
        answer_seconds=tuple(townhalls.answer_waits(session, townhall)),
        online_watchers_peak=townhall.peak_online or 0,
        in_room_attendance=townhall.in_room_peak,
    )


def thread_content_digest(posts: list[dict[str, Any]]) -> str:
    """SHA-256 over the canonical JSON of the visible posts, each `{"id", "body_html"}`, in the
    thread's order: recomputable from /api/v1/threads/<id>."""
    return hashlib.sha256(canonical_json(posts).encode("utf-8")).hexdigest()


@provider("thread")
def freeze_thread(session: Session, thread_id: int) -> Evidence:
    """A public forum thread: its title, how many posts are visible, and a digest of them."""
    from participation.forums import services as forums

    thread = forums.get_thread(session, thread_id)
    if not can(None, "forum.thread.view", thread):
        raise NotFound()
    posts = forums.public_posts(session, thread)
    snapshot = {
        "title": thread.title,
        "topic": {"id": thread.topic.id, "title": thread.topic.title},
        "started_at": _moment(thread.created_at),
        "post_count": len(posts),
        "content_sha256": thread_content_digest(
            [{"id": post.id, "body_html": post.body_html} for post in posts]),
    }
    return Evidence(
        title=thread.title, snapshot=snapshot, topic_id=thread.topic_id,
        townhall_id=thread.topic.townhall_id,
        participants=frozenset(post.author_id for post in posts if post.author_id is not None),
    )


@provider("poll")
def freeze_poll(session: Session, poll_id: int) -> Evidence:
    """A closed poll whose results are public: question, options, the final tally (every
    instant-runoff round for ranked choice), turnout and the receipts digest."""
    from participation.db import utcnow
    from participation.polls import services as polls
    from participation.polls import turnout

    poll = polls.get_poll(session, None, poll_id)
    now = utcnow()
    if not poll.is_closed(now):
        raise Closed(_("the poll is still open.") if poll.is_open(now)
                     else _("the poll has not closed yet."))
    if not polls.results_visible(poll, now):
        raise Closed(_("its results have not been released yet."))
    results = polls.count_poll(session, poll)
    labels = {option.id: option.label for option in poll.options}
    # Frozen here too if the job every minute has not yet: the record keeps the close's figure.
    turnout.freeze_electorate(session, poll, now)
    figures = turnout.poll_turnout(session, poll, now)

    def row(option_id: int, votes: int) -> dict[str, Any]:
        return {"option_id": option_id, "label": labels[option_id], "votes": votes}

    snapshot: dict[str, Any] = {
        "question": poll.question,
        "kind": poll.kind.value,
        "max_choices": poll.max_choices,
        "options": [{"id": option.id, "label": option.label} for option in poll.options],
        "opened_at": _moment(poll.opens_at),
        "closed_at": _moment(poll.closes_at),
        "turnout": results["ballots"],
        "ballot_digest": polls.published_digest(session, poll),
        # How the ballots came in: online, or entered by poll officers (paper, phone, in person).
        "channels": figures.channels,
    }
    if figures.electorate is not None:
        # A poll for verified residents: the roll entries that could vote, and the share that did.
        snapshot["electorate"] = figures.electorate
        # Written out, as the poll's page shows it: a record holds no floats.
        snapshot["turnout_percent"] = f"{figures.percent:.1f}"
    if results["kind"] == "ranked":
        # Hashed as written: always English, translated where it is shown.
        snapshot["tally_label"] = N_("First preferences")
        snapshot["tally"] = [row(option["id"], option["first_preferences"])
                             for option in results["options"]]
        snapshot["rounds"] = [{
            "round": counted["round"],
            "counts": [row(count["id"], count["votes"]) for count in counted["counts"]],
            "total": counted["continuing_ballots"],
            "exhausted": counted["exhausted"],
            "eliminated": [labels[counted["eliminated"]]] if counted["eliminated"] else [],
            "tie_break": counted["tie_break"],
            "transfers": [row(moved["id"], moved["votes"]) for moved in counted["transfers"]],
            "exhausted_by_transfer": counted["exhausted_by_transfer"],
        } for counted in results["rounds"]]
        snapshot["winner"] = labels.get(results["winner"]) if results["winner"] else None
    else:
        snapshot["tally"] = [row(option["id"], option["votes"]) for option in results["options"]]
        snapshot["leaders"] = [labels[option_id] for option_id in results["leaders"]]
    return Evidence(title=poll.question, snapshot=snapshot, topic_id=poll.topic_id,
                    townhall_id=poll.townhall_id,
                    participants=frozenset(polls.voter_ids(session, poll)),
                    ballots=results["ballots"])
