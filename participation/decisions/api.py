"""Decision records in the read-only JSON API, and the whole chain as one export."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from participation.api import OPENAPI_SCHEMAS, PAGE_PARAMETERS, bp, document, path_id
from participation.decisions import services
from participation.decisions.chain import GENESIS_HASH
from participation.decisions.models import DecisionRecord
from participation.extensions import db
from participation.web import page_arguments

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
