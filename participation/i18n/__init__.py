"""Languages: which one a page is in, and dates and numbers written the way its readers write them.

The locale comes from the signed-in account's stored choice, else the choice a visitor made with
the switcher (kept in the session), else the browser's Accept-Language, else English.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from flask import Flask

# Each language the site is translated into, by its code, with its name in that language.
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}
DEFAULT_LOCALE = "en"
SESSION_KEY = "locale"
# Where a socket's session keeps the language its page was in (realtime.connection).
SOCKET_LOCALE_KEY = "_socket_locale"
TRANSLATIONS = Path(__file__).resolve().parent.parent.parent / "translations"


def supported(code: Any) -> str | None:
    """The language code if the site speaks it, else None."""
    return code if isinstance(code, str) and code in LANGUAGES else None


def N_(message: str) -> str:  # noqa: N802 - the usual gettext name for "translate later"
    """Mark a message for the catalog where it is defined; it is translated where it is shown."""
    return message


def select_locale() -> str:
    from flask import has_app_context, has_request_context, request, session
    from flask_login import current_user
    from sqlalchemy.exc import SQLAlchemyError

    if not has_request_context():
        # A light Socket.IO handler (realtime.handlers): the language the socket connected with.
        from flask import g

        stored = supported((g.get("socket_session") or {}).get(SOCKET_LOCALE_KEY)) \
            if has_app_context() else None
        return stored or DEFAULT_LOCALE
    try:
        user = current_user
        stored = supported(user.locale) if user and user.is_authenticated else None
    except SQLAlchemyError:
        # The account cannot be read (the database is away): an error message must still be
        # written, in the language the session or the browser asks for.
        stored = None
    if stored:
        return stored
    chosen = supported(session.get(SESSION_KEY))
    if chosen:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LOCALE


SCRIPT_MESSAGE = re.compile(r'gettext\("((?:[^"\\]|\\.)*)"\)')


def messages_in_scripts(folder: Path) -> list[str]:
    """The gettext("...") messages in the site's scripts (pybabel extracts the same ones)."""
    found: set[str] = set()
    for script in sorted(folder.glob("*.js")):
        found.update(SCRIPT_MESSAGE.findall(script.read_text(encoding="utf-8")))
    return sorted(found)


def _aware(moment: datetime) -> datetime:
    """A moment with its zone; a naive one is taken as UTC, as the database stores it."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso_datetime(value: date | datetime | None) -> str:
    """A moment as a `<time datetime>` value: UTC to the second with `Z` (HTML allows at most
    three digits of a second), or a day as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def parse_moment(value: str | None) -> datetime | None:
    """A moment written as a record writes it ("2026-12-02T07:01:02Z") as an aware datetime, so
    that a page can show it like any other; None for anything else."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except (AttributeError, ValueError):
        return None
    return None if moment is None else _aware(moment)


def site_timezone() -> ZoneInfo:
    """The zone the site shows and takes times in (the SITE_TIMEZONE setting, checked when the
    app is built); what is stored is UTC."""
    from flask import current_app

    return ZoneInfo(current_app.config.get("SITE_TIMEZONE") or "UTC")


def site_timezone_name() -> str:
    return str(site_timezone().key)


def to_site_time(moment: datetime) -> datetime:
    """A stored moment as the site's wall-clock time, without a zone (for a datetime-local
    input)."""
    return _aware(moment).astimezone(site_timezone()).replace(tzinfo=None)


def from_site_time(wall: datetime) -> datetime:
    """A wall-clock time typed in the site's zone as an aware UTC moment. A time a clock change
    skips or repeats is read as the zone's earlier offset (zoneinfo's fold=0)."""
    if wall.tzinfo is not None:
        return wall.astimezone(UTC)
    return wall.replace(tzinfo=site_timezone()).astimezone(UTC)


def zone_abbreviation(moment: datetime) -> str:
    """The site zone's short name at that moment: "CET", "CEST", "UTC"."""
    return _aware(moment).astimezone(site_timezone()).strftime("%Z") or site_timezone_name()


def configure_i18n(app: Flask) -> None:
    from flask_babel import (
        Babel,
        format_date,
        format_datetime,
        format_number,
        format_time,
        get_locale,
        gettext,
    )

    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    # Babel writes every formatted moment in the site's zone (SITE_TIMEZONE, checked with the
    # other settings); what is stored stays UTC.
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config.get("SITE_TIMEZONE") or "UTC"
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    from participation.extensions import login_manager

    login_manager.localize_callback = gettext

    # A moment is always shown with its zone ("Dec 2, 2026, 8:01 AM CET"); a day is a day.
    def _dt(value: datetime | None, fmt: str | None = None) -> str:
        if value is None:
            return ""
        if fmt is None:  # the date in words and the time without seconds
            return (f"{format_date(value, 'medium')}, {format_time(value, 'short')} "
                    f"{zone_abbreviation(value)}")
        return f"{format_datetime(value, fmt)} {zone_abbreviation(value)}"

    def _d(value: date | datetime | None, fmt: str = "medium") -> str:
        return "" if value is None else format_date(value, fmt)

    def _t(value: datetime | None, fmt: str = "short") -> str:
        return "" if value is None else f"{format_time(value, fmt)} {zone_abbreviation(value)}"

    def _n(value: float | int | None) -> str:
        return "" if value is None else format_number(value)

    app.jinja_env.filters.update(datetimeformat=_dt, dateformat=_d, timeformat=_t,
                                 numberformat=_n, iso_datetime=iso_datetime,
                                 parse_moment=parse_moment)

    script_messages = messages_in_scripts(Path(app.static_folder or "") / "js")

    def js_messages() -> str:
        """This page's translations of the scripts' messages, as JSON for a data attribute."""
        import json

        translated = {m: gettext(m) for m in script_messages}
        return json.dumps({m: t for m, t in translated.items() if t != m}, ensure_ascii=False)

    app.jinja_env.globals["js_messages"] = js_messages
    app.jinja_env.globals["site_timezone_name"] = site_timezone_name

    @app.context_processor
    def language() -> dict[str, Any]:
        return {"page_lang": str(get_locale() or DEFAULT_LOCALE), "languages": LANGUAGES}


# Messages whose text lives in data (the main navigation in participation/__init__.py).
NAV_LABELS = (N_("Town halls"), N_("Forums"), N_("Polls"), N_("Decisions"))
# Poll states, shown capitalised.
POLL_STATES = (N_("Open"), N_("Upcoming"), N_("Closed"))
