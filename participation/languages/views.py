"""The language switcher: a plain form in every page's header that works without scripts."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from participation.extensions import db
from participation.forms import handle_form
from participation.i18n import SESSION_KEY
from participation.languages.services import choose_language
from participation.web import safe_next_url

bp = Blueprint("i18n", __name__)


@bp.route("/language", methods=["POST"])
def switch_language() -> ResponseReturnValue:
    user = current_user if current_user.is_authenticated else None

    def back() -> Response:
        return redirect(safe_next_url(request.form.get("next"), url_for("home.index")))

    def remembered(language: str) -> Response:
        session[SESSION_KEY] = language
        return back()

    return handle_form(
        None, lambda: choose_language(db.session, user, request.form.get("locale")),
        # A function, so that the message is translated once the new language is remembered.
        flash_message=lambda _language: _("The language is changed."),
        success=remembered, render=back,
    )
