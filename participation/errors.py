"""Errors a user can cause. Services raise them; HTTP and Socket.IO each turn them into one answer.

`code` is the Socket.IO ack error code from DESIGN.md; `status` the HTTP status for the same case.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext

from participation.i18n import N_


class DomainError(Exception):
    code = "invalid"
    status = 400
    default_message = N_("That request could not be carried out.")

    def __init__(self, message: Any = None, *, field: str | None = None) -> None:
        # A lazy message (flask_babel.lazy_gettext) is written out when it is read, in the
        # language of whoever receives the answer: see `message`.
        self._message = message or lazy_gettext(self.default_message)
        self.field = field
        super().__init__(self._message)

    @property
    def message(self) -> str:
        """The message in the current language (for a lazy one) or as it was given."""
        return str(self._message)


class InvalidInput(DomainError):
    code = "invalid"
    status = 400
    default_message = N_("Some of what was sent is not valid.")


class TextTooComplex(InvalidInput):
    """Text whose formatting would make too large a page or take too long to render."""

    default_message = N_("This text has too much formatting to show; simplify it or split it "
                         "into parts.")


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401
    default_message = N_("Please sign in first.")


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    default_message = N_("You are not allowed to do that.")


class EmailNotConfirmed(Forbidden):
    """The account may do this once its address is confirmed (CONFIRMED_EMAIL_REQUIRED_FOR).

    The code stays `forbidden`, one of the ack codes DESIGN.md lists; pages tell it apart by
    its class, to offer the confirmation link again.
    """

    default_message = N_("Confirm your email address first: follow the link we mailed you, or "
                         "send it again from your account page.")


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = N_("That does not exist, or you cannot see it.")


class Closed(DomainError):
    code = "closed"
    status = 409
    default_message = N_("That is closed.")


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_message = N_("That conflicts with the current state; reload and try again.")


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    default_message = N_("Too many requests; please wait a moment and try again.")


class ServiceUnavailable(DomainError):
    code = "unavailable"
    status = 503
    default_message = N_("The service is briefly unavailable; please try again shortly.")
