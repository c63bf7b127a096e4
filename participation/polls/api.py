"""Polls in the JSON API: results only where the results mode allows; one write, a ballot.

The ballot endpoint is the JSON twin of the poll page's form and of the socket's `vote`: the
same service decides who may vote, with the same refusals, as JSON errors.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from flask_babel import gettext as _

from participation.api import (
    OPENAPI_PATHS,
    OPENAPI_SCHEMAS,
    PAGE_PARAMETERS,
    bp,
    check_csrf_header,
    document,
    path_id,
)
from participation.db import utcnow
from participation.errors import InvalidInput, Unauthorized
from participation.extensions import csrf, db, limiter
from participation.polls import services, turnout
from participation.polls.events import schedule_tally, tally_wanted
from participation.polls.models import Eligibility, Poll
from participation.realtime.outbox import commit_and_emit
from participation.web import actor_key, configured_limit, page_arguments, request_actor

OPENAPI_SCHEMAS["Poll"] = {
    "type": "object",
    "required": ["id", "question", "kind", "status", "results_mode", "options", "results"],
    "properties": {
        "id": {"type": "integer"},
        "question": {"type": "string"},
        "kind": {"type": "string", "enum": ["single", "multiple", "ranked"]},
        "max_choices": {"type": "integer", "nullable": True},
        "status": {"type": "string", "enum": ["upcoming", "open", "closed"]},
        "results_mode": {"type": "string", "enum": ["live", "after_close", "hidden"]},
        "ballot_secrecy": {"type": "string", "enum": ["verifiable", "secret"],
                           "description": "verifiable: the export ties each receipt fingerprint "
                                          "to its ballot; secret: it lists them apart"},
        "townhall_id": {"type": "integer", "nullable": True},
        "topic_id": {"type": "integer", "nullable": True},
        "opens_at": {"type": "string", "format": "date-time", "nullable": True},
        "closes_at": {"type": "string", "format": "date-time", "nullable": True},
        "draw_seed": {"type": "string"},
        "eligibility": {"$ref": "#/components/schemas/PollEligibility"},
        "options": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "label": {"type": "string"}}}},
        "ballots": {"type": "integer", "nullable": True,
                    "description": "Number of ballots; null while results are not public."},
        "results": {"type": "object", "nullable": True,
                    "description": "Counts (and instant-runoff rounds); null while not public."},
        "channels": {"type": "object", "nullable": True,
                     "additionalProperties": {"type": "integer"},
                     "description": "How many ballots came by each channel (online, paper, "
                                    "phone, in_person); null while results are not public."},
        "electorate": {"type": "integer", "nullable": True,
                       "description": "A closed poll for verified residents: the roll entries "
                                      "that could vote (frozen at the close); null otherwise."},
        "turnout_percent": {"type": "number", "nullable": True,
                            "description": "Ballots as a share of `electorate`, in percent; "
                                           "null without an electorate or while results are "
                                           "not public."},
        "results_notice": {"type": "string"},
        "ballots_url": {"type": "string", "nullable": True},
    },
}
OPENAPI_SCHEMAS["PollEligibility"] = {
    "type": "object",
    "description": "Who may vote: anyone signed in, residents with a confirmed address, or "
                   "residents verified against the electoral roll (then optionally only some "
                   "districts, and a minimum age reached in the year the poll closes).",
    "required": ["who", "districts", "min_age", "description"],
    "properties": {
        "who": {"type": "string", "enum": [e.value for e in Eligibility]},
        "districts": {"type": "array", "items": {"type": "string"},
                      "description": "Verified polls: the roll districts that may vote; empty "
                                     "for all."},
        "min_age": {"type": "integer", "nullable": True},
        "description": {"type": "string"},
    },
}
OPENAPI_SCHEMAS["CastBallot"] = {
    "type": "object",
    "required": ["choices"],
    "properties": {
        "choices": {"type": "array", "items": {"type": "integer"},
                    "description": "Option ids; for ranked choice in order of preference."},
        "client_id": {"type": "string", "maxLength": services.CLIENT_ID_MAX,
                      "description": "Sent again with a retry, so that it is applied once."},
    },
}
OPENAPI_SCHEMAS["CastReceipt"] = {
    "type": "object",
    "required": ["poll_id", "receipt", "replaced", "repeated"],
    "properties": {
        "poll_id": {"type": "integer"},
        "receipt": {"type": "string"},
        "replaced": {"type": "boolean"},
        "repeated": {"type": "boolean"},
    },
}
OPENAPI_SCHEMAS["PollBallots"] = {
    "type": "object",
    "description": "Format participation-poll-ballots/3. A verifiable poll lists `ballots` (each "
                   "content with its receipt fingerprint and channel); a secret one lists "
                   "`fingerprints` and, apart and sorted by content, `contents`. Both give "
                   "`channels`, the ballots by channel.",
    "required": ["format", "poll", "receipts_digest", "results"],
    "properties": {
        "format": {"type": "string"},
        "poll": {"type": "object"},
        "ballots": {"type": "array", "items": {"type": "object", "properties": {
            "fingerprint": {"type": "string",
                            "description": "SHA-256 of the ballot's receipt code"},
            "choices": {"type": "array", "items": {"type": "integer"}},
            "channel": {"type": "string", "enum": ["online", "paper", "phone", "in_person"]}}},
                    "description": "Verifiable polls only."},
        "fingerprints": {"type": "array", "items": {"type": "string"},
                         "description": "Secret polls only: the receipts' fingerprints, sorted."},
        "contents": {"type": "array",
                     "items": {"type": "array", "items": {"type": "integer"}},
                     "description": "Secret polls only: the ballots' choices, sorted by "
                                    "content, in no relation to `fingerprints`."},
        "channels": {"type": "object", "additionalProperties": {"type": "integer"},
                     "description": "How many ballots came by each channel: online, paper, "
                                    "phone, in_person."},
        "electorate": {"type": "integer", "nullable": True,
                       "description": "Polls for verified residents: the roll entries that "
                                      "could vote, frozen at the close."},
        "turnout_percent": {"type": "number", "nullable": True},
        "receipts_digest": {"type": "string"},
        "results": {"type": "object"},
    },
}


def poll_document(poll: Poll) -> dict[str, Any]:
    now = utcnow()
    visible = services.results_visible(poll, now)
    closed = poll.is_closed(now)
    results = services.count_poll(db.session, poll) if visible else None
    # Counts by channel follow `results`; the electorate of a closed verified poll is public
    # once it has closed, its turnout only with the results (it tells the number of ballots).
    figures = (turnout.poll_turnout(db.session, poll, now)
               if visible or (closed and poll.eligibility is Eligibility.VERIFIED) else None)
    return {
        **services.poll_summary(poll),
        "eligibility": eligibility_document(poll),
        "status": poll.status(now),
        "ballots": results["ballots"] if results else None,
        "results": results,
        "channels": figures.channels if figures and visible else None,
        "electorate": figures.electorate if figures else None,
        "turnout_percent": figures.percent if figures and visible else None,
        "results_notice": "" if visible else services.results_notice(poll, now),
        "ballots_url": (url_for("api.poll_ballots", poll_id=poll.id)
                        if visible and closed else None),
    }


def eligibility_document(poll: Poll) -> dict[str, Any]:
    return {"who": poll.eligibility.value, "districts": list(poll.eligible_districts or []),
            "min_age": poll.min_age, "description": services.who_may_vote(poll)}


@bp.route("/polls")
@document("/polls", "Polls, newest first", parameters=PAGE_PARAMETERS, tag="polls",
          response={"type": "object", "properties": {
              "polls": {"type": "array", "items": {"$ref": "#/components/schemas/Poll"}},
              "total": {"type": "integer"}, "page": {"type": "integer"},
              "per_page": {"type": "integer"}}})
def polls() -> Response:
    page, per_page = page_arguments()
    items, total = services.list_polls(db.session, request_actor(), page=page, per_page=per_page)
    return jsonify({"polls": [poll_document(poll) for poll in items], "total": total,
                    "page": page, "per_page": per_page})


@bp.route("/polls/<int:poll_id>")
@document("/polls/{poll_id}", "A poll: kind, status, options and results where the mode allows",
          parameters=[path_id("poll_id", "The poll's id")], tag="polls",
          response={"$ref": "#/components/schemas/Poll"})
def poll(poll_id: int) -> Response:
    return jsonify(poll_document(services.get_poll(db.session, request_actor(), poll_id)))


@bp.route("/polls/<int:poll_id>/ballots")
@document("/polls/{poll_id}/ballots",
          "A closed poll's anonymised ballots, receipts digest and published result "
          "(403 until the results are public)",
          parameters=[path_id("poll_id", "The poll's id")], tag="polls",
          response={"$ref": "#/components/schemas/PollBallots"})
def poll_ballots(poll_id: int) -> Response:
    poll = services.get_poll(db.session, request_actor(), poll_id)
    return jsonify(services.export_poll(db.session, request_actor(), poll))


_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
OPENAPI_PATHS.setdefault("/polls/{poll_id}/ballot", {})["post"] = {
    "summary": "Cast or change the signed-in resident's ballot (session cookie and an "
               "X-CSRFToken header, as the poll page's own script sends them)",
    "tags": ["polls"],
    "parameters": [path_id("poll_id", "The poll's id")],
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/CastBallot"}}}},
    "responses": {
        "200": {"description": "Counted; the receipt code", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/CastReceipt"}}}},
        "400": {"description": "Invalid ballot", "content": _ERROR},
        "401": {"description": "Not signed in", "content": _ERROR},
        "403": {"description": "Not allowed to vote in this poll (who may vote: see the poll's "
                               "`eligibility`), or no valid X-CSRFToken header",
                "content": _ERROR},
        "404": {"description": "Not found", "content": _ERROR},
        "409": {"description": "Closed or not open yet, or this roll entry has already voted",
                "content": _ERROR},
        "413": {"description": "Too large", "content": _ERROR},
        "429": {"description": "Too many votes; wait a moment", "content": _ERROR},
        "503": {"description": "Briefly unavailable; retry after Retry-After",
                "content": _ERROR},
    },
}


@bp.route("/polls/<int:poll_id>/ballot", methods=["POST"])
@csrf.exempt
@limiter.limit(configured_limit("LIMIT_VOTE"), key_func=actor_key)
def cast_ballot(poll_id: int) -> Response:
    """Cast a ballot by JSON: `{choices, client_id?}`; the answer carries the receipt code.

    The CSRF token is checked here rather than by CSRFProtect, after the sign-in, so that a
    missing one is a JSON 403 like any other refusal (CSRFProtect answers 400, "invalid")."""
    if request_actor() is None:
        raise Unauthorized(_("Please sign in to vote."))
    check_csrf_header()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(_('Send a JSON object such as {"choices": [1]}.'), field="choices")
    result = services.cast_ballot(db.session, request_actor(), poll_id, body.get("choices"),
                                  client_id=body.get("client_id"))
    push = not result.repeated and tally_wanted(result.ballot.poll)
    answer = {"poll_id": result.ballot.poll_id,
              "receipt": services.format_receipt(result.ballot.receipt),
              "replaced": result.replaced, "repeated": result.repeated}
    commit_and_emit(db.session)
    if push:
        schedule_tally(current_app._get_current_object(), poll_id)  # type: ignore[attr-defined]
    return jsonify(answer)
