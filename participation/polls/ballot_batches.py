"""Socket votes written in groups: one transaction for all the votes that arrived meanwhile.

In a busy town hall hundreds of residents vote within a second. Writing each vote in its own
transaction makes every one of them pay for a commit (a disk flush on PostgreSQL, the write lock
on SQLite) and for reading the poll again. Instead each worker process has one writer: a vote
handler hands its vote over and waits; the writer takes every vote waiting at that moment (at
most one per resident and poll; a second one waits for the next group), checks and writes them
with `services.cast_ballots` in one transaction, commits, and only then answers each handler. A
vote is acknowledged only once it is committed, exactly as before; a refused vote (closed poll,
bad option, signed out) is refused on its own without touching the others.

When the group's transaction fails for a reason other than the database being away, each vote is
written again on its own, so one bad vote cannot take the others down with it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from participation.accounts import services as accounts
from participation.errors import DomainError, ServiceUnavailable
from participation.extensions import db, socketio
from participation.ops import metrics
from participation.polls import services
from participation.realtime.acks import rollback_quietly

log = logging.getLogger(__name__)

# The most votes written in one transaction.
MAX_GROUP = 500
# How long a handler waits for its vote to be written before answering `unavailable`.
WAIT_SECONDS = 60.0


class WriteFailed(Exception):
    """The vote's group could not be written and the vote alone failed too (a bug, logged)."""


@dataclass
class PendingVote:
    user_id: int
    token: str
    poll_id: int
    choices: Any
    client_id: Any
    done: threading.Event = field(default_factory=threading.Event)
    outcome: services.CastOutcome | DomainError | type[ServiceUnavailable] | WriteFailed | None \
        = None

    @property
    def key(self) -> tuple[int, int]:
        # The vote handler has checked that poll_id is an int.
        return (self.poll_id, self.user_id)


class BallotWriter:
    """One per app and process; started on the first vote."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._pending: deque[PendingVote] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._started = False
        self.groups_written = 0

    def cast(self, vote: PendingVote, timeout: float = WAIT_SECONDS) -> Any:
        """Hand the vote over and wait until it is committed or refused; returns the outcome."""
        with self._lock:
            self._pending.append(vote)
            if not self._started:
                self._started = True
                socketio.start_background_task(self._run)
        self._wake.set()
        if not vote.done.wait(timeout):
            return ServiceUnavailable
        return vote.outcome

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while group := self._take():
                self._write(group)
                # Let the handlers whose votes were just answered send their acks, and new votes
                # queue up for the next group.
                socketio.sleep(0)

    def _take(self) -> list[PendingVote]:
        """The waiting votes, oldest first, at most one per (poll, resident)."""
        with self._lock:
            group: list[PendingVote] = []
            keys: set[tuple[int, int]] = set()
            later: deque[PendingVote] = deque()
            while self._pending and len(group) < MAX_GROUP:
                vote = self._pending.popleft()
                if vote.key in keys:
                    later.append(vote)
                else:
                    keys.add(vote.key)
                    group.append(vote)
            later.extend(self._pending)
            self._pending = later
            return group

    def _write(self, group: list[PendingVote]) -> None:
        try:
            outcomes = self._write_group(group)
        except Exception:
            if len(group) > 1:
                log.exception("a group of %s votes failed; writing them one by one", len(group))
                for vote in group:
                    self._write([vote])
                return
            log.exception("a vote could not be written")
            outcomes = [WriteFailed()]
        for vote, outcome in zip(group, outcomes, strict=True):
            vote.outcome = outcome
            vote.done.set()
        self.groups_written += 1

    def _write_group(self, group: list[PendingVote]) -> list[Any]:
        with self.app.app_context():
            session = db.session
            try:
                users = accounts.users_by_id(session, {vote.user_id for vote in group})
                requests = [services.VoteRequest(
                    actor=accounts.signed_in_as(users.get(vote.user_id), vote.token),
                    poll_id=vote.poll_id, choices=vote.choices, client_id=vote.client_id,
                    townhall_only=True) for vote in group]
                outcomes: list[Any] = services.cast_ballots(session, requests)
                session.commit()
                return outcomes
            except (OperationalError, PoolTimeout) as error:
                log.warning("database unavailable while writing %s votes: %s", len(group),
                            type(error).__name__)
                metrics.database_error("socket")
                rollback_quietly()
                return [ServiceUnavailable] * len(group)
            except BaseException:
                rollback_quietly()
                raise
            finally:
                db.session.remove()


_writers_lock = threading.Lock()


def writer_for(app: Flask) -> BallotWriter:
    with _writers_lock:
        writer = app.extensions.get("ballot_writer")
        if writer is None:
            writer = app.extensions["ballot_writer"] = BallotWriter(app)
        return writer


def grouping_enabled(app: Flask) -> bool:
    """Votes are grouped by the real server; the test client's handlers write directly."""
    setting = app.config.get("VOTE_GROUPING")
    if setting is None:
        return app.config.get("SOCKETIO_ASYNC_MODE") == "eventlet"
    return bool(setting)
