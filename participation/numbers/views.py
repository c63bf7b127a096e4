"""The numbers page (`/numbers`) and its charts; `numbers/api.py` serves them as JSON and CSV."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import format_percent, format_timedelta
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from participation.extensions import db
from participation.forms import look_up
from participation.numbers import services
from participation.numbers.charts import CHARTS, month_label, render_svg

bp = Blueprint("numbers", __name__, url_prefix="/numbers")

# The SVG is an image: it may style itself, and run nothing.
CHART_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
CACHE_SIZE = 64


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False

    since = StringField(_l("From month"), validators=[Optional(), Length(max=7)],
                        description=_l("As YYYY-MM, for example 2026-01."))
    until = StringField(_l("To month"), validators=[Optional(), Length(max=7)],
                        description=_l("As YYYY-MM; this month when left empty."))
    department = SelectField(_l("Department"), validators=[Optional()], validate_choice=False)

    def offer(self, departments: list[str]) -> None:
        self.department.choices = [("", str(_l("Every department"))),
                                   *((name, name) for name in departments)]


def period_from(args: Any) -> services.Period:
    """The period the query string asks for (refused with the field it is about)."""
    return services.parse_period(db.session, args.get("since"), args.get("until"),
                                 args.get("department"))


def numbers_for(period: services.Period) -> services.Numbers:
    """The figures of `period`, kept for NUMBERS_CACHE_SECONDS (0: not kept): the page, its
    charts and the API ask for the same period within moments of each other."""
    seconds = current_app.config.get("NUMBERS_CACHE_SECONDS", 60)
    if not seconds:
        return services.numbers(db.session, period)
    cache: dict[Any, tuple[float, services.Numbers]] = current_app.extensions.setdefault(
        "numbers_cache", {})
    key = (period.months, period.department)
    now = time.monotonic()
    kept = cache.get(key)
    if kept is not None and now - kept[0] < seconds:
        return kept[1]
    found = services.numbers(db.session, period)
    if len(cache) >= CACHE_SIZE:
        cache.clear()
    cache[key] = (now, found)
    return found


@bp.route("")
def index() -> tuple[str, int]:
    form = PeriodForm(request.args)
    form.offer(services.departments(db.session))
    found, status = look_up(form, lambda: numbers_for(period_from(request.args)), asked=True)
    query = {name: request.args[name] for name in ("since", "until", "department")
             if request.args.get(name)}
    return render_template("numbers/index.html", form=form, numbers=found, charts=CHARTS,
                           query=query, month_label=month_label, last_day=last_day,
                           percent=lambda share: format_percent(share, "#,##0.#%"),
                           span=lambda seconds: format_timedelta(timedelta(seconds=seconds),
                                                                 threshold=1.5)), status


def last_day(period: services.Period) -> str:
    """The period's last day, for the decision records' own filter."""
    return (period.until.date() - timedelta(days=1)).isoformat()


@bp.route("/charts/<name>.svg")
def chart(name: str) -> Response:
    drawing = CHARTS.get(name)
    if drawing is None:
        abort(404)
    svg = render_svg(drawing, numbers_for(period_from(request.args)))
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = CHART_POLICY
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
