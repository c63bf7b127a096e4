"""The notifications page, and the unread count every page's header shows."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from participation.extensions import db
from participation.forms import ConfirmForm
from participation.notifications import services
from participation.web import page_argument, safe_next_url

bp = Blueprint("notifications", __name__)

PER_PAGE = 30


@bp.app_context_processor
def unread_notifications() -> dict[str, Callable[[], int]]:
    """Give templates a function, so the count is only queried where the header shows it."""

    def count() -> int:
        if not current_user.is_authenticated:
            return 0
        try:
            return services.unread_count(db.session, current_user)
        except SQLAlchemyError:
            # The header of the "briefly unavailable" page must still render without the database.
            return 0

    return {"unread_notification_count": count}


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


