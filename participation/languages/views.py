"""The language switcher: a plain form in every page's header that works without scripts."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from participation.errors import DomainError
from participation.extensions import db
from participation.i18n import SESSION_KEY
from participation.languages.services import choose_language
from participation.web import safe_next_url

bp = Blueprint("i18n", __name__)


@bp.route("/language", methods=["POST"])
def switch_language() -> Response:
    user = current_user if current_user.is_authenticated else None
    try:
        language = choose_language(db.session, user, request.form.get("locale"))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        session[SESSION_KEY] = language
        flash(_("The language is changed."), "success")
    return redirect(safe_next_url(request.form.get("next"), url_for("home.index")))
