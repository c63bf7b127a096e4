"""Decision records in the JSON API, and the whole chain as one export; one write, an
official's progress on a commitment (the JSON twin of the commitment page's form)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for
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
from participation.decisions import services
from participation.decisions.chain import GENESIS_HASH, timestamp
from participation.decisions.models import CommitmentUpdate, DecisionRecord
from participation.errors import InvalidInput, Unauthorized
from participation.extensions import csrf, db
from participation.security.permissions import require
from participation.web import page_arguments, request_actor

CHAIN_ENTRY = {
    "type": "object",
    "required": ["seq", "prev_hash", "hash", "record"],
    "properties": {
        "seq": {"type": "integer", "minimum": 1},
        "prev_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                 "description": "sha256(prev_hash + canonical_json(record)), lower-case hex"},
        "record": {"type": "object", "description": "The hashed content; see the README."},
    },
}
OPENAPI_SCHEMAS["DecisionChainEntry"] = CHAIN_ENTRY
OPENAPI_SCHEMAS["DecisionSummary"] = {
    "type": "object",
    "properties": {
        "seq": {"type": "integer"}, "title": {"type": "string"},
        "outcome": {"type": "string"}, "decision": {"type": "string"},
        "department": {"type": "string"}, "published_at": {"type": "string"},
        "hash": {"type": "string"}, "prev_hash": {"type": "string"},
        "amends": {"type": "integer", "nullable": True},
        "amended_by": {"type": "array", "items": {"type": "integer"}},
        "url": {"type": "string"},
    },
}
OPENAPI_SCHEMAS["DecisionChainExport"] = {
    "type": "object",
    "required": ["format", "version", "genesis", "count", "head", "records"],
    "properties": {
        "format": {"type": "string", "enum": ["participation-decision-chain"]},
        "version": {"type": "integer"},
        "exported_at": {"type": "string"},
        "genesis": {"type": "string"}, "count": {"type": "integer"}, "head": {"type": "string"},
        "records": {"type": "array", "items": {"$ref": "#/components/schemas/DecisionChainEntry"}},
    },
}


def _summary(record: DecisionRecord, amended_by: list[int]) -> dict:
    return {
        "seq": record.seq, "title": record.title, "outcome": record.outcome,
        "decision": record.decision_text, "department": record.department,
        "published_at": record.content["published_at"], "hash": record.hash,
        "prev_hash": record.prev_hash, "amends": record.amends_seq, "amended_by": amended_by,
        "url": url_for("decisions.show", seq=record.seq, _external=True),
    }


@bp.route("/decisions")
@document("/decisions", "Decision records, newest first", parameters=PAGE_PARAMETERS,
          tag="decisions", response={"type": "object", "properties": {
              "items": {"type": "array", "items": {"$ref": "#/components/schemas/DecisionSummary"}},
              "total": {"type": "integer"}, "page": {"type": "integer"},
              "per_page": {"type": "integer"}, "head": {"type": "string"}}})
def decisions() -> Response:
    page, per_page = page_arguments()
    records, total = services.list_records(db.session, page=page, per_page=per_page)
    amended = services.amended_seqs(db.session, [record.seq for record in records])
    head = services.chain_head(db.session)
    return jsonify({"items": [_summary(r, amended.get(r.seq, [])) for r in records],
                    "total": total, "page": page, "per_page": per_page,
                    "head": head.hash if head else GENESIS_HASH})


@bp.route("/decisions/<int:seq>")
@document("/decisions/{seq}", "One decision record with its place in the chain",
          parameters=[path_id("seq", "The record's sequence number")], tag="decisions",
          response={"allOf": [{"$ref": "#/components/schemas/DecisionChainEntry"}, {
              "type": "object", "properties": {
                  "amended_by": {"type": "array", "items": {"type": "integer"}}}}]})
def decision(seq: int) -> Response:
    record = services.get_record(db.session, seq)
    amended_by = [later.seq for later in services.amendments_of(db.session, record)]
    return jsonify({**services.chain_entry(record), "amended_by": amended_by})


@bp.route("/decisions/export")
@document("/decisions/export", "The whole chain, oldest first, for `participation verify`",
          tag="decisions", response={"$ref": "#/components/schemas/DecisionChainExport"})
def decisions_export() -> Response:
    response = jsonify(services.export_chain(db.session))
    response.headers["Content-Disposition"] = 'inline; filename="decision-chain.json"'
    return response


OPENAPI_SCHEMAS["CommitmentUpdate"] = {
    "type": "object",
    "required": ["n", "hash", "status", "note", "percent", "department", "posted_at"],
    "properties": {
        "n": {"type": "integer", "description": "Its place in the export's `updates` chain"},
        "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "status": {"type": "string", "enum": list(services.UPDATE_STATUSES)},
        "note": {"type": "string"},
        "percent": {"type": "integer", "minimum": 0, "maximum": 100, "nullable": True},
        "department": {"type": "string"},
        "posted_at": {"type": "string", "format": "date-time"},
    },
}
OPENAPI_SCHEMAS["CommitmentProgress"] = {
    "type": "object",
    "required": ["record", "number", "due", "state", "closed", "updates"],
    "properties": {
        "record": {"type": "integer"}, "number": {"type": "integer"},
        "promise": {"type": "string"}, "due": {"type": "string", "format": "date"},
        "state": {"type": "string", "enum": list(services.COMMITMENT_STATES)},
        "closed": {"type": "boolean"},
        "updates": {"type": "array", "items": {"$ref": "#/components/schemas/CommitmentUpdate"}},
    },
}
OPENAPI_SCHEMAS["PostCommitmentUpdate"] = {
    "type": "object",
    "required": ["status", "note", "department"],
    "properties": {
        "status": {"type": "string", "enum": list(services.UPDATE_STATUSES)},
        "note": {"type": "string", "maxLength": services.UPDATE_NOTE_MAX},
        "percent": {"type": "integer", "minimum": 0, "maximum": 100, "nullable": True},
        "department": {"type": "string", "maxLength": services.DEPARTMENT_MAX},
    },
}
COMMITMENT_PARAMETERS = [path_id("seq", "The record's sequence number"),
                         path_id("number", "The commitment's number in its record")]


def _update(update: CommitmentUpdate) -> dict[str, Any]:
    return {"n": update.n, "hash": update.hash, "status": update.status, "note": update.note,
            "percent": update.percent, "department": update.department,
            "posted_at": timestamp(update.posted_at)}


def _progress(commitment: Any) -> dict[str, Any]:
    return {"record": commitment.record.seq, "number": commitment.number,
            "promise": commitment.promise, "due": commitment.due_on.isoformat(),
            "state": services.commitment_state(commitment, utcnow().date()),
            "closed": services.is_closed(commitment),
            "updates": [_update(update) for update in commitment.updates]}


# One rule for both methods: with two, Werkzeug answers a POST to a number past the database's
# range 405 (the GET rule's path matched before the number was checked) instead of 404.
@bp.route("/decisions/<int:seq>/commitments/<int:number>/updates", methods=["GET", "POST"])
@csrf.exempt
@document("/decisions/{seq}/commitments/{number}/updates",
          "A commitment's state and its progress updates, oldest first",
          parameters=COMMITMENT_PARAMETERS, tag="decisions",
          response={"$ref": "#/components/schemas/CommitmentProgress"})
def decision_commitment_updates(seq: int, number: int) -> Response | tuple[Response, int]:
    if request.method == "POST":
        return _post_update(seq, number)
    return jsonify(_progress(services.get_commitment_by_number(db.session, seq, number)))


_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
OPENAPI_PATHS.setdefault("/decisions/{seq}/commitments/{number}/updates", {})["post"] = {
    "summary": "Post an official's progress on an open commitment (session cookie and an "
               "X-CSRFToken header); it is appended to the export's `updates` chain",
    "tags": ["decisions"],
    "parameters": COMMITMENT_PARAMETERS,
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/PostCommitmentUpdate"}}}},
    "responses": {
        "201": {"description": "Posted; the commitment with its updates", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CommitmentProgress"}}}},
        "400": {"description": "Invalid status, note, percentage or department",
                "content": _ERROR},
        "401": {"description": "Not signed in", "content": _ERROR},
        "403": {"description": "Not an official, or no valid X-CSRFToken header",
                "content": _ERROR},
        "404": {"description": "Not found", "content": _ERROR},
        "409": {"description": "The commitment is closed (done, dropped or answered by a "
                               "record), or another update was posted at the same moment",
                "content": _ERROR},
        "413": {"description": "Too large", "content": _ERROR},
        "503": {"description": "Briefly unavailable; retry after Retry-After",
                "content": _ERROR},
    },
}


def _post_update(seq: int, number: int) -> tuple[Response, int]:
    """Post progress by JSON: `{status, note, percent?, department}`.

    The CSRF token (CSRFProtect leaves this route to it) is checked here, after the sign-in
    and the role, so that a missing one is
    a JSON 403 like any other refusal (CSRFProtect answers 400, "invalid")."""
    actor = request_actor()
    if actor is None:
        raise Unauthorized(_("Please sign in to post progress."))
    require(actor, "decisions.publish")
    check_csrf_header()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(_('Send a JSON object such as {"status": "on_track", "note": "…", '
                             '"department": "…"}.'))
    commitment = services.get_commitment_by_number(db.session, seq, number)
    fields = {name: body.get(name) for name in ("status", "note", "department")}
    if not all(isinstance(value, str) for value in fields.values()):
        raise InvalidInput(_("status, note and department are text."))
    percent = body.get("percent")
    if percent is not None and (isinstance(percent, bool) or not isinstance(percent, int)):
        raise InvalidInput(_("The percentage is a whole number from 0 to 100."),
                           field="percent")
    services.post_commitment_update(db.session, actor, commitment.id, percent=percent,
                                    **fields)
    db.session.commit()
    return jsonify(_progress(commitment)), 201
