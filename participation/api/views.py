"""The OpenAPI document and API-wide behaviour."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_babel import gettext as _

from participation.api import OPENAPI_PATHS, OPENAPI_SCHEMAS, bp, document
from participation.errors import InvalidInput

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message", "status"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "status": {"type": "integer"},
    },
}


# Far past any real listing, and small enough that the row offset fits every database's integer.
MAX_PAGE = 1_000_000


def page_arguments(max_per_page: int = 100) -> tuple[int, int]:
    """Read `page` and `per_page` from the query string, refusing nonsense with a 400."""
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", 20))
    except ValueError:
        raise InvalidInput(_("page and per_page must be whole numbers.")) from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= max_per_page:
        raise InvalidInput(_(
            "page must be between 1 and %(max_page)s and per_page between 1 and "
            "%(max_per_page)s.", max_page=MAX_PAGE, max_per_page=max_per_page))
    return page, per_page


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
