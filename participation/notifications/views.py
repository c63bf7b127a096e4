"""The notifications page, mail preferences, one-click unsubscribe, and the unread count every
page's header shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from participation.errors import DomainError
from participation.extensions import csrf, db
from participation.forms import ConfirmForm, handle_form
from participation.notifications import services
from participation.notifications.forms import PreferencesForm
from participation.notifications.kinds import CADENCE_LABELS, KINDS, Cadence
from participation.web import page_argument, safe_next_url, signed_in_account

bp = Blueprint("notifications", __name__)

PER_PAGE = 30


@bp.app_context_processor
def unread_notifications() -> dict[str, Callable[[], Any]]:
    """Give templates functions, so the count is only queried where the header shows it, and
    the account page's summary only there."""

    def count() -> int:
        if not current_user.is_authenticated:
            return 0
        try:
            return services.unread_count(db.session, current_user)
        except SQLAlchemyError:
            # The header of the "briefly unavailable" page must still render without the database.
            return 0

    def summary() -> list[tuple[Any, list[Any]]]:
        if not current_user.is_authenticated:
            return []
        return [(CADENCE_LABELS[cadence], kinds) for cadence, kinds
                in services.preference_summary(db.session, signed_in_account())]

    return {"unread_notification_count": count, "notification_mail_summary": summary}


@bp.route("/notifications")
@login_required
def index() -> str:
    page = page_argument()
    items, total = services.list_notifications(db.session, current_user, page=page,
                                               per_page=PER_PAGE)
    unread = sum(1 for n in items if n.read_at is None)
    return render_template("notifications/index.html", items=items, total=total, page=page,
                           per_page=PER_PAGE, unread=unread, form=ConfirmForm())


@bp.route("/notifications/<int:notification_id>")
@login_required
def follow_link(notification_id: int) -> Response:
    """Open a notice: it counts as read, and the reader lands where it points."""
    notification = services.open_notification(db.session, current_user, notification_id)
    db.session.commit()
    return redirect(safe_next_url(notification.link, url_for("notifications.index")))


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read() -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    count = services.mark_all_read(db.session, current_user)
    db.session.commit()
    flash(ngettext("Marked %(num)s notification as read.",
                   "Marked %(num)s notifications as read.", count), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def preferences() -> ResponseReturnValue:
    """Per kind: mailed at once, in the daily or weekly digest, or not at all."""
    chosen = services.notification_preferences(db.session, signed_in_account())
    form = PreferencesForm(data={name: cadence.value for name, cadence in chosen.items()})
    return handle_form(
        form,
        lambda: services.set_notification_preferences(
            db.session, signed_in_account(), {name: form[name].data for name in KINDS}),
        flash_message=_("Your notification choices are saved."),
        success=lambda _changed: redirect(url_for("notifications.preferences")),
        render=lambda: render_template("notifications/preferences.html", form=form),
    )


def _unsubscribe_page(*, found: services.Unsubscription | None = None, token: str = "",
                      done: bool = False, error: DomainError | None = None) -> ResponseReturnValue:
    page = render_template("notifications/unsubscribe.html", found=found, token=token, done=done,
                           error=error.message if error else None, never=Cadence.NEVER)
    response = Response(page, status=error.status if error else 200)
    # The address holds the token: keep it out of caches and of the next site's Referer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _viewer() -> Any:
    return signed_in_account() if current_user.is_authenticated else None


@bp.route("/unsubscribe/<token>", methods=["GET"])
def unsubscribe_page(token: str) -> ResponseReturnValue:
    """What the link in a mail opens: a button, so that a scanner fetching it changes nothing."""
    try:
        found = services.read_unsubscribe_link(db.session, token, _viewer())
    except DomainError as error:
        return _unsubscribe_page(error=error)
    return _unsubscribe_page(found=found, token=token)


@bp.route("/unsubscribe/<token>", methods=["POST"])
@csrf.exempt
def unsubscribe(token: str) -> ResponseReturnValue:
    """RFC 8058 one-click unsubscribe: a mail client posts here with no session and no CSRF
    token; the signed token is the proof. Exempt from CSRF here and nowhere else."""
    return handle_form(
        None,
        lambda: services.unsubscribe(db.session, token, _viewer()),
        success=lambda found: _unsubscribe_page(found=found, done=True),
        on_error=lambda error: _unsubscribe_page(error=error),
    )
