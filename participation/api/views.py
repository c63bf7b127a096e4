"""The OpenAPI document and API-wide behaviour."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from participation.api import OPENAPI_PATHS, OPENAPI_SCHEMAS, bp, document

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message", "status"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "status": {"type": "integer"},
    },
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Participation public API",
            "version": "1",
            "description": "Read-only public data: town halls, polls, forums and decision records.",
        },
        "servers": [{"url": "/"}],
        "paths": {f"/api/v1{path}": spec for path, spec in sorted(OPENAPI_PATHS.items())},
        "components": {"schemas": {"Error": ERROR_SCHEMA, **OPENAPI_SCHEMAS}},
    }


@bp.route("/openapi.json")
@document("/openapi.json", "This OpenAPI document", response={
    "type": "object", "required": ["openapi", "info", "paths"]}, tag="meta")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.after_request
def allow_public_reads(response: Response) -> Response:
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response
