"""The read-only JSON API under /api/v1, described by an OpenAPI document.

Each domain adds its endpoints in its own `api.py` on `bp` and describes them with `document`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, request
from flask_babel import gettext as _
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from participation.db import MAX_ROW_ID
from participation.errors import Forbidden
from participation.web import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE

bp = Blueprint("api", __name__, url_prefix="/api/v1")

OPENAPI_PATHS: dict[str, dict[str, Any]] = {}
OPENAPI_SCHEMAS: dict[str, dict[str, Any]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def document(path: str, summary: str, *, parameters: list[dict[str, Any]] | None = None,
             response: dict[str, Any] | None = None, tag: str = "default") -> Callable[[F], F]:
    """Describe a GET endpoint at `path` (OpenAPI path syntax, relative to /api/v1)."""

    def decorate(view: F) -> F:
        responses: dict[str, Any] = {
            "200": {"description": "OK", "content": {"application/json": {
                "schema": response or {"type": "object"}}}},
        }
        if "{" in path:
            responses["404"] = {"description": "Not found", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}
        if any(p.get("in") == "query" for p in parameters or []):
            responses["400"] = {"description": "Invalid query parameters", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        responses["503"] = {"description": "Briefly unavailable; retry after Retry-After",
                            "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/Error"}}}}
        OPENAPI_PATHS.setdefault(path, {})["get"] = {
            "summary": summary,
            "tags": [tag],
            "parameters": parameters or [],
            "responses": responses,
        }
        return view

    return decorate


def path_id(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}}


PAGE_PARAMETERS = [
    {"name": "page", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}},
    {"name": "per_page", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                "default": DEFAULT_PER_PAGE}},
]


def check_csrf_header() -> None:
    """A writing API call carries the page's CSRF token in `X-CSRFToken`. Checked by the view,
    after the sign-in, so that a missing one is a JSON 403 like any other refusal (CSRFProtect
    answers 400, "invalid")."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken"))
    except ValidationError:
        raise Forbidden(_("This request did not come from the site's own page: reload the "
                          "page and try again.")) from None
