"""Polls in the read-only JSON API: results only where the results mode allows."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for

from participation.api import OPENAPI_SCHEMAS, PAGE_PARAMETERS, bp, document, path_id
from participation.db import utcnow
from participation.extensions import db
from participation.polls import services
from participation.polls.models import Poll
from participation.web import page_arguments, request_actor

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
        "options": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "label": {"type": "string"}}}},
        "ballots": {"type": "integer", "nullable": True,
                    "description": "Number of ballots; null while results are not public."},
        "results": {"type": "object", "nullable": True,
                    "description": "Counts (and instant-runoff rounds); null while not public."},
        "results_notice": {"type": "string"},
        "ballots_url": {"type": "string", "nullable": True},
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
    return {
        **services.poll_summary(poll),
        "status": poll.status(now),
        "ballots": results["ballots"] if results else None,
        "results": results,
        "results_notice": "" if visible else services.results_notice(poll, now),
        "ballots_url": (url_for("api.poll_ballots", poll_id=poll.id)
                        if visible and closed else None),
    }


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
