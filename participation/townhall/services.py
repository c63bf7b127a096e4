"""Town-hall rules: scheduling, asking, upvoting, moderating, and the public ledger.

Plain functions `verb_noun(session, actor, ...)`: they flush, never commit, and raise domain
errors. Every change others should see live is recorded with `realtime.services.record_event`
in the same transaction; the caller commits and then emits (`commit_and_emit`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask_babel import format_datetime, format_number
from flask_babel import gettext as _
from sqlalchemy import and_, case, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from participation.accounts.models import User
from participation.accounts.services import personal_data
from participation.db import row_id, seconds_between, utcnow
from participation.errors import Closed, Conflict, Forbidden, InvalidInput, NotFound
from participation.i18n import N_, iso_datetime, zone_abbreviation
from participation.mail.services import Attachment, absolute_url
from participation.notices import notify_each
from participation.notifications.services import register_visibility
from participation.realtime.outbox import MODERATORS, PUBLIC, holds_events, user_audience
from participation.realtime.services import (
    current_seq,
    record_event,
    start_sequence,
    subjects_since,
    withdraw_public_events,
)
from participation.realtime.shared import SharedViews
from participation.security.headers import EMBED_HOSTS
from participation.security.permissions import can, require
from participation.security.sanitize import clean_text, render_markdown
from participation.townhall import similar
from participation.townhall.ics import calendar_of, townhall_calendar
from participation.townhall.models import (
    CHANNEL_LABELS,
    JOIN_CODE_ALPHABET,
    JOIN_CODE_LENGTH,
    PUBLIC_STATUSES,
    REJECT_REASONS,
    Channel,
    ModerationEntry,
    Question,
    QuestionStatus,
    Reminder,
    Status,
    TownHall,
    Upvote,
)

TITLE_MAX = 200
# "Remind me" sends this long before the start.
REMINDER_LEAD = timedelta(hours=1)
# How much of the other question a "merged into" notice quotes.
QUOTE_MAX = 150
DESCRIPTION_MAX = 20_000
ANSWER_MAX = 10_000
# How much of a written answer a notice quotes; the page holds all of it.
ANSWER_QUOTE_MAX = 300
# A rejection's explanation (for the reason "other"): a sentence or two to the asker.
EXPLANATION_MAX = 500
CLIENT_ID_MAX = 64
QUESTION_LENGTH_RANGE = (20, 2000)
MODERATION_ACTIONS = ("approve", "reject", "merge", "answer", "highlight")
# What the console says once an action is done, in the moderator's language.
MODERATION_DONE = {
    "approve": N_("approved"), "reject": N_("rejected"), "merge": N_("merged"),
    "answer": N_("marked answered"), "highlight": N_("highlight changed"),
}
ORDERS = ("top", "recent")
# The largest in-room head count taken: more is a typing slip, not a room.
HEAD_COUNT_MAX = 100_000
# What officials may change after scheduling; each change is logged by field name.
EDITABLE_FIELDS = ("title", "description", "starts_at", "ends_at", "livestream_url",
                   "allow_anonymous", "question_max_length")
# Where each status may go next (DESIGN.md: pending -> approved -> answered, rejected, merged).
NEXT_STATUSES = {
    Status.SCHEDULED: (Status.LIVE, Status.ENDED),
    Status.LIVE: (Status.ENDED,),
    Status.ENDED: (Status.LIVE,),
}


# Town halls


def check_livestream_url(url: str | None) -> str | None:
    """Only players from the allow-listed video hosts may be embedded."""
    url = (url or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin not in EMBED_HOSTS or len(url) > 500 or not parts.path.startswith("/"):
        raise InvalidInput(
            _("The livestream must be an embed link from one of: %(hosts)s.",
              hosts=", ".join(h.removeprefix("https://") for h in EMBED_HOSTS)),
            field="livestream_url",
        )
    return url


def _townhall_fields(*, title: str, description: str, starts_at: datetime, ends_at: datetime,
                     livestream_url: str | None, allow_anonymous: bool,
                     question_max_length: int) -> dict[str, Any]:
    """What an official sets when scheduling or editing, checked and cleaned."""
    title = clean_text(title or "").strip()
    if not title:
        raise InvalidInput(_("Give the town hall a title."), field="title")
    if len(title) > TITLE_MAX:
        raise InvalidInput(_(
            'Keep the title under %(TITLE_MAX)s characters.',
            TITLE_MAX=TITLE_MAX), field="title")
    description = clean_text(description or "", multiline=True).strip()
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput(_("The description is too long."), field="description")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput(_("Times must include their time zone."), field="starts_at")
    if ends_at <= starts_at:
        raise InvalidInput(_("The end must be after the start."), field="ends_at")
    low, high = QUESTION_LENGTH_RANGE
    if (isinstance(question_max_length, bool) or not isinstance(question_max_length, int)
            or not low <= question_max_length <= high):
        raise InvalidInput(_(
            'The question length limit must be between %(low)s and %(high)s.',
            low=low, high=high),
                           field="question_max_length")
    return {
        "title": title, "description": description,
        "description_html": render_markdown(description, field="description"),
        "starts_at": starts_at, "ends_at": ends_at,
        "livestream_url": check_livestream_url(livestream_url),
        "allow_anonymous": bool(allow_anonymous), "question_max_length": question_max_length,
    }


def create_townhall(session: Session, actor: User, *, title: str, description: str = "",
                    starts_at: datetime, ends_at: datetime, livestream_url: str | None = None,
                    allow_anonymous: bool = True, question_max_length: int = 300,
                    is_public: bool = True) -> TownHall:
    """Schedule a town hall (officials)."""
    require(actor, "townhall.create")
    fields = _townhall_fields(
        title=title, description=description, starts_at=starts_at, ends_at=ends_at,
        livestream_url=livestream_url, allow_anonymous=allow_anonymous,
        question_max_length=question_max_length)
    townhall = TownHall(**fields, is_public=is_public, status=Status.SCHEDULED,
                        created_by_id=actor.id, join_code=new_join_code(session))
    session.add(townhall)
    session.flush()
    start_sequence(session, townhall.id)
    return townhall


# Join codes

# Tries before giving up: with 31^6 (about 887 million) codes, a second try is already rare.
JOIN_CODE_TRIES = 20
# What a person may type between or around the characters of a code.
_JOIN_CODE_SEPARATORS = re.compile(r"[\s\-_.\u2010-\u2015]+")


def random_join_code() -> str:
    """A code of JOIN_CODE_LENGTH characters from the alphabet without look-alikes."""
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def new_join_code(session: Session) -> str:
    """A join code no town hall has yet (the unique index has the last word)."""
    for _attempt in range(JOIN_CODE_TRIES):
        code = random_join_code()
        if session.scalar(select(TownHall.id).where(TownHall.join_code == code)) is None:
            return code
    raise RuntimeError("no free join code found")


def normalize_join_code(typed: str) -> str | None:
    """The code as stored, from what a person typed (any case, spaces or dashes between the
    characters), or None when it cannot be a join code."""
    if not isinstance(typed, str) or len(typed) > 4 * JOIN_CODE_LENGTH:
        return None
    code = _JOIN_CODE_SEPARATORS.sub("", typed).upper()
    if len(code) != JOIN_CODE_LENGTH or any(c not in JOIN_CODE_ALPHABET for c in code):
        return None
    return code


def townhall_by_join_code(session: Session, typed: str) -> TownHall:
    """The town hall whose join code this is; NotFound for an unknown or malformed code.

    It names nothing about the town hall: the caller decides whether the person may watch it.
    """
    code = normalize_join_code(typed)
    townhall = (session.scalar(select(TownHall).where(TownHall.join_code == code))
                if code else None)
    if townhall is None:
        raise NotFound(_("No town hall has that code. Check the code on the room's screen "
                         "and try again."))
    return townhall


def join_link(townhall: TownHall) -> str:
    """The short link to show in the room, absolute (from PUBLIC_URL when it is set)."""
    return absolute_url("join.join_townhall", code=townhall.join_code)


def check_editable(actor: User, townhall: TownHall) -> None:
    """Officials may change a town hall until it ends; after that it stands as it was held."""
    require(actor, "townhall.edit", townhall)
    if townhall.status is Status.ENDED:
        raise Closed(_("This town hall has ended; it can no longer be edited."))


def update_townhall(session: Session, actor: User, townhall: TownHall, *, title: str,
                    description: str, starts_at: datetime, ends_at: datetime,
                    livestream_url: str | None, allow_anonymous: bool,
                    question_max_length: int) -> list[str]:
    """Change what was set when scheduling (not who may watch), also while live; each changed
    field is logged. Returns the names of the fields that changed.

    A new question length limit applies to questions asked from now on: those already asked
    keep their text, and a retried ask still finds the question it stored.
    """
    check_editable(actor, townhall)
    fields = _townhall_fields(
        title=title, description=description, starts_at=starts_at, ends_at=ends_at,
        livestream_url=livestream_url, allow_anonymous=allow_anonymous,
        question_max_length=question_max_length)
    changed = [name for name in EDITABLE_FIELDS if getattr(townhall, name) != fields[name]]
    for name in changed:
        setattr(townhall, name, fields[name])
        session.add(ModerationEntry(townhall_id=townhall.id, moderator_id=actor.id,
                                    action="edit", reason=name))
    if "description" in changed:
        townhall.description_html = fields["description_html"]
    if changed:
        # Open pages show the correction at once, and calendars take the newer copy.
        townhall.revision = (townhall.revision or 0) + 1
        _record_townhall(session, townhall, edited=changed)
    session.flush()
    return changed


def get_townhall(session: Session, actor: User | None, townhall_id: int) -> TownHall:
    """The town hall, if it exists and the actor may see it (private ones need an account)."""
    townhall = session.get(TownHall, townhall_id)
    if townhall is None:
        raise NotFound(_("No such town hall."))
    require(actor, "townhall.view", townhall)
    return townhall


def find_townhall(session: Session, actor: User | None, townhall_id: int) -> TownHall:
    """The town hall if the actor may see it; NotFound otherwise, naming nothing (the API's
    answer, where there is no sign-in page to send a visitor to)."""
    townhall = session.get(TownHall, townhall_id)
    if townhall is None or not can(actor, "townhall.view", townhall):
        raise NotFound(_("No such town hall."))
    return townhall


def visible_townhalls(session: Session, actor: User | None) -> list[TownHall]:
    """Every town hall the actor may see, earliest start first: what pages and the API list."""
    return [t for t in session.scalars(select(TownHall).order_by(TownHall.starts_at, TownHall.id))
            if can(actor, "townhall.view", t)]


def page_of_townhalls(session: Session, actor: User | None, *, page: int = 1,
                      per_page: int = 20) -> tuple[list[TownHall], int]:
    """The town halls the actor may see, latest start first, one page of them and the total."""
    visible = visible_townhalls(session, actor)[::-1]
    start = (max(page, 1) - 1) * per_page
    return visible[start:start + per_page], len(visible)


def list_townhalls(session: Session, actor: User | None) -> dict[str, list[TownHall]]:
    """Town halls the actor may see: live now, upcoming (soonest first), past (held, latest
    first) and cancelled (ended before they started: never held, so never listed as past)."""
    visible = visible_townhalls(session, actor)
    ended = sorted((t for t in visible if t.status is Status.ENDED),
                   key=lambda t: t.starts_at, reverse=True)
    return {
        "live": [t for t in visible if t.status is Status.LIVE],
        "upcoming": [t for t in visible if t.status is Status.SCHEDULED],
        "past": [t for t in ended if not t.called_off],
        "cancelled": [t for t in ended if t.called_off],
    }


def set_status(session: Session, actor: User, townhall: TownHall, status: str) -> TownHall:
    """Open, end or reopen a town hall (officials and moderators); pushed live to everyone."""
    require(actor, "townhall.set_status", townhall)
    try:
        new = Status(status)
    except ValueError:
        raise InvalidInput(_("Unknown status."), field="status") from None
    if new is townhall.status:
        return townhall
    if new not in NEXT_STATUSES[townhall.status]:
        raise Conflict(_(
            'A %(value)s town hall cannot become %(value2)s.',
            value=townhall.status.value, value2=new.value))
    townhall.status = new
    if new is Status.LIVE:
        townhall.started_at = townhall.started_at or utcnow()
        townhall.ended_at = None
    elif new is Status.ENDED:
        townhall.ended_at = utcnow()
        townhall.highlighted_question_id = None
    session.add(ModerationEntry(townhall_id=townhall.id, moderator_id=actor.id,
                                action=f"status_{new.value}"))
    townhall.revision = (townhall.revision or 0) + 1
    _record_townhall(session, townhall)
    return townhall


def _record_townhall(session: Session, townhall: TownHall, *,
                     edited: list[str] | None = None) -> None:
    session.flush()
    state = townhall_state(townhall)
    if edited:
        # The description's HTML can be long: it travels only with the edit that changed it.
        state["edited"] = edited
        if "description" in edited:
            state["description_html"] = townhall.description_html
    record_event(session, townhall.id, "townhall", state)


def townhall_state(townhall: TownHall) -> dict[str, Any]:
    """What every `townhall` event carries: all public, for the whole room."""
    return {
        "status": townhall.status.value,
        "called_off": townhall.called_off,
        "highlighted_id": townhall.highlighted_question_id,
        "title": townhall.title,
        "starts_at": iso_datetime(townhall.starts_at),
        "ends_at": iso_datetime(townhall.ends_at),
        "livestream_url": townhall.livestream_url,
        "allow_anonymous": townhall.allow_anonymous,
        "question_max_length": townhall.question_max_length,
        "in_room": townhall.in_room_count,
        "in_room_peak": townhall.in_room_peak,
    }


# Who is in the room


def check_head_count(count: Any) -> int:
    """A head count is a whole number from 0 to HEAD_COUNT_MAX."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidInput(_("The head count must be a whole number."), field="count")
    if not 0 <= count <= HEAD_COUNT_MAX:
        raise InvalidInput(_("The head count must be between 0 and %(limit)s.",
                             limit=format_number(HEAD_COUNT_MAX)), field="count")
    return count


def set_head_count(session: Session, actor: User, townhall: TownHall, count: Any, *,
                   correction: Any = False, now: datetime | None = None) -> TownHall:
    """A moderator enters how many people are in the room now (as often as they like); the
    highest count entered is kept as the in-room attendance. With `correction`, the count
    replaces the last one entered (a mistyped 460 for 46 does not stand as the peak): the peak
    is then worked out again from the counts in the log. The room sees it at once."""
    require(actor, "townhall.moderate", townhall)
    count = check_head_count(count)
    if not isinstance(correction, bool):
        raise InvalidInput(_("'correction' must be true or false."), field="correction")
    if townhall.status is Status.ENDED:
        raise Closed(_("This town hall has ended; its head count can no longer change."))
    if correction and townhall.in_room_count is None:
        raise Conflict(_("No head count has been entered yet, so there is none to correct."))
    action = "head_count_fixed" if correction else "head_count"
    session.add(ModerationEntry(townhall_id=townhall.id, moderator_id=actor.id,
                                action=action, reason=str(count)))
    townhall.in_room_count = count
    if correction:
        session.flush()
        townhall.in_room_peak = max(head_counts(session, townhall))
    else:
        townhall.in_room_peak = max(townhall.in_room_peak or 0, count)
    townhall.in_room_counted_at = now or utcnow()
    _record_townhall(session, townhall)
    return townhall


def head_counts(session: Session, townhall: TownHall) -> list[int]:
    """The head counts that stand, in the order entered: each correction replaces the count
    before it (the log keeps both)."""
    rows = session.execute(
        select(ModerationEntry.action, ModerationEntry.reason)
        .where(ModerationEntry.townhall_id == townhall.id,
               ModerationEntry.action.in_(("head_count", "head_count_fixed")))
        .order_by(ModerationEntry.id)).all()
    counts: list[int] = []
    for action, reason in rows:
        value = int(reason or 0)
        if action == "head_count_fixed" and counts:
            counts[-1] = value
        else:
            counts.append(value)
    return counts


def record_online_peak(session: Session, townhall_id: int, watching: int) -> bool:
    """Keep `watching` as the town hall's peak of online watchers if it is a new peak; one
    conditional UPDATE, so workers racing each other keep the highest. Returns whether it was."""
    result = session.execute(
        update(TownHall)
        .where(TownHall.id == townhall_id, TownHall.peak_online < watching,
               TownHall.status != Status.ENDED)
        .values(peak_online=watching)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


# The calendar


def join_url(townhall: TownHall) -> str:
    """The link that gets someone into the town hall, in calendars and reminder mails: its short
    link, which leads to the live page (through sign-in where the town hall needs it)."""
    return join_link(townhall)


def calendar_townhalls(session: Session, *, now: datetime) -> list[TownHall]:
    """What the public calendar feed lists: public town halls still to come or under way,
    and those called off that would not have ended yet (so calendars drop them)."""
    candidates = session.scalars(
        select(TownHall).where(TownHall.is_public.is_(True), TownHall.ends_at > now)
        .order_by(TownHall.starts_at, TownHall.id))
    return [t for t in candidates
            if t.status in (Status.SCHEDULED, Status.LIVE) or t.called_off]


def _calendar_entry(townhall: TownHall) -> tuple[TownHall, str, str]:
    url = join_url(townhall)
    return townhall, url, _("Join the town hall: %(url)s", url=url)


def townhall_ics(session: Session, actor: User | None, townhall: TownHall, *,
                 now: datetime) -> bytes:
    """One town hall as an .ics file, for whoever may see it."""
    require(actor, "townhall.view", townhall)
    return calendar_of([_calendar_entry(townhall)], now=now)


def public_calendar(session: Session, *, now: datetime) -> bytes:
    """The feed of upcoming public town halls (`/townhalls.ics`)."""
    return calendar_of([_calendar_entry(t) for t in calendar_townhalls(session, now=now)],
                       now=now, name=_("Town halls"))


def feed_townhalls(session: Session, *, limit: int) -> list[TownHall]:
    """What the public Atom feed lists: public town halls only (never a private one, whoever
    asks), the most recently announced, started or ended first."""
    latest = func.coalesce(TownHall.ended_at, TownHall.started_at, TownHall.created_at)
    return list(session.scalars(
        select(TownHall).where(TownHall.is_public.is_(True))
        .order_by(latest.desc(), TownHall.id.desc()).limit(limit)))


# Questions: reading


def get_question(session: Session, question_id: Any, *, lock: bool = False) -> Question:
    if isinstance(question_id, bool) or not isinstance(question_id, int) or question_id < 1:
        raise InvalidInput(_("'question_id' must be a whole number."))
    question = session.get(Question, question_id, with_for_update=lock or None)
    if question is None:
        raise NotFound(_("No such question."))
    return question


def public_questions(session: Session, townhall: TownHall, order: str = "top") -> list[Question]:
    """Approved and answered questions, most upvoted or most recent first."""
    stmt = select(Question).where(
        Question.townhall_id == townhall.id,
        Question.status.in_([QuestionStatus.APPROVED, QuestionStatus.ANSWERED]),
    ).options(selectinload(Question.author))  # every question shows its author's name
    if order == "recent":
        stmt = stmt.order_by(Question.created_at.desc(), Question.id.desc())
    else:
        stmt = stmt.order_by(Question.upvote_count.desc(), Question.created_at, Question.id)
    return list(session.scalars(stmt))


def own_questions(session: Session, actor: User | None, townhall: TownHall) -> list[Question]:
    """The actor's questions nobody else sees: awaiting moderation, rejected or merged."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return []
    return list(session.scalars(
        select(Question)
        .where(Question.townhall_id == townhall.id, Question.author_id == actor.id,
               Question.status.in_([QuestionStatus.PENDING, QuestionStatus.REJECTED,
                                    QuestionStatus.MERGED]))
        .order_by(Question.created_at.desc(), Question.id.desc())
    ))


def moderation_queue(session: Session, actor: User, townhall: TownHall) -> list[Question]:
    """Questions awaiting a moderator, oldest first."""
    require(actor, "townhall.moderate", townhall)
    return list(session.scalars(
        select(Question)
        .where(Question.townhall_id == townhall.id, Question.status == QuestionStatus.PENDING)
        .order_by(Question.created_at, Question.id)
    ))


def upvoted_ids(session: Session, actor: User | None, townhall: TownHall) -> set[int]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return set()
    return set(session.scalars(
        select(Upvote.question_id).join(Question, Question.id == Upvote.question_id)
        .where(Question.townhall_id == townhall.id, Upvote.user_id == actor.id)
    ))


def transcript(session: Session, townhall: TownHall) -> list[Question]:
    """Every public question with its outcome, in the order asked."""
    return list(session.scalars(
        select(Question)
        .where(Question.townhall_id == townhall.id, Question.status.in_(PUBLIC_STATUSES))
        .options(selectinload(Question.merged_into))
        .order_by(Question.created_at, Question.id)
    ))


def public_author(question: Question) -> str | None:
    """The name everyone sees: nobody for anonymous questions, the caller's name if given."""
    if question.channel is not Channel.ONLINE:
        return question.submitter_name
    if question.anonymous or question.author is None:
        return None
    return question.author.public_name


def question_data(question: Question, *, view: str = "public") -> dict[str, Any]:
    """A question as sent to `view`: "public", "author" (adds the rejection reason) or
    "moderator" (adds who asked an anonymous question)."""
    data: dict[str, Any] = {
        "id": question.id,
        "townhall_id": question.townhall_id,
        "text": question.text,
        "status": question.status.value,
        "author_name": public_author(question),
        "anonymous": question.anonymous,
        "channel": question.channel.value,
        "channel_label": CHANNEL_LABELS[question.channel],
        "upvotes": question.upvote_count,
        "created_at": question.created_at.isoformat(),
        "answered_at": question.answered_at.isoformat() if question.answered_at else None,
        "answer_mode": question.answer_mode,
        "answer_html": question.answer_html,
        "merged_into_id": question.merged_into_id,
        # The question it joined, while that one is public (it may be rejected later).
        "merged_into_text": question.merged_into.text
        if question.merged_into is not None and question.merged_into.is_public else None,
    }
    if view in ("author", "moderator"):
        data["reject_reason"] = question.reject_reason
        data["reject_reason_label"] = REJECT_REASONS.get(question.reject_reason or "")
        data["reject_explanation"] = question.reject_explanation
    if view == "moderator":
        data["asked_by"] = question.author.public_name if question.author else None
        data["entered_by"] = question.entered_by.public_name if question.entered_by else None
    return data


# Questions: changing


def _check_open(townhall: TownHall) -> None:
    if townhall.status is Status.ENDED:
        raise Closed(_("This town hall has ended; questions are closed."))


def find_retried_question(session: Session, actor: User, townhall: TownHall,
                          client_id: Any) -> Question | None:
    """The question this client already asked with `client_id`, when an ask is retried."""
    if client_id is None or not getattr(actor, "is_authenticated", False):
        return None
    client_id = _check_client_id(client_id)
    return session.scalar(select(Question).where(
        Question.townhall_id == townhall.id, Question.author_id == actor.id,
        Question.client_id == client_id))


def _check_client_id(client_id: Any) -> str:
    if not isinstance(client_id, str) or not 0 < len(client_id) <= CLIENT_ID_MAX:
        raise InvalidInput(_(
            "'client_id' must be text of at most %(CLIENT_ID_MAX)s characters.",
            CLIENT_ID_MAX=CLIENT_ID_MAX))
    return client_id


def _check_question_text(townhall: TownHall, text: Any) -> str:
    if not isinstance(text, str):
        raise InvalidInput(_("The question must be text."), field="text")
    text = clean_text(text).strip()
    if not text:
        raise InvalidInput(_("Write your question first."), field="text")
    if len(text) > townhall.question_max_length:
        raise InvalidInput(
            _(
                'Keep your question under %(question_max_length)s characters (it has %(value)s).',
                question_max_length=townhall.question_max_length, value=len(text)), field="text")
    return text


def ask_question(session: Session, actor: User, townhall: TownHall, *, text: Any,
                 anonymous: Any = False, client_id: Any = None) -> Question:
    """A resident asks; the question waits for a moderator. A retried ask (same `client_id`)
    returns the question stored the first time."""
    require(actor, "townhall.ask", townhall)
    require(actor, "townhall.view", townhall)
    _check_open(townhall)
    # A retry is answered before the checks: an official may have lowered the length limit
    # or stopped anonymous questions since the question was stored.
    if client_id is not None:
        existing = find_retried_question(session, actor, townhall, client_id)
        if existing is not None:
            return existing
    if not isinstance(anonymous, bool):
        raise InvalidInput(_("'anonymous' must be true or false."), field="anonymous")
    if anonymous and not townhall.allow_anonymous:
        raise InvalidInput(_("This town hall does not take anonymous questions."),
                           field="anonymous")
    text = _check_question_text(townhall, text)
    question = Question(townhall_id=townhall.id, author_id=actor.id, text=text,
                        anonymous=anonymous, client_id=client_id, channel=Channel.ONLINE,
                        status=QuestionStatus.PENDING)
    session.add(question)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        existing = find_retried_question(session, actor, townhall, client_id)
        if existing is None:
            raise
        return existing
    _record_question(session, question)
    return question


def enter_question(session: Session, actor: User, townhall: TownHall, *, text: Any,
                   channel: Any, name: Any = None) -> Question:
    """A moderator enters a question taken by phone, in person, by email or on paper.

    A moderator wrote it down, so it is public at once, labelled with its channel.
    """
    require(actor, "townhall.enter_question", townhall)
    _check_open(townhall)
    try:
        channel = Channel(channel)
    except ValueError:
        channel = None
    if channel is None or channel is Channel.ONLINE:
        raise InvalidInput(_("Choose the channel: phone, in_person, email or paper."),
                           field="channel")
    if name is not None and not isinstance(name, str):
        raise InvalidInput(_("The name must be text."), field="name")
    name = clean_text(name or "").strip() or None
    if name and len(name) > 80:
        raise InvalidInput(_("Keep the name under 80 characters."), field="name")
    text = _check_question_text(townhall, text)
    now = utcnow()
    question = Question(townhall_id=townhall.id, author_id=None, entered_by_id=actor.id,
                        channel=channel, submitter_name=name, text=text,
                        status=QuestionStatus.APPROVED, approved_at=now)
    session.add(question)
    session.flush()
    _log(session, actor, question, "enter")
    _record_question(session, question)
    return question


def set_upvote(session: Session, actor: User, question: Question, value: Any) -> Question:
    """Add (`value` true) or take back (false) the actor's upvote; once per person."""
    require(actor, "townhall.upvote", question.townhall)
    require(actor, "townhall.view", question.townhall)
    if not isinstance(value, bool):
        raise InvalidInput(_("'value' must be true or false."))
    _check_open(question.townhall)
    if question.status is not QuestionStatus.APPROVED:
        raise Closed(_("Only open, approved questions can be upvoted."))
    if question.author_id == actor.id:
        raise Forbidden(_("You cannot upvote your own question."))
    existing = session.scalar(select(Upvote).where(Upvote.question_id == question.id,
                                                   Upvote.user_id == actor.id))
    if value and existing is None:
        try:
            with session.begin_nested():
                session.add(Upvote(question_id=question.id, user_id=actor.id))
                session.flush()
        except IntegrityError:
            return question
        question.upvote_count = Question.upvote_count + 1  # type: ignore[assignment]
    elif not value and existing is not None:
        session.delete(existing)
        question.upvote_count = Question.upvote_count - 1  # type: ignore[assignment]
    else:
        return question
    session.flush()
    session.refresh(question, ["upvote_count"])
    _record_question(session, question)
    return question


def moderate_question(session: Session, actor: User, question: Question, action: Any, *,
                      reason: Any = None, into: Question | None = None,
                      answer: Any = None, explanation: Any = None) -> Question:
    """Apply one moderator action: approve, reject, merge, answer or highlight."""
    require(actor, "townhall.moderate", question.townhall)
    if action not in MODERATION_ACTIONS:
        raise InvalidInput(_(
            'Unknown action; use one of %(value)s.',
            value=', '.join(MODERATION_ACTIONS)))
    if action == "approve":
        return approve_question(session, actor, question)
    if action == "reject":
        return reject_question(session, actor, question, reason=reason,
                               explanation=explanation)
    if action == "merge":
        if into is None:
            raise InvalidInput(_("Choose the question to merge into ('into_id')."), field="into_id")
        return merge_question(session, actor, question, into=into)
    if action == "answer":
        return answer_question(session, actor, question, answer=answer)
    return highlight_question(session, actor, question)


def approve_question(session: Session, actor: User, question: Question) -> Question:
    require(actor, "townhall.moderate", question.townhall)
    _check_open(question.townhall)
    if question.status is not QuestionStatus.PENDING:
        raise Conflict(_('This question is already %(value)s.', value=question.status.value))
    question.status = QuestionStatus.APPROVED
    question.approved_at = utcnow()
    _log(session, actor, question, "approve")
    _record_question(session, question)
    _tell_asker(session, actor, question, "question_approved", lambda: _(
        "Your question “%(question)s” was approved: everyone at “%(title)s” can see it now.",
        question=_quote(question.text, 80), title=question.townhall.title))
    return question


def reject_question(session: Session, actor: User, question: Question, *,
                    reason: Any, explanation: Any = None) -> Question:
    """Reject with one of REJECT_REASONS; the author sees the reason (and, for "other", the
    moderator's explanation, which that reason requires), the public only counts."""
    require(actor, "townhall.moderate", question.townhall)
    if reason not in REJECT_REASONS:
        raise InvalidInput(_("Give a reason: %(reasons)s.", reasons=", ".join(REJECT_REASONS)),
                           field="reason")
    if explanation is not None and not isinstance(explanation, str):
        raise InvalidInput(_("The explanation must be text."), field="explanation")
    explanation = clean_text(explanation or "").strip() if reason == "other" else ""
    if reason == "other" and not explanation:
        raise InvalidInput(_("For the reason “Other”, explain to the asker why their question "
                             "is not accepted."), field="explanation")
    if len(explanation) > EXPLANATION_MAX:
        raise InvalidInput(_("Keep the explanation under %(max)s characters.",
                             max=EXPLANATION_MAX), field="explanation")
    if question.status not in (QuestionStatus.PENDING, QuestionStatus.APPROVED):
        raise Conflict(_('This question is already %(value)s.', value=question.status.value))
    was_public = question.is_public
    question.status = QuestionStatus.REJECTED
    question.reject_reason = reason
    question.reject_explanation = explanation or None
    question.decided_at = utcnow()
    _clear_highlight(session, question)
    _log(session, actor, question, "reject", reason=reason)
    _record_question(session, question, was_public=was_public)
    def rejected() -> str:
        if explanation:
            return _("Your question “%(question)s” for “%(title)s” was not accepted. The "
                     "moderator explains: %(explanation)s",
                     question=_quote(question.text, 80), title=question.townhall.title,
                     explanation=explanation)
        return _("Your question “%(question)s” for “%(title)s” was not accepted. Reason: "
                 "%(reason)s.", question=_quote(question.text, 80),
                 title=question.townhall.title, reason=_(REJECT_REASONS[reason]))
    _tell_asker(session, actor, question, "question_rejected", rejected,
                anchor=f"mine{question.id}")
    return question


def merge_question(session: Session, actor: User, question: Question, *,
                   into: Question) -> Question:
    """Merge a duplicate into another question; its upvotes move over, each person counted once,
    and its author is told."""
    require(actor, "townhall.moderate", question.townhall)
    if into.townhall_id != question.townhall_id:
        raise InvalidInput(_("Both questions must be in the same town hall."), field="into_id")
    if into.id == question.id:
        raise InvalidInput(_("A question cannot be merged into itself."), field="into_id")
    if question.status not in (QuestionStatus.PENDING, QuestionStatus.APPROVED):
        raise Conflict(_('This question is already %(value)s.', value=question.status.value))
    if into.status not in (QuestionStatus.APPROVED, QuestionStatus.ANSWERED):
        raise Conflict(_("Merge only into an approved or answered question."))
    was_public = question.is_public
    target_voters = set(session.scalars(
        select(Upvote.user_id).where(Upvote.question_id == into.id)))
    for upvote in session.scalars(
            select(Upvote).where(Upvote.question_id == question.id)).all():
        if upvote.user_id in target_voters or upvote.user_id == into.author_id:
            session.delete(upvote)
        else:
            upvote.question_id = into.id
            target_voters.add(upvote.user_id)
    session.flush()
    into.upvote_count = session.scalar(
        select(func.count()).select_from(Upvote).where(Upvote.question_id == into.id)) or 0
    question.upvote_count = 0
    question.status = QuestionStatus.MERGED
    question.merged_into_id = into.id
    question.decided_at = utcnow()
    _clear_highlight(session, question)
    _log(session, actor, question, "merge")
    _record_question(session, question, was_public=was_public)
    _record_question(session, into)
    # The other question is public (approved or answered); who asked it is not said.
    _tell_asker(session, actor, question, "question_merged", lambda: _(
        "Your question “%(question)s” for “%(title)s” was merged into a similar one: "
        "“%(other)s”. Your question counts with it.",
        question=_quote(question.text, 80), title=question.townhall.title,
        other=_quote(into.text, QUOTE_MAX)), anchor=f"q{into.id}")
    return question


def answer_question(session: Session, actor: User, question: Question, *,
                    answer: Any = None) -> Question:
    """Mark answered: live on stage (no text), or in writing (markdown, sanitized)."""
    require(actor, "townhall.moderate", question.townhall)
    if answer is not None and not isinstance(answer, str):
        raise InvalidInput(_("The answer must be text."), field="answer")
    answer = clean_text(answer or "", multiline=True).strip()
    if len(answer) > ANSWER_MAX:
        raise InvalidInput(_(
            'Keep the answer under %(ANSWER_MAX)s characters.',
            ANSWER_MAX=ANSWER_MAX), field="answer")
    if question.status is not QuestionStatus.APPROVED:
        raise Conflict(_("Only approved questions can be marked answered."))
    answer_html = render_markdown(answer, field="answer") if answer else None
    question.status = QuestionStatus.ANSWERED
    question.answered_at = utcnow()
    question.answer_mode = "written" if answer else "live"
    question.answer_text = answer or None
    question.answer_html = answer_html
    _clear_highlight(session, question)
    _log(session, actor, question, "answer", reason=question.answer_mode)
    _record_question(session, question)
    if question.answer_mode == "written":
        def message() -> str:
            return _("Your question “%(question)s” for “%(title)s” has a written answer: "
                     "%(answer)s", question=_quote(question.text, 80),
                     title=question.townhall.title, answer=_quote(answer, ANSWER_QUOTE_MAX))
    else:
        def message() -> str:
            return _("Your question “%(question)s” was answered live at “%(title)s”.",
                     question=_quote(question.text, 80), title=question.townhall.title)
    _tell_asker(session, actor, question, "question_answered", message)
    return question


def highlight_question(session: Session, actor: User, question: Question) -> Question:
    """Show a question as "now answering"; highlighting it again takes the highlight off."""
    require(actor, "townhall.moderate", question.townhall)
    townhall = question.townhall
    _check_open(townhall)
    if question.status is not QuestionStatus.APPROVED:
        raise Conflict(_("Only approved, unanswered questions can be highlighted."))
    if townhall.highlighted_question_id == question.id:
        townhall.highlighted_question_id = None
    else:
        townhall.highlighted_question_id = question.id
    _log(session, actor, question, "highlight")
    _record_townhall(session, townhall)
    return question


def _clear_highlight(session: Session, question: Question) -> None:
    townhall = question.townhall
    if townhall.highlighted_question_id == question.id:
        townhall.highlighted_question_id = None
        _record_townhall(session, townhall)


def _log(session: Session, actor: User, question: Question, action: str,
         reason: str | None = None) -> None:
    session.add(ModerationEntry(townhall_id=question.townhall_id, question_id=question.id,
                                moderator_id=actor.id, action=action, reason=reason))


def _quote(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _tell_asker(session: Session, actor: User, question: Question, kind: str,
                message: Callable[[], str], *, anchor: str | None = None) -> None:
    """Tell the person who asked what became of their question, and no one else: an anonymous
    question's author is known only to them and the moderators, so nobody else is ever told of
    it. Questions entered by a moderator have no account behind them; a moderator acting on
    their own question needs no notice of it."""
    if question.author_id is None or question.author_id == actor.id:
        return
    notify_each(session, [question.author_id], kind=kind, message=message,
                link=f"/townhalls/{question.townhall_id}#{anchor or f'q{question.id}'}",
                subject_ref=f"question:{question.id}")


def visible_questions(session: Session, user: User | None, ids: Iterable[int]) -> set[int]:
    """Which of these questions `user` may still see: public ones, their own (whatever became
    of them) and, for moderators, all, in town halls they may see. What a digest asks before
    it names a question ("question:<id>")."""
    wanted = sorted({i for i in ids if isinstance(i, int)})
    if not wanted:
        return set()
    rows = session.execute(select(Question.id, Question.status, Question.author_id, TownHall)
                           .join(TownHall, TownHall.id == Question.townhall_id)
                           .where(Question.id.in_(wanted))).all()
    user_id = user.id if user is not None and getattr(user, "is_authenticated", False) else None
    return {question_id for question_id, status, author_id, townhall in rows
            if can(user, "townhall.view", townhall)
            and (status in PUBLIC_STATUSES or (user_id is not None and author_id == user_id)
                 or can(user, "townhall.moderate", townhall))}


def visible_townhall_ids(session: Session, user: User | None, ids: Iterable[int]) -> set[int]:
    """Which of these town halls `user` may see ("townhall:<id>")."""
    wanted = sorted({i for i in ids if isinstance(i, int)})
    if not wanted:
        return set()
    return {t.id for t in session.scalars(select(TownHall).where(TownHall.id.in_(wanted)))
            if can(user, "townhall.view", t)}


def _one_id(ident: str) -> list[int]:
    found = row_id(ident)
    return [found] if found is not None else []


register_visibility("question", lambda session, user, ident: bool(
    visible_questions(session, user, _one_id(ident))))
register_visibility("townhall", lambda session, user, ident: bool(
    visible_townhall_ids(session, user, _one_id(ident))))


def withdrawn_data(question: Question) -> dict[str, Any]:
    """All the room learns of a question taken back from it: which one, and that it is gone."""
    return {"id": question.id, "townhall_id": question.townhall_id,
            "status": question.status.value}


def _record_question(session: Session, question: Question, *, was_public: bool = False) -> None:
    """Record who learns of this change: the room while the question is public; moderators and
    its author while the room does not see it (pending, rejected, merged).

    A question the room saw and may no longer see (rejected after approval, perhaps for naming
    a neighbour) is announced to the room by id and state only, and every earlier public event
    about it is rewritten the same way, so no replay hands its text or author out again.
    """
    session.flush()
    tid = question.townhall_id
    subject = f"question:{question.id}"
    if question.is_public:
        record_event(session, tid, "question", {"question": question_data(question)}, PUBLIC,
                     subject=subject)
    elif was_public:
        withdrawn = {"question": withdrawn_data(question)}
        withdraw_public_events(session, tid, subject, withdrawn)
        record_event(session, tid, "question", withdrawn, PUBLIC, subject=subject)
    if question.status in (QuestionStatus.APPROVED, QuestionStatus.ANSWERED):
        return
    if not question.is_public:
        record_event(session, tid, "queue",
                     {"question": question_data(question, view="moderator")}, MODERATORS,
                     subject=subject)
    if question.author_id is not None:
        record_event(session, tid, "question",
                     {"question": question_data(question, view="author")},
                     user_audience(question.author_id), subject=subject)


# "Already asked?"


class LooksAlreadyAsked(Conflict):
    """A question about to be asked looks like public ones: the asker sees them first (the
    form without scripts; the live page shows them while the question is written)."""

    def __init__(self, questions: list[Question]) -> None:
        super().__init__(_("This looks already asked. Upvote one of these, or ask anyway."))
        self.questions = questions


def _similar_candidates(session: Session, townhall: TownHall) -> list[similar.Candidate]:
    """The town hall's public questions, reduced for comparing, as of its sequence number.

    The cached list catches up from the event log: only questions named by events since it was
    made are read again (a few rows while a meeting goes on), or all after a long gap.
    """
    # Read before the questions: the list is then at least as new as the number it is kept at.
    seq = current_seq(session, townhall.id)
    cache = similar.candidate_cache(session.get_bind())
    entry = cache.get(townhall.id)
    if entry is not None and entry[0] == seq:
        return entry[2]
    changed = None
    if entry is not None and entry[0] < seq:
        subjects = subjects_since(session, townhall.id, entry[0], seq)
        if subjects is not None:
            changed = sorted({int(ident) for kind, _, ident in
                              (subject.partition(":") for subject in subjects)
                              if kind == "question" and ident.isdigit()})
    if changed is None:
        candidates: dict[int, similar.Candidate] = {}
        rows = _candidate_rows(session, townhall, None)
    else:
        candidates = dict(entry[1])  # type: ignore[index]
        rows = _candidate_rows(session, townhall, changed) if changed else []
        for qid in changed:
            candidates.pop(qid, None)
    for qid, text, upvotes, status, author_id in rows:
        if status not in (QuestionStatus.APPROVED, QuestionStatus.ANSWERED):
            continue
        known = entry[1].get(qid) if entry is not None else None
        normalized = known.normalized if known is not None and known.text == text else None
        candidates[qid] = similar.Candidate(
            id=qid, text=text, upvotes=upvotes, status=status.value, author_id=author_id,
            normalized=normalized if normalized is not None else similar.normalize(text),
            sorted_words=known.sorted_words if normalized is not None else "")
    # A transaction that recorded events may still roll back, and its numbers then be handed
    # to other changes: what it sees is not kept.
    if holds_events(session):
        return list(candidates.values())
    return cache.put(townhall.id, seq, candidates)


def _candidate_rows(session: Session, townhall: TownHall,
                    ids: list[int] | None) -> list[Any]:
    stmt = select(Question.id, Question.text, Question.upvote_count, Question.status,
                  Question.author_id).where(Question.townhall_id == townhall.id)
    if ids is None:
        stmt = stmt.where(Question.status.in_([QuestionStatus.APPROVED,
                                               QuestionStatus.ANSWERED]))
    else:
        stmt = stmt.where(Question.id.in_(ids))
    return list(session.execute(stmt).all())


def similar_questions(session: Session, actor: User, townhall: TownHall,
                      text: Any) -> list[similar.Candidate]:
    """Up to three public questions (approved or answered) of this town hall that look like
    `text`, best first: what a resident writing a question is shown. Only someone who may ask
    here may look; never a pending, rejected or merged question, nor another town hall's."""
    require(actor, "townhall.ask", townhall)
    require(actor, "townhall.view", townhall)
    text = _check_question_text(townhall, text)
    return [candidate for candidate, _score in similar.best_matches(
        similar.normalize(text), _similar_candidates(session, townhall))]


def check_not_already_asked(session: Session, actor: User, townhall: TownHall,
                            text: Any) -> None:
    """Raise LooksAlreadyAsked, with the questions, when `text` looks like public ones (and
    the town hall still takes questions: an ended one says so first)."""
    _check_open(townhall)
    found = similar_questions(session, actor, townhall, text)
    if found:
        questions = [session.get(Question, candidate.id) for candidate in found]
        raise LooksAlreadyAsked([q for q in questions if q is not None])


def possible_duplicates(session: Session, actor: User, townhall: TownHall,
                        queue: Iterable[Question]) -> dict[int, Question]:
    """For each pending question in `queue`, the public question it most looks like, if any:
    "possibly the same as #N" in the moderators' queue, with merging into it one click away."""
    require(actor, "townhall.moderate", townhall)
    candidates = _similar_candidates(session, townhall)
    found: dict[int, int] = {}
    for question in queue:
        best = similar.best_matches(similar.normalize(question.text), candidates, limit=1)
        if best:
            found[question.id] = best[0][0].id
    if not found:
        return {}
    public = {q.id: q for q in session.scalars(
        select(Question).where(Question.id.in_(sorted(set(found.values())))))}
    return {qid: public[other] for qid, other in found.items() if other in public}


# How many look-alikes the merge picker puts first.
MERGE_SIMILAR_FIRST = 5


def merge_targets(session: Session, actor: User, townhall: TownHall,
                  questions: Iterable[Question]) -> dict[int, list[tuple[str, list[Any]]]]:
    """For each question the console shows, where it may be merged: the town hall's approved
    and answered questions, the ones most like it first ("similar"), then the others by upvotes
    ("others"). The console's merge picker lists them; ids are never typed."""
    require(actor, "townhall.moderate", townhall)
    candidates = _similar_candidates(session, townhall)
    by_upvotes = sorted(candidates, key=lambda c: (-c.upvotes, c.id))
    targets: dict[int, list[tuple[str, list[Any]]]] = {}
    for question in questions:
        alike = [c for c, _score in similar.best_matches(
            similar.normalize(question.text), candidates, limit=MERGE_SIMILAR_FIRST + 1)
            if c.id != question.id][:MERGE_SIMILAR_FIRST]
        first = {c.id for c in alike} | {question.id}
        targets[question.id] = [("similar", alike),
                                ("others", [c for c in by_upvotes if c.id not in first])]
    return targets


# The joint view of a town hall for a joining client, and the public ledger


# What other domains hold in a town hall (its polls) joins its snapshot and pages through these
# registries, so that this package never imports them: name -> part(session, actor, townhall).
TownHallPart = Callable[[Session, User | None, TownHall], Any]
# A part's public data, the same for every joiner (no actor, no translated text)...
SharedPart = Callable[[Session, TownHall], Any]
# ...and what one reader adds to it: part(session, actor, townhall, shared data).
ReaderPart = Callable[[Session, User | None, TownHall, Any], Any]


@dataclass(frozen=True)
class SnapshotPart:
    shared: SharedPart | None = None
    reader: ReaderPart | None = None
    own: TownHallPart | None = None


_snapshot_parts: dict[str, SnapshotPart] = {}
_page_parts: dict[str, TownHallPart] = {}
# How long joiners share one public view while the sequence number stands still: what changes
# without an event (an author's new display name) reaches new joiners within it.
SHARED_VIEW_MAX_AGE = 5.0
_shared_views = SharedViews(max_age=SHARED_VIEW_MAX_AGE)


def register_townhall_part(name: str, *, page: TownHallPart, snapshot: TownHallPart | None = None,
                           shared: SharedPart | None = None,
                           reader: ReaderPart | None = None) -> None:
    """Add `name` to every join snapshot (JSON data, as the room's events carry it) and to the
    context of the live page, the console and the projector (`parts[name]`, for templates).

    A part is either built for each joiner (`snapshot`), or public (`shared`: built once and
    shared by every joiner of the room at one sequence number, so it must not depend on the
    reader or their language), with what each reader adds to it (`reader`, optional).
    """
    if (snapshot is None) == (shared is None) or (reader is not None and shared is None):
        raise TypeError("a part is built per joiner (snapshot) or shared (shared, reader)")
    _snapshot_parts[name] = SnapshotPart(shared=shared, reader=reader, own=snapshot)
    _page_parts[name] = page


def page_parts(session: Session, actor: User | None, townhall: TownHall) -> dict[str, Any]:
    """The registered parts of a town hall's pages, for the templates."""
    return {name: part(session, actor, townhall) for name, part in _page_parts.items()}


def public_view(session: Session, townhall: TownHall) -> dict[str, Any]:
    """What a join snapshot holds that is the same for everyone who may watch the town hall:
    its public questions and the public data of the shared parts."""
    return {
        "questions": [question_data(q) for q in public_questions(session, townhall)],
        "parts": {name: part.shared(session, townhall)
                  for name, part in _snapshot_parts.items() if part.shared is not None},
    }


def shared_public_view(session: Session, townhall: TownHall, seq: int) -> dict[str, Any]:
    """The public view as of `seq` (read before the view, as a join does), built once and handed
    to every joiner while nothing happens in the town hall. Never change what it returns."""
    return _shared_views.get(session.get_bind(), (townhall.id, PUBLIC), seq,
                             lambda: public_view(session, townhall))


def snapshot(session: Session, actor: User | None, townhall: TownHall, *,
             moderator: bool = False, seq: int | None = None) -> dict[str, Any]:
    """Everything a page needs to show the town hall as the database has it now.

    With `seq` (the sequence number the joiner was told, read before this call) the public part
    is the shared copy for that number; the reader's own questions, upvotes, the moderators'
    queue and the readers' parts are built for this actor alone, and only for an account.
    """
    public = (public_view(session, townhall) if seq is None
              else shared_public_view(session, townhall, seq))
    data: dict[str, Any] = {
        "townhall": {"id": townhall.id, "title": townhall.title, **townhall_state(townhall)},
        "questions": public["questions"],
        "mine": [question_data(q, view="author") for q in own_questions(session, actor,
                                                                         townhall)],
        "upvoted": sorted(upvoted_ids(session, actor, townhall)),
    }
    if moderator:
        data["queue"] = [question_data(q, view="moderator")
                         for q in moderation_queue(session, actor, townhall)]  # type: ignore[arg-type]
    for name, part in _snapshot_parts.items():
        if part.own is not None:
            data[name] = part.own(session, actor, townhall)
        elif part.reader is not None:
            data[name] = part.reader(session, actor, townhall, public["parts"][name])
        else:
            data[name] = public["parts"][name]
    return data


def participant_ids(session: Session, townhall: TownHall) -> set[int]:
    """Accounts that asked or upvoted in this town hall."""
    asked = session.scalars(select(Question.author_id).where(
        Question.townhall_id == townhall.id, Question.author_id.is_not(None)))
    upvoted = session.scalars(
        select(Upvote.user_id).join(Question, Question.id == Upvote.question_id)
        .where(Question.townhall_id == townhall.id))
    return {*asked, *upvoted}


def answer_waits(session: Session, townhall: TownHall) -> list[float]:
    """Seconds from asking to answer, for each answered question."""
    rows = session.execute(
        select(Question.created_at, Question.answered_at)
        .where(Question.townhall_id == townhall.id, Question.status == QuestionStatus.ANSWERED,
               Question.answered_at.is_not(None))).all()
    return [(answered - asked).total_seconds() for asked, answered in rows]


def recently_ended(session: Session, limit: int) -> list[TownHall]:
    """The latest ended town halls, latest first (visibility is the caller's to ask)."""
    return list(session.scalars(select(TownHall).where(TownHall.status == Status.ENDED)
                                .order_by(TownHall.starts_at.desc()).limit(limit)))


def sequence_number(session: Session, townhall: TownHall) -> int:
    return current_seq(session, townhall.id)


def medians(session: Session, seconds: Any, group: Any, where: list[Any],
            joins: tuple[Any, ...] = ()) -> dict[Any, float]:
    """The median of `seconds` for each value of `group`, in one statement: the middle row (or
    the two middle rows, averaged, as `statistics.median` does) of each group's ordered window.
    The numbers page takes its medians (time to answer, time to an official response) here."""
    inner = select(group.label("g"), seconds.label("s"),
                   func.row_number().over(partition_by=group, order_by=seconds).label("rn"),
                   func.count().over(partition_by=group).label("n"))
    for target, onclause in joins:
        inner = inner.join(target, onclause)
    inner = inner.where(*where).subquery()
    rows = session.execute(
        select(inner.c.g, func.avg(inner.c.s)).where(
            inner.c.rn >= (inner.c.n + 1) // 2, inner.c.rn <= (inner.c.n + 2) // 2)
        .group_by(inner.c.g)).all()
    return {g: float(value) for g, value in rows}


@dataclass
class QuestionFigures:
    """The question figures of the ledger, the numbers page and the decision records."""

    asked: int = 0
    answered_live: int = 0
    answered_in_writing: int = 0
    median_seconds_to_answer: float | None = None

    @property
    def answered(self) -> int:
        return self.answered_live + self.answered_in_writing


def answered_live() -> Any:
    return and_(Question.status == QuestionStatus.ANSWERED, Question.answer_mode == "live")


def answered_in_writing() -> Any:
    return and_(Question.status == QuestionStatus.ANSWERED,
                or_(Question.answer_mode.is_(None), Question.answer_mode != "live"))


def question_figures(session: Session, where: list[Any], group: Any) -> dict[Any, QuestionFigures]:
    """Questions asked, answered live, answered in writing and the median time from asking to
    the answer, for each value of `group` over the questions `where` selects: two statements,
    whatever the number of questions."""
    rows = session.execute(
        select(group.label("g"), func.count(Question.id),
               func.sum(case((answered_live(), 1), else_=0)),
               func.sum(case((answered_in_writing(), 1), else_=0)))
        .where(*where).group_by(group)).all()
    figures = {g: QuestionFigures(int(asked), int(live or 0), int(writing or 0))
               for g, asked, live, writing in rows}
    answered = [Question.status == QuestionStatus.ANSWERED, Question.answered_at.is_not(None)]
    for g, median in medians(session, seconds_between(session, Question.created_at,
                                                      Question.answered_at), group,
                             [*where, *answered]).items():
        figures.setdefault(g, QuestionFigures()).median_seconds_to_answer = median
    return figures


def townhall_question_figures(session: Session, townhall_id: int) -> QuestionFigures:
    """One town hall's question figures, whether or not it is public."""
    found = question_figures(session, [Question.townhall_id == townhall_id], literal("all"))
    return found.get("all", QuestionFigures())


def ledger(session: Session, townhall: TownHall) -> dict[str, Any]:
    """Public counts of what happened to the questions, and how quickly they were answered; the
    asked, answered and median figures are `question_figures`, as on the numbers page."""
    rows = session.execute(
        select(Question.status, Question.reject_reason, func.count(Question.id),
               func.count(Question.approved_at))
        .where(Question.townhall_id == townhall.id)
        .group_by(Question.status, Question.reject_reason)
    ).all()
    figures = townhall_question_figures(session, townhall.id)
    rejected = {reason: 0 for reason in REJECT_REASONS}
    counts = {"asked": figures.asked, "approved": 0, "merged": 0,
              "answered_live": figures.answered_live,
              "answered_in_writing": figures.answered_in_writing, "open": 0}
    for status, reason, count, approved in rows:
        counts["approved"] += approved
        if status is QuestionStatus.REJECTED:
            rejected[reason or "other"] = rejected.get(reason or "other", 0) + count
        elif status is QuestionStatus.MERGED:
            counts["merged"] += count
        elif status is not QuestionStatus.ANSWERED:
            counts["open"] += count
    median = figures.median_seconds_to_answer
    return {
        **counts,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "median_seconds_to_answer": round(median) if median is not None else None,
        # Who was there: the most watching online at once, and the highest head count a
        # moderator entered for the room (None when nobody counted).
        "online_watchers_peak": townhall.peak_online or 0,
        "in_room_attendance": townhall.in_room_peak,
    }


# "Remind me"


def has_reminder(session: Session, actor: User | None, townhall: TownHall) -> bool:
    return bool(reminded_townhall_ids(session, actor, [townhall.id]))


def reminded_townhall_ids(session: Session, actor: User | None,
                          townhall_ids: Iterable[int]) -> set[int]:
    """Which of these town halls the actor asked to be reminded of, in one query."""
    wanted = sorted(set(townhall_ids))
    if actor is None or not getattr(actor, "is_authenticated", False) or not wanted:
        return set()
    return set(session.scalars(select(Reminder.townhall_id).where(
        Reminder.user_id == actor.id, Reminder.townhall_id.in_(wanted))))


def set_reminder(session: Session, actor: User, townhall: TownHall, *, remind: bool,
                 now: datetime | None = None) -> bool:
    """Ask to be reminded an hour before the town hall starts, or take that back; returns
    whether a reminder now stands. Only a town hall that has not started takes new ones."""
    require(actor, "townhall.remind", townhall)
    now = now or utcnow()
    existing = session.scalar(select(Reminder).where(Reminder.townhall_id == townhall.id,
                                                     Reminder.user_id == actor.id))
    if not remind:
        if existing is not None:
            session.delete(existing)
            session.flush()
        return False
    if townhall.status is not Status.SCHEDULED or townhall.starts_at <= now:
        raise Closed(_("This town hall has already started, so there is nothing to remind you "
                       "of."))
    if existing is None:
        try:
            with session.begin_nested():
                session.add(Reminder(townhall_id=townhall.id, user_id=actor.id, created_at=now))
                session.flush()
        except IntegrityError:
            pass  # asked in a concurrent request: the outcome is the same
    return True


def due_reminder_townhalls(session: Session, *, now: datetime) -> list[TownHall]:
    """Town halls starting within the hour (or under way and not over) with a reminder that
    has not gone out for their current start time."""
    unsent = select(Reminder.townhall_id).where(
        Reminder.townhall_id == TownHall.id,
        or_(Reminder.sent_for.is_(None), Reminder.sent_for != TownHall.starts_at))
    return list(session.scalars(
        select(TownHall).where(TownHall.status.in_([Status.SCHEDULED, Status.LIVE]),
                               TownHall.starts_at <= now + REMINDER_LEAD,
                               TownHall.ends_at > now, unsent.exists())
        .order_by(TownHall.starts_at, TownHall.id)))


def send_townhall_reminders(session: Session, *, now: datetime) -> int:
    """Send "townhall_starting" to everyone who asked, once per person and start time; returns
    how many were sent. Run every few minutes, by more than one worker if need be.

    Each town hall's reminders are claimed with one UPDATE that marks them sent for the current
    start: a second worker running at the same moment waits for the first one's row locks and
    then finds nothing left to claim. A town hall moved after its reminders went out is
    reminded of again at its new time; one that has ended (or was called off) gets none.
    """
    sent = 0
    for townhall in due_reminder_townhalls(session, now=now):
        claimed = session.scalars(
            update(Reminder)
            .where(Reminder.townhall_id == townhall.id,
                   or_(Reminder.sent_for.is_(None), Reminder.sent_for != townhall.starts_at))
            .values(sent_for=townhall.starts_at)
            .returning(Reminder.user_id)
            .execution_options(synchronize_session=False)).all()
        if claimed:
            sent += len(_send_reminder(session, townhall, claimed, now=now))
    return sent


def _send_reminder(session: Session, townhall: TownHall, user_ids: list[int], *,
                   now: datetime) -> list[int]:
    url = join_url(townhall)

    def message() -> str:
        starts = townhall.starts_at
        when = f"{format_datetime(starts, 'short')} {zone_abbreviation(starts)}"
        return _("“%(title)s” starts at %(time)s. Join here: %(url)s",
                 title=townhall.title, time=when, url=url)

    def calendar() -> list[Attachment]:
        content = townhall_calendar(townhall, url, now=now,
                                    join_label=_("Join the town hall: %(url)s", url=url))
        return [Attachment(filename=f"townhall-{townhall.id}.ics",
                           mimetype="text/calendar", content=content)]

    # Private town halls are for signed-in accounts, which everyone here has; notify_each
    # leaves out accounts suspended or deleted since they asked.
    return notify_each(session, user_ids, kind="townhall_starting", message=message,
                       link=f"/townhalls/{townhall.id}", subject_ref=f"townhall:{townhall.id}",
                       attachments=calendar)


@personal_data("townhall_reminders")
def export_reminders(session: Session, user: User) -> list[dict[str, Any]]:
    return [{"townhall_id": r.townhall_id, "asked_at": r.created_at.isoformat(),
             "sent_for": r.sent_for.isoformat() if r.sent_for else None}
            for r in session.scalars(select(Reminder).where(Reminder.user_id == user.id)
                                     .order_by(Reminder.id))]


@personal_data("townhall_questions")
def export_questions(session: Session, user: User) -> dict[str, Any]:
    """The questions this person asked and the upvotes they gave, for "download my data"."""
    questions = session.scalars(
        select(Question).where(Question.author_id == user.id).order_by(Question.created_at))
    upvoted = set(session.scalars(select(Upvote.question_id).where(Upvote.user_id == user.id)))
    return {"questions": [
        {
            "townhall_id": q.townhall_id,
            "question_id": q.id,
            "text": q.text,
            "anonymous": q.anonymous,
            "status": q.status.value,
            "reject_reason": q.reject_reason,
            "asked_at": q.created_at.isoformat(),
            "answer": q.answer_text,
        }
        for q in questions
    ], "upvoted_question_ids": sorted(upvoted)}
