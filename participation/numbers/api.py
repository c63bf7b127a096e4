"""The numbers in the JSON API (`/api/v1/numbers`) and as a CSV file (`/api/v1/numbers.csv`)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, jsonify, request

from participation.api import OPENAPI_PATHS, OPENAPI_SCHEMAS, bp, document
from participation.numbers.views import numbers_for, period_from

MONTH = "^([0-9]{4}-(0[1-9]|1[0-2]))?$"  # empty: the default
# What a schema cannot say: each bound may be a month, yet the period they make is refused (400)
# when it is reversed or longer than ten years, and so is a department nobody has named.
PERIOD_RULES = ("`since` must not come after `until`, the period covers at most ten years, and "
                "`department` must name a department of a decision record or an official "
                "response: otherwise 400.")
PERIOD_PARAMETERS = [
    {"name": "since", "in": "query", "required": False,
     "description": "First month, YYYY-MM (default: eleven months before `until`)",
     "schema": {"type": "string", "pattern": MONTH}},
    {"name": "until", "in": "query", "required": False,
     "description": "Last month, YYYY-MM (default: this month); at most ten years in all",
     "schema": {"type": "string", "pattern": MONTH}},
    {"name": "department", "in": "query", "required": False,
     "description": "Only what concerns this department", "schema": {"type": "string"}},
]
_COUNT = {"type": "integer", "minimum": 0}
_SHARE = {"type": "number", "minimum": 0, "maximum": 1, "nullable": True}
_SECONDS = {"type": "integer", "nullable": True}
FIGURES = {
    "type": "object",
    "properties": {
        "participants": {"type": "object", "properties": {
            name: _COUNT for name in ("all", "forums", "townhalls", "polls")}},
        "new_accounts": {"type": "integer", "nullable": True,
                         "description": "null when a department is chosen"},
        "questions": {"type": "object", "properties": {
            "asked": _COUNT, "answered_live": _COUNT, "answered_in_writing": _COUNT,
            "share_answered_live": _SHARE, "median_seconds_to_answer": _SECONDS}},
        "threads": {"type": "object", "properties": {
            "started": _COUNT, "with_official_response": _COUNT,
            "share_with_official_response": _SHARE,
            "median_seconds_to_official_response": _SECONDS}},
        "polls": {"type": "object", "properties": {
            "opened": _COUNT, "ballots": _COUNT, "roll_ballots": _COUNT, "electorate": _COUNT,
            "turnout": _SHARE}},
        "decisions": {"type": "object", "properties": {"published": _COUNT}},
        "commitments": {"type": "object", "properties": {
            name: _COUNT for name in ("made", "done_on_time", "done_late", "overdue",
                                      "dropped")}},
    },
}
OPENAPI_SCHEMAS["NumbersFigures"] = FIGURES
OPENAPI_SCHEMAS["Numbers"] = {
    "type": "object",
    "required": ["since", "until", "total", "months"],
    "properties": {
        "since": {"type": "string"}, "until": {"type": "string"},
        "department": {"type": "string", "nullable": True},
        "total": {"$ref": "#/components/schemas/NumbersFigures"},
        "months": {"type": "array", "items": {"allOf": [
            {"$ref": "#/components/schemas/NumbersFigures"},
            {"type": "object", "properties": {"month": {"type": "string"}}}]}},
    },
}


@bp.route("/numbers")
@document("/numbers", "Public figures per month and for the period", tag="numbers",
          parameters=PERIOD_PARAMETERS, response={"$ref": "#/components/schemas/Numbers"})
def numbers() -> Response:
    return jsonify(numbers_for(period_from(request.args)).as_dict())


@bp.route("/numbers.csv")
@document("/numbers.csv", "The same figures as a CSV file: a row a month, then the period's",
          tag="numbers", parameters=PERIOD_PARAMETERS)
def numbers_csv() -> Response:
    found = numbers_for(period_from(request.args)).as_dict()
    rows = [{"month": month.pop("month"), **_flat(month)} for month in found["months"]]
    rows.append({"month": "total", **_flat(found["total"])})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    name = f"numbers-{found['since']}-{found['until']}.csv"
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


# The CSV answer is no JSON document.
OPENAPI_PATHS["/numbers.csv"]["get"]["responses"]["200"]["content"] = {
    "text/csv": {"schema": {"type": "string"}}}
for _path in ("/numbers", "/numbers.csv"):
    OPENAPI_PATHS[_path]["get"]["x-cross-field-rules"] = PERIOD_RULES


def _flat(figures: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"questions": {"asked": 3}}` as `{"questions.asked": 3}`; no value is left empty."""
    flat: dict[str, Any] = {}
    for name, value in figures.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = "" if value is None else value
    return flat
