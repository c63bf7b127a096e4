"""Record broadcasts in the database with their sequence number; emit them after the commit.

The reusable API for every domain that pushes live events into a town hall's room (questions,
town-hall status, poll tallies)::

    event = record_event(session, townhall.id, "tally", {"poll_id": 3, "results": ...})
    ...                                    # more changes in the same transaction
    session.commit()
    emit_events(take_events(session))      # or simply: commit_and_emit(session), in outbox.py

`record_event` takes the next number of the town hall's sequence by updating its counter row in
the caller's transaction (a row lock on PostgreSQL, SQLite's write lock), and writes the event to
the log that `events_since` replays to reconnecting clients. Nothing is kept per process, so
several workers sharing one database and a Redis message queue hand out one sequence. If the
transaction rolls back, the number and the event are gone with it and nothing is emitted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from participation.realtime.models import Event, EventCounter
from participation.realtime.outbox import PUBLIC, hold_for_emit

# Beyond this many missed events a reconnecting client gets a snapshot instead of a replay.
REPLAY_LIMIT = 500


def start_sequence(session: Session, townhall_id: int) -> None:
    """Create the town hall's counter row; called once, when the town hall is created."""
    session.add(EventCounter(townhall_id=townhall_id, last_seq=0))
    session.flush()


def current_seq(session: Session, townhall_id: int) -> int:
    """The last sequence number handed out for this town hall (0 before any event)."""
    return session.scalar(
        select(EventCounter.last_seq).where(EventCounter.townhall_id == townhall_id)
    ) or 0


def _next_seq(session: Session, townhall_id: int) -> int:
    seq = session.execute(
        update(EventCounter)
        .where(EventCounter.townhall_id == townhall_id)
        .values(last_seq=EventCounter.last_seq + 1)
        .returning(EventCounter.last_seq)
        .execution_options(synchronize_session=False)
    ).scalar()
    if seq is None:
        session.execute(insert(EventCounter).values(townhall_id=townhall_id, last_seq=1))
        seq = 1
    return int(seq)


def record_event(session: Session, townhall_id: int, kind: str, payload: dict[str, Any],
                 audience: str = PUBLIC, *, subject: str | None = None) -> Event:
    """Log one broadcast with the town hall's next sequence number, inside the caller's transaction.

    `kind` is the Socket.IO event name (`question`, `queue`, `townhall`, `tally`); `payload` must be
    JSON-serialisable and is sent with `townhall_id` and `seq` added; `audience` is PUBLIC (the
    town hall's room), MODERATORS, or `user_audience(id)`; `subject` names what the event is
    about (say "question:12"), for `withdraw_public_events`. Flushes, never commits. The event is
    also held on the session (realtime/outbox.py) until `commit_and_emit` sends it.
    """
    seq = _next_seq(session, townhall_id)
    entry = Event(townhall_id=townhall_id, seq=seq, kind=kind, payload=payload,
                  audience=audience, subject=subject)
    session.add(entry)
    session.flush()
    hold_for_emit(session, entry)
    return entry


def withdraw_public_events(session: Session, townhall_id: int, subject: str,
                           payload: dict[str, Any]) -> int:
    """Replace the payload of every public event about `subject` with `payload`.

    For what the room may no longer see (a question rejected after it was shown): replays then
    carry only what `payload` says, while each event keeps its number, so the sequence stays
    gap-free and a reconnecting client still learns the current state. Events for moderators and
    for the author are kept as they were. Returns how many events were rewritten.
    """
    result = session.execute(
        update(Event)
        .where(Event.townhall_id == townhall_id, Event.subject == subject,
               Event.audience == PUBLIC)
        .values(payload=payload)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def events_since(session: Session, townhall_id: int, since: int,
                 audiences: Iterable[str]) -> list[Event] | None:
    """What a client that saw everything up to `since` missed, or None when a snapshot is better.

    Only events for `audiences` (what this client may see) are returned; a `since` ahead of the
    sequence (a database restored from backup) or too far behind asks for a snapshot.
    """
    last = current_seq(session, townhall_id)
    if since > last:
        return None
    if since == last:
        return []
    missed = session.scalar(
        select(func.count()).select_from(Event)
        .where(Event.townhall_id == townhall_id, Event.seq > since)
    ) or 0
    if missed > REPLAY_LIMIT:
        return None
    return list(session.scalars(
        select(Event)
        .where(Event.townhall_id == townhall_id, Event.seq > since,
               Event.audience.in_(list(audiences)))
        .order_by(Event.seq)
    ))


def subjects_since(session: Session, townhall_id: int, since: int, until: int,
                   limit: int = REPLAY_LIMIT) -> set[str] | None:
    """What the events after `since`, up to `until`, were about (their `subject`s): for a
    cache of the town hall's state to catch up by reloading only those. None when more than
    `limit` events came in between, and reloading everything is simpler."""
    if until - since > limit:
        return None
    return {subject for subject in session.scalars(
        select(Event.subject).where(Event.townhall_id == townhall_id, Event.seq > since,
                                    Event.seq <= until, Event.subject.is_not(None)))
            if subject}
