"""The flag queue and moderation actions (moderators), and the public moderation counts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.extensions import db
from participation.forms import ConfirmForm, handle_form
from participation.forums import services as forums
from participation.forums.models import ACTION_LABELS
from participation.moderation import services
from participation.moderation.forms import HideForm, MoveForm, ReasonForm
from participation.security.permissions import require
from participation.web import number_argument, page_argument, safe_next_url

bp = Blueprint("moderation", __name__)

QUEUE_PER_PAGE = 30
LOG_PER_PAGE = 50


def _back(default: str) -> Response:
    return redirect(safe_next_url(request.form.get("next"), default))


@bp.route("/moderation/flags")
@login_required
def queue() -> str:
    page = page_argument()
    items, total = services.flag_queue(db.session, current_user, page=page,
                                       per_page=QUEUE_PER_PAGE)
    return render_template("moderation/queue.html", items=items, total=total, page=page,
                           per_page=QUEUE_PER_PAGE, confirm=ConfirmForm(),
                           hide_form=HideForm(formdata=None))


@bp.route("/moderation/posts/<int:post_id>/dismiss", methods=["POST"])
@login_required
def dismiss(post_id: int) -> Response:
    require(current_user, "forum.moderate")
    post = forums.get_post(db.session, post_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.dismiss_flags(db.session, current_user, post)
    db.session.commit()
    flash(_("The flags are dismissed."), "success")
    return _back(url_for("moderation.queue"))


@bp.route("/moderation/posts/<int:post_id>/restore", methods=["POST"])
@login_required
def restore(post_id: int) -> Response:
    require(current_user, "forum.moderate")
    post = forums.get_post(db.session, post_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    services.restore_post(db.session, current_user, post, reason=form.reason.data)
    db.session.commit()
    flash(_("The post is restored and its author told."), "success")
    return _back(url_for("moderation.queue"))


@bp.route("/moderation/posts/<int:post_id>/hide", methods=["GET", "POST"])
@login_required
def hide(post_id: int) -> Any:
    require(current_user, "forum.moderate")
    post = forums.get_post(db.session, post_id)
    form = HideForm()
    return handle_form(
        form,
        lambda: services.hide_post(db.session, current_user, post, reason=form.reason.data),
        flash_message=_("The post is hidden and its author told why."),
        success=lambda _result: _back(url_for("moderation.queue")),
        render=lambda: render_template(
            "moderation/hide.html", form=form,
            # Sent and refused: the rollback expired the post, so it is loaded afresh.
            post=forums.get_post(db.session, post_id) if form.is_submitted() else post,
            next_url=safe_next_url(request.values.get("next"), url_for("moderation.queue"))),
    )


@bp.route("/moderation/threads/<int:thread_id>/lock", methods=["POST"])
@login_required
def lock(thread_id: int) -> Response:
    require(current_user, "forum.moderate")
    thread = forums.get_thread(db.session, thread_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    locked = form.state.data != "0"
    services.lock_thread(db.session, current_user, thread, locked=locked,
                         reason=form.reason.data)
    db.session.commit()
    flash(_("The thread is locked.") if locked else _("The thread is open again."), "success")
    return redirect(url_for("forums.thread", thread_id=thread.id))


@bp.route("/moderation/threads/<int:thread_id>/pin", methods=["POST"])
@login_required
def pin(thread_id: int) -> Response:
    require(current_user, "forum.moderate")
    thread = forums.get_thread(db.session, thread_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    pinned = form.state.data != "0"
    services.pin_thread(db.session, current_user, thread, pinned=pinned)
    db.session.commit()
    flash(_("The thread is pinned to the top of its topic.") if pinned
          else _("The thread is no longer pinned."), "success")
    return redirect(url_for("forums.thread", thread_id=thread.id))


@bp.route("/moderation/threads/<int:thread_id>/move", methods=["POST"])
@login_required
def move(thread_id: int) -> Response:
    require(current_user, "forum.moderate")
    thread = forums.get_thread(db.session, thread_id)
    form = MoveForm()
    if not form.validate_on_submit():
        flash(_("Choose a topic to move the thread to."), "error")
        return redirect(url_for("forums.thread", thread_id=thread.id))
    topic = services.get_topic_or_404(db.session, form.topic_id.data)
    services.move_thread(db.session, current_user, thread, topic, reason=form.reason.data)
    db.session.commit()
    flash(_('The thread is moved to “%(title)s”.', title=topic.title), "success")
    return redirect(url_for("forums.thread", thread_id=thread.id))


@bp.route("/moderation/log")
@login_required
def log() -> str:
    page = page_argument()
    topic_id = number_argument("topic")
    entries, total = services.moderation_log(db.session, current_user, topic_id=topic_id,
                                             page=page, per_page=LOG_PER_PAGE)
    return render_template("moderation/log.html", entries=entries, total=total, page=page,
                           per_page=LOG_PER_PAGE, topic_id=topic_id)


@bp.route("/moderation")
def ledger() -> str:
    """Public: how much moderation each topic has seen."""
    return render_template("moderation/ledger.html", rows=services.counts_by_topic(db.session),
                           labels=ACTION_LABELS,
                           totals=forums.moderation_counts(db.session))
