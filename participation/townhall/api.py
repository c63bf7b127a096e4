"""Read-only JSON: town halls, and each one's public questions with their outcomes."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for

from participation.api import OPENAPI_SCHEMAS, PAGE_PARAMETERS, bp, document, path_id
from participation.extensions import db
from participation.townhall import services
from participation.townhall.models import TownHall
from participation.web import page_arguments, request_actor

OPENAPI_SCHEMAS["TownHallSummary"] = {
    "type": "object",
    "required": ["id", "title", "status", "starts_at", "ends_at", "url", "join_code",
                 "join_url"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "status": {"type": "string", "enum": ["scheduled", "live", "ended"]},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string"},
        "join_code": {"type": "string", "pattern": "^[A-HJKMNP-Z2-9]{6}$",
                      "description": "The short code shown in the room"},
        "join_url": {"type": "string",
                     "description": "The short join link (`/j/<code>`), as the projector shows it"},
    },
}
OPENAPI_SCHEMAS["TownHallQuestion"] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "text": {"type": "string"},
        "status": {"type": "string", "enum": ["approved", "answered", "merged"]},
        "author_name": {"type": "string", "nullable": True,
                        "description": "null for anonymous questions"},
        "channel": {"type": "string", "enum": ["online", "phone", "in_person", "email", "paper"]},
        "upvotes": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "answered_at": {"type": "string", "format": "date-time", "nullable": True},
        "answer_mode": {"type": "string", "enum": ["live", "written"], "nullable": True},
        "answer_html": {"type": "string", "nullable": True},
        "merged_into_id": {"type": "integer", "nullable": True},
    },
}
OPENAPI_SCHEMAS["TownHall"] = {
    "allOf": [
        {"$ref": "#/components/schemas/TownHallSummary"},
        {"type": "object", "properties": {
            "description_html": {"type": "string"},
            "highlighted_question_id": {"type": "integer", "nullable": True},
            "questions": {"type": "array",
                          "items": {"$ref": "#/components/schemas/TownHallQuestion"}},
            "ledger": {"type": "object", "description": "Public moderation counts"},
        }},
    ],
}


def _summary(townhall: TownHall) -> dict[str, Any]:
    return {
        "id": townhall.id,
        "title": townhall.title,
        "status": townhall.status.value,
        "starts_at": townhall.starts_at.isoformat(),
        "ends_at": townhall.ends_at.isoformat(),
        "url": url_for("townhall.show", townhall_id=townhall.id, _external=True),
        "join_code": townhall.join_code,
        "join_url": services.join_link(townhall),
    }


@bp.route("/townhalls")
@document("/townhalls", "Town halls, latest start first (private ones only for accounts)",
          parameters=PAGE_PARAMETERS,
          tag="townhalls", response={"type": "object", "properties": {
              "items": {"type": "array", "items": {"$ref": "#/components/schemas/TownHallSummary"}},
              "total": {"type": "integer"}, "page": {"type": "integer"},
              "per_page": {"type": "integer"}}})
def townhalls() -> Response:
    page, per_page = page_arguments()
    items, total = services.page_of_townhalls(db.session, request_actor(), page=page,
                                              per_page=per_page)
    return jsonify({"items": [_summary(t) for t in items], "total": total, "page": page,
                    "per_page": per_page})


@bp.route("/townhalls/<int:townhall_id>")
@document("/townhalls/{townhall_id}", "A town hall with its public questions and outcomes",
          parameters=[path_id("townhall_id", "The town hall's id")], tag="townhalls",
          response={"$ref": "#/components/schemas/TownHall"})
def townhall(townhall_id: int) -> Response:
    found = services.find_townhall(db.session, request_actor(), townhall_id)
    return jsonify({
        **_summary(found),
        "description_html": found.description_html,
        "highlighted_question_id": found.highlighted_question_id,
        "questions": [services.question_data(q) for q in services.transcript(db.session, found)],
        "ledger": services.ledger(db.session, found),
    })
