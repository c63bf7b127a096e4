"""What every domain's forms share: the confirmation button, and the one way a view handles a
form post (validate, call the service, show its domain error or commit, flash and answer)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

from flask import flash
from flask.typing import ResponseReturnValue
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField

from participation.errors import DomainError, NotFound
from participation.extensions import db
from participation.i18n import from_site_time, site_timezone_name, to_site_time

T = TypeVar("T")


def in_site_zone(label: str) -> LazyString:
    """A time field's label naming the site's zone: `label` holds %(zone)s, as in
    "Starts (%(zone)s)" (marked for translation where it is written, with N_)."""
    return LazyString(lambda: _(label, zone=site_timezone_name()))


class SiteDateTimeField(DateTimeLocalField):
    """A date and time typed and shown in the site's time zone (SITE_TIMEZONE); its data is an
    aware UTC moment, which is what the database stores."""

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        if self.data is None:
            return ""
        return to_site_time(self.data).strftime(self.format[0])

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = from_site_time(self.data)


class ConfirmForm(FlaskForm):
    """A button that changes something (sign out, restore, vote, follow): only the CSRF token."""


def apply_domain_error(form: FlaskForm, error: DomainError) -> bool:
    """Attach a field-level domain error to the form; False when the error is not about a field."""
    field = getattr(form, error.field, None) if error.field else None
    if field is None:
        return False
    field.errors = [*field.errors, error.message] if isinstance(field.errors, list) else [
        error.message
    ]
    return True


def show_domain_error(form: FlaskForm | None, error: DomainError) -> None:
    """Show the error beside the field it is about, or else as a flashed message."""
    if form is None or not apply_domain_error(form, error):
        flash(error.message, "error")


def show_on_field(form: FlaskForm, error: DomainError) -> None:
    """Show the error beside its field; one about no field goes on to the error page."""
    if not apply_domain_error(form, error):
        raise error


def _commit(session: Any) -> None:
    session.commit()


def handle_form(
    form: FlaskForm | None,
    action: Callable[[], T],
    *,
    success: Callable[[T], ResponseReturnValue],
    render: Callable[[], ResponseReturnValue] | None = None,
    flash_message: str | Callable[[T], str] | None = None,
    commit: Callable[[Any], object] = _commit,
    on_error: Callable[[DomainError], ResponseReturnValue | None] | None = None,
    raise_for: Collection[int] = (),
) -> ResponseReturnValue:
    """The one way a view handles a form post.

    When `form` validates, `action()` calls the service. If it raises a DomainError, the session
    is rolled back; an error whose status is in `raise_for` goes on to the error page, any other
    is handed to `on_error` (which may answer with a response of its own) or else shown on its
    field or flashed. Otherwise `commit(db.session)` ends the transaction once (pass
    `commit_and_emit` to broadcast what it recorded, after the commit) and `success(result)`
    answers, normally with a redirect. `flash_message` is flashed after it, so that a message
    given as a function is written in the language of whoever `success` signed in or out.

    Not carried out, the page is `render()` again: 400 when the form was sent, 200 when it is
    only being shown. With `form` None (a button whose CSRF token Flask-WTF has checked, or
    whose form the view validated), there is nothing to re-render: `render()` is the answer as
    it is, typically the same redirect as on success; it may be left out when `on_error`
    always answers.
    """
    if form is None or form.validate_on_submit():
        try:
            result = action()
        except DomainError as error:
            db.session.rollback()
            if error.status in raise_for:
                raise
            if on_error is None:
                show_domain_error(form, error)
            elif (answer := on_error(error)) is not None:
                return answer
        else:
            commit(db.session)
            answer = success(result)
            if flash_message is not None:
                flash(flash_message(result) if callable(flash_message) else flash_message,
                      "success")
            return answer
    if render is None:
        raise TypeError("handle_form needs render= unless on_error answers every error")
    if form is None:
        return render()
    return render(), 400 if form.is_submitted() else 200


def look_up(form: FlaskForm, lookup: Callable[[], T], *, asked: bool) -> tuple[T | None, int]:
    """A lookup form sent with GET (nothing to commit): what `lookup()` found and 200; None and
    200 when nothing was `asked`; None and 400 when the form is not valid; None and the
    DomainError's status, shown on its field, when the lookup refuses."""
    if not asked:
        return None, 200
    if not form.validate():
        return None, 400
    try:
        return lookup(), 200
    except DomainError as error:
        apply_domain_error(form, error)
        return None, error.status


def found_or_none(lookup: Callable[[], T]) -> T | None:
    """What `lookup()` finds, or None when there is no such thing: for a page that names a
    linked item only while it exists."""
    try:
        return lookup()
    except NotFound:
        return None
