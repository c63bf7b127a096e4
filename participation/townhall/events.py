"""Socket.IO handlers of the `/townhall` namespace (DESIGN.md, "Interfaces").

Each handler is thin: read the payload, look the actor up again in the database, call a service,
commit, then emit what the transaction recorded. Every handler answers through its ack; the
answer is built before the commit, so that nothing is reloaded from the database between the
emit and the moment the broadcast can go out.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import current_app, request
from flask_babel import gettext as _
from flask_socketio import join_room, leave_room

from participation.db import MAX_ROW_ID
from participation.errors import DomainError, InvalidInput, Unauthorized
from participation.extensions import db, socketio
from participation.realtime import presence
from participation.realtime.acks import acknowledged, require_fields
from participation.realtime.connection import (
    authenticate_socket,
    close_ended_session,
    current_actor,
    session_has_ended,
)
from participation.realtime.handlers import on
from participation.realtime.outbox import MODERATORS, PUBLIC, commit_and_emit, user_audience
from participation.realtime.rooms import moderators_room, townhall_room, user_room
from participation.realtime.services import current_seq, events_since
from participation.security.permissions import can, require
from participation.security.ratelimit import hit_limit
from participation.townhall import services
from participation.townhall.models import Status, TownHall


def _id(payload: dict[str, Any], name: str) -> int:
    require_fields(payload, **{name: int})
    value = payload[name]
    if not 1 <= value <= MAX_ROW_ID:
        raise InvalidInput(_("'%(name)s' must be a positive whole number.", name=name))
    return value


def _townhall(payload: dict[str, Any], actor: Any) -> TownHall:
    return services.get_townhall(db.session, actor, _id(payload, "townhall_id"))


def _signed_in(action: str) -> Any:
    actor = current_actor()
    if actor is None:
        raise Unauthorized(_("Please sign in to take part."))
    require(actor, action)
    return actor


@on("connect")
def connect(auth: Any = None) -> None:
    """Anyone may connect; signed-in accounts also join their own room for private notices."""
    user = authenticate_socket()
    if user is not None:
        join_room(user_room(user.id))


@on("disconnect")
def disconnect(*args: Any) -> None:
    presence.left(request.sid)  # type: ignore[attr-defined]


@on("join")
@acknowledged
def join(payload: dict[str, Any]) -> dict[str, Any]:
    """A page joins a town hall's room (and moderators, with `moderator: true`, their queue).

    The ack carries the current `seq` and either the events after `since` this client may see,
    or a full snapshot when `since` is absent or too far behind. Rights are checked again on
    every join (a page joins again after each reconnect and `resync`): a socket that may no
    longer be in a room leaves it, and one whose session ended is closed.
    """
    if session_has_ended():
        close_ended_session()
        raise Unauthorized(_("Your session has ended. Reload the page."))
    actor = current_actor()
    townhall_id = _id(payload, "townhall_id")
    try:
        townhall = services.get_townhall(db.session, actor, townhall_id)
    except DomainError:
        _leave_townhall(townhall_id)
        raise
    since = payload.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int)
                              or since < 0):
        raise InvalidInput(_("'since' must be a whole number of at least 0."))
    as_moderator = payload.get("moderator", False)
    if not isinstance(as_moderator, bool):
        raise InvalidInput(_("'moderator' must be true or false."))
    if as_moderator and not can(actor, "townhall.moderate", townhall):
        leave_room(moderators_room(townhall.id))
        require(actor, "townhall.moderate", townhall)
    if as_moderator:
        join_room(moderators_room(townhall.id))
    else:
        leave_room(moderators_room(townhall.id))
    join_room(townhall_room(townhall.id))
    count = presence.joined(request.sid, townhall.id)  # type: ignore[attr-defined]
    if townhall.status is not Status.ENDED and count > townhall.peak_online:
        _note_online_peak(townhall.id, count)
    # The sequence is read before the state: an event committed in between is then both in the
    # state and sent again, which clients ignore, instead of missing from both.
    seq = current_seq(db.session, townhall.id)
    answer: dict[str, Any] = {"seq": seq, "presence": count}
    if since is not None:
        audiences = [PUBLIC]
        if as_moderator:
            audiences.append(MODERATORS)
        if actor is not None:
            audiences.append(user_audience(actor.id))
        missed = events_since(db.session, townhall.id, since, audiences)
        if missed is not None:
            answer["events"] = [{"event": e.kind, "data": e.message()} for e in missed]
            answer["seq"] = max([seq, *(e.seq for e in missed)])
            return answer
    # Joiners at the same sequence number share one public part; the rest is this actor's.
    answer["snapshot"] = services.snapshot(db.session, actor, townhall, moderator=as_moderator,
                                           seq=seq)
    return answer


# New peaks of online watchers waiting to be written, per town hall: a join storm (everyone
# opening the page at the start) is a new peak on every join, so they are written at most once
# per PRESENCE_INTERVAL, as presence counts are announced.
_peaks_lock = threading.Lock()
_pending_peaks: dict[int, int] = {}


def _note_online_peak(townhall_id: int, watching: int) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    interval = float(app.config.get("PRESENCE_INTERVAL", 2.0))
    if interval <= 0:
        services.record_online_peak(db.session, townhall_id, watching)
        db.session.commit()
        return
    with _peaks_lock:
        waiting = _pending_peaks.get(townhall_id)
        _pending_peaks[townhall_id] = max(waiting or 0, watching)
        if waiting is not None:
            return
    socketio.start_background_task(_write_online_peak, app, townhall_id, interval)


def _write_online_peak(app: Any, townhall_id: int, interval: float) -> None:
    socketio.sleep(interval)
    with _peaks_lock:
        watching = _pending_peaks.pop(townhall_id, 0)
    with app.app_context():
        try:
            services.record_online_peak(db.session, townhall_id, watching)
            db.session.commit()
        except Exception:  # noqa: BLE001 - a missed peak is not worth a crashed task
            db.session.rollback()
            current_app.logger.exception("could not record the online peak of town hall %s",
                                         townhall_id)
        finally:
            db.session.remove()


def _leave_townhall(townhall_id: int) -> None:
    leave_room(townhall_room(townhall_id))
    leave_room(moderators_room(townhall_id))
    presence.left(request.sid, townhall_id)  # type: ignore[attr-defined]


@on("leave")
@acknowledged
def leave(payload: dict[str, Any]) -> dict[str, Any]:
    """A page stops following a town hall."""
    _leave_townhall(_id(payload, "townhall_id"))
    return {}


@on("ask")
@acknowledged
def ask(payload: dict[str, Any]) -> dict[str, Any]:
    """A resident asks. The author's sockets and the moderators hear of it; the room does not
    until it is approved."""
    actor = _signed_in("townhall.ask")
    townhall = _townhall(payload, actor)
    retried = services.find_retried_question(db.session, actor, townhall,
                                             payload.get("client_id"))
    if retried is None:
        hit_limit("LIMIT_ASK", f"user:{actor.id}")
    question = services.ask_question(
        db.session, actor, townhall, text=payload.get("text"),
        anonymous=payload.get("anonymous", False), client_id=payload.get("client_id"))
    answer = {"question": services.question_data(question, view="author")}
    commit_and_emit(db.session)
    return answer


@on("upvote")
@acknowledged
def upvote(payload: dict[str, Any]) -> dict[str, Any]:
    """A resident adds (`value: true`) or takes back an upvote; the room sees the new count."""
    actor = _signed_in("townhall.upvote")
    question_id = _id(payload, "question_id")
    require_fields(payload, value=bool)
    question = services.get_question(db.session, question_id, lock=True)
    hit_limit("LIMIT_UPVOTE", f"user:{actor.id}")
    services.set_upvote(db.session, actor, question, payload["value"])
    answer = {"question_id": question.id, "upvotes": question.upvote_count,
              "value": payload["value"]}
    commit_and_emit(db.session)
    return answer


@on("moderate")
@acknowledged
def moderate(payload: dict[str, Any]) -> dict[str, Any]:
    """A moderator approves, rejects, merges, answers or highlights a question."""
    actor = current_actor()
    require(actor, "townhall.moderate")
    question = services.get_question(db.session, _id(payload, "question_id"), lock=True)
    require_fields(payload, action=str)
    into = None
    if payload["action"] == "merge":
        into = services.get_question(db.session, _id(payload, "into_id"), lock=True)
    services.moderate_question(db.session, actor, question, payload["action"],
                               reason=payload.get("reason"), into=into,
                               answer=payload.get("answer"),
                               explanation=payload.get("explanation"))
    answer = {"question": services.question_data(question, view="moderator")}
    commit_and_emit(db.session)
    return answer


@on("enter_question")
@acknowledged
def enter_question(payload: dict[str, Any]) -> dict[str, Any]:
    """A moderator enters a question taken by phone, in person, by email or on paper."""
    actor = current_actor()
    require(actor, "townhall.enter_question")
    townhall = _townhall(payload, actor)
    require_fields(payload, text=str, channel=str)
    question = services.enter_question(db.session, actor, townhall, text=payload["text"],
                                       channel=payload["channel"], name=payload.get("name"))
    answer = {"question": services.question_data(question, view="moderator")}
    commit_and_emit(db.session)
    return answer


@on("similar")
@acknowledged
def similar(payload: dict[str, Any]) -> dict[str, Any]:
    """A resident writing a question asks which public questions look the same ("Already
    asked?"); only the asker hears the answer, best first. Nothing changes, so nothing is sent
    to anyone else. Limited per account (LIMIT_SIMILAR); visitors, who may not ask, may not
    look either."""
    actor = _signed_in("townhall.ask")
    townhall = _townhall(payload, actor)
    hit_limit("LIMIT_SIMILAR", f"user:{actor.id}")
    found = services.similar_questions(db.session, actor, townhall, payload.get("text"))
    return {"questions": [candidate.data() for candidate in found]}


@on("head_count")
@acknowledged
def head_count(payload: dict[str, Any]) -> dict[str, Any]:
    """A moderator enters how many people are in the room; the room hears it as a `townhall`
    event with `in_room` and `in_room_peak`."""
    actor = current_actor()
    require(actor, "townhall.moderate")
    townhall = _townhall(payload, actor)
    services.set_head_count(db.session, actor, townhall, payload.get("count"),
                             correction=payload.get("correction", False))
    answer = {"townhall_id": townhall.id, "in_room": townhall.in_room_count,
              "in_room_peak": townhall.in_room_peak}
    commit_and_emit(db.session)
    return answer
