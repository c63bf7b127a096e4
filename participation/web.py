"""HTTP plumbing shared by every blueprint: error pages, domain errors, safe redirects, the
numbers read from query strings, the acting account and the configured rate limits."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from participation.db import MAX_ROW_ID
from participation.errors import DomainError, InvalidInput, ServiceUnavailable
from participation.extensions import db
from participation.i18n import N_
from participation.ops import metrics

log = logging.getLogger(__name__)

ERROR_TITLES = {
    400: N_("That request was not understood"),
    401: N_("Please sign in"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Method not allowed"),
    409: N_("That conflicts with the current state"),
    413: N_("That is too large"),
    429: N_("Too many requests"),
    500: N_("Something went wrong on our side"),
    503: N_("Briefly unavailable"),
}

ERROR_EXPLANATIONS = {
    400: N_("Something in the request was missing or malformed. Go back and try again."),
    401: N_("You need to sign in to do that."),
    403: N_("Your account is not allowed to see or do this."),
    404: N_("There is nothing here. It may have moved, or the address may be mistyped."),
    405: N_("This address does not accept that kind of request."),
    409: N_("Someone changed this in the meantime. Reload the page and try again."),
    413: N_("What you sent is larger than we accept. Shorten it and try again."),
    429: N_("You have done this too often in a short time. Wait a minute and try again."),
    500: N_("The error has been logged. Please try again in a moment."),
    503: N_("The service is briefly unavailable. Please try again in a few seconds."),
}

RETRY_AFTER_SECONDS = 5

# Far past any real listing, and small enough that the row offset of the last page
# ((MAX_PAGE - 1) * MAX_PER_PAGE) fits every database's integer.
MAX_PAGE = 1_000_000
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
# More digits than any bound below: longer input is refused before it is converted.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str | None = None, code: str | None = None) -> Response:
    if not message:
        message = _(ERROR_EXPLANATIONS[status]) if status in ERROR_EXPLANATIONS else ""
    if wants_json():
        response = jsonify({"error": code or _code_for(status), "message": message,
                            "status": status})
        response.status_code = status
    else:
        body = render_template(
            "errors/error.html", status=status,
            title=_(ERROR_TITLES[status]) if status in ERROR_TITLES else _("Error"),
            message=message,
        )
        response = Response(body, status=status, mimetype="text/html")
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _code_for(status: int) -> str:
    return {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 409: "conflict", 413: "too_large",
            429: "rate_limited", 503: "unavailable"}.get(status, "error")


def configure_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> Response:
        return error_response(400, _("The form had expired or was not sent from this site. "
                                   "Reload the page and try again."), "csrf")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        message = None
        if status == 429 and error.description:
            message = _(ERROR_EXPLANATIONS[429])
        response = error_response(status, message)
        if status == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[arg-type]
        return response

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response:
        db.session.rollback()
        return error_response(error.status, error.message, error.code)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(error: Exception) -> Response:
        log.warning("database unavailable: %s", type(error).__name__)
        metrics.database_error("http")
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - with the database gone the rollback may fail too
            db.session.remove()
        unavailable = ServiceUnavailable()
        return error_response(503, unavailable.message, unavailable.code)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001, S110 - the response must still be sent
            pass
        return error_response(500)



class RowIdConverter(IntegerConverter):
    """`<int:...>` in every route: a number past the database's integer range matches no route
    (404) instead of failing in the database driver (500)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ROW_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def number_argument(name: str, *, default: int | None = None, low: int = 1,
                    high: int = MAX_ROW_ID) -> int | None:
    """The query-string argument `name` as a whole number from `low` to `high`, or `default`
    when it is absent or empty. Anything else is refused with a 400 naming the argument, on
    pages and in the API alike, before it can reach the database driver."""
    raw = request.args.get(name, "")
    if raw == "":
        return default
    value = int(raw) if _WHOLE_NUMBER.fullmatch(raw) else None
    if value is None or not low <= value <= high:
        raise InvalidInput(_("“%(name)s” must be a whole number from %(low)s to %(high)s.",
                             name=name, low=low, high=high))
    return value


def page_argument() -> int:
    """The page of a listing asked for in `?page=`; 1 when absent."""
    return number_argument("page", default=1, high=MAX_PAGE) or 1


def page_arguments(default_per_page: int = DEFAULT_PER_PAGE,
                   max_per_page: int = MAX_PER_PAGE) -> tuple[int, int]:
    """`?page=` and `?per_page=`, for listings that let the reader choose the page size."""
    page = page_argument()
    per_page = number_argument("per_page", default=default_per_page, high=max_per_page)
    return page, per_page or default_per_page


def configure_favicon(app: Flask) -> None:
    """`/favicon.ico`, which browsers ask for on their own: the site's SVG icon (the pages link
    it too), cached for a day. The icon is a few hundred bytes, read once."""
    icon = (Path(app.static_folder or "") / "favicon.svg").read_bytes()

    def favicon() -> Response:
        response = Response(icon, mimetype="image/svg+xml")
        response.cache_control.public = True
        response.cache_control.max_age = 86400
        return response

    app.add_url_rule("/favicon.ico", "favicon", favicon)


def configure_url_converters(app: Flask) -> None:
    """Call before blueprints are registered: rules bind their converters when added."""
    app.url_map.converters["int"] = RowIdConverter


def safe_next_url(target: str | None, default: str) -> str:
    """Return `target` only when it is a path on this site; anything else goes to `default`."""
    if not target:
        return default
    target = target.strip()
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def request_actor() -> Any:
    """The signed-in account acting in this request, or None for a visitor: what services take
    as their actor."""
    return current_user if current_user.is_authenticated else None


def signed_in_account() -> Any:
    """The signed-in account itself, as Flask-Login loaded it in this request: the object the
    services take, not the `current_user` proxy. Only where the view requires a sign-in."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


def actor_key() -> str:
    """Rate-limit budget per account when signed in, per address otherwise: residents sharing a
    venue's Wi-Fi each have their own."""
    from flask_limiter.util import get_remote_address
    from flask_login import current_user

    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()


def configured_limit(setting: str) -> Callable[[], str]:
    """The rate limit in config `setting`, read when a request comes, for `limiter.limit`: each
    app (and each test's) settings apply, not those of the first app built."""
    return lambda: current_app.config[setting]
