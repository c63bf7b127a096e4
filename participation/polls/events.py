"""Poll events on the /townhall namespace: votes over the socket and coalesced live tallies."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask, current_app
from flask_babel import gettext as _

from participation.errors import InvalidInput, ServiceUnavailable, Unauthorized
from participation.extensions import db, socketio
from participation.polls import services
from participation.polls.ballot_batches import PendingVote, grouping_enabled, writer_for
from participation.polls.models import Poll
from participation.realtime.acks import acknowledged, require_fields
from participation.realtime.connection import current_actor, socket_login
from participation.realtime.handlers import on
from participation.realtime.outbox import commit_and_emit
from participation.security.ratelimit import hit_limit

log = logging.getLogger(__name__)

# However fast votes arrive, a poll's tally is pushed at most once per interval.
TALLY_INTERVAL = 0.25

_lock = threading.Lock()
_idle = threading.Condition(_lock)
_scheduled: set[int] = set()
_running = 0
_last_push: dict[int, float] = {}


@on("vote", light=True)
@acknowledged
def vote(payload: dict[str, Any]) -> dict[str, Any]:
    """A resident votes in a town hall's poll: `{poll_id, choices, client_id?}`.

    The ack carries the receipt code. A retry with the same client_id is applied once. The
    town hall's room then gets a coalesced `tally` when the poll's results are live. On the real
    server the vote is written together with the others arriving at the same time
    (`participation.polls.ballot_batches`); it is acknowledged once committed either way.
    """
    require_fields(payload, poll_id=int, choices=list)
    # Counted before any database work: the limiter may yield to other green threads (its
    # expiry timer, or Redis), and on SQLite a transaction holds the write lock from its start.
    login = socket_login()
    if login is None:
        raise Unauthorized(_("Please sign in to vote."))
    hit_limit("LIMIT_VOTE", f"user:{login[0]}")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if grouping_enabled(app):
        outcome = writer_for(app).cast(PendingVote(
            user_id=login[0], token=login[1], poll_id=payload["poll_id"],
            choices=payload["choices"], client_id=payload.get("client_id")))
        if outcome is ServiceUnavailable:
            raise ServiceUnavailable()
    else:
        (outcome,) = services.cast_ballots(db.session, [services.VoteRequest(
            actor=current_actor(login), poll_id=payload["poll_id"],
            choices=payload["choices"], client_id=payload.get("client_id"),
            townhall_only=True)])
        if not isinstance(outcome, Exception):
            db.session.commit()
    if isinstance(outcome, Exception):
        raise outcome
    if outcome.push_tally:
        schedule_tally(app, outcome.poll_id)
    return {"poll_id": outcome.poll_id, "receipt": services.format_receipt(outcome.receipt),
            "replaced": outcome.replaced, "repeated": outcome.repeated}


@on("poll_control")
@acknowledged
def poll_control(payload: dict[str, Any]) -> dict[str, Any]:
    """A moderator or official runs a town hall's poll: `{poll_id, action, townhall_id?}` with
    action `open`, `close` or `release` (officials only). The room hears of it as a `poll`
    event; the ack carries the poll's public data."""
    require_fields(payload, poll_id=int, action=str)
    townhall_id = payload.get("townhall_id")
    if townhall_id is not None and (isinstance(townhall_id, bool)
                                    or not isinstance(townhall_id, int)):
        raise InvalidInput(_("'townhall_id' must be a whole number."))
    poll = services.control_townhall_poll(db.session, current_actor(), payload["poll_id"],
                                          payload["action"], townhall_id=townhall_id)
    answer = {"poll": services.public_poll_data(db.session, poll)}
    push = tally_wanted(poll)
    commit_and_emit(db.session)
    if push:
        schedule_tally(current_app._get_current_object(), poll.id)  # type: ignore[attr-defined]
    return answer


def tally_wanted(poll: Poll) -> bool:
    """Whether a change to this poll should be pushed to a town hall's room now.

    Asked before the commit, so that nothing is read again afterwards.
    """
    return poll.townhall_id is not None and services.results_visible(poll)


def schedule_tally(app: Flask, poll_id: int) -> None:
    """Ask for the poll's tally to be pushed to its town hall's room, coalescing bursts.

    The first request after a quiet spell is pushed at once; requests arriving while a push is
    pending join it. The count runs after the pending mark is cleared, so every committed vote
    is in this push or causes the next one.
    """
    with _lock:
        if poll_id in _scheduled:
            return
        _scheduled.add(poll_id)
        delay = max(0.0, _last_push.get(poll_id, 0.0) + TALLY_INTERVAL - time.monotonic())
    socketio.start_background_task(_push_later, app, poll_id, delay)


def _push_later(app: Flask, poll_id: int, delay: float) -> None:
    global _running
    if delay:
        socketio.sleep(delay)
    with _lock:
        _scheduled.discard(poll_id)
        _last_push[poll_id] = time.monotonic()
        _running += 1
    try:
        with app.app_context():
            try:
                publish_tally(poll_id)
            except Exception:
                log.exception("could not push the tally of poll %s", poll_id)
                db.session.rollback()
            finally:
                db.session.remove()
    finally:
        with _lock:
            _running -= 1
            _idle.notify_all()


def wait_for_tallies(timeout: float) -> bool:
    """Wait until every scheduled tally has been pushed (before a shutdown, or a test's end)."""
    deadline = time.monotonic() + timeout
    with _idle:
        while _scheduled or _running:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            _idle.wait(remaining)
    return True


def publish_tally(poll_id: int) -> None:
    """Count the poll now and send `tally` to its town hall's room, if results may be seen.

    The tally goes through the town hall's event log, so it carries the room's next sequence
    number and a client that reconnects is sent what it missed.
    """
    if services.record_tally(db.session, poll_id):
        commit_and_emit(db.session)
    else:
        db.session.rollback()
