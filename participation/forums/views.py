"""Forum pages. Every action is a plain form post with CSRF: the forum works without JavaScript."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from participation.db import row_id, utcnow
from participation.errors import InvalidInput
from participation.extensions import db, limiter
from participation.feeds import FEED_SIZE, FeedEntry, atom_response
from participation.forms import ConfirmForm, handle_form
from participation.forums import services
from participation.forums.forms import (
    EditPostForm,
    FlagForm,
    OfficialResponseForm,
    ReplyForm,
    ThreadForm,
    TopicForm,
)
from participation.forums.models import Post, Thread, Topic
from participation.mail.services import absolute_url
from participation.security.permissions import can, require
from participation.web import actor_key, configured_limit, number_argument, page_argument

bp = Blueprint("forums", __name__)

TOPICS_PER_PAGE = 20
THREADS_PER_PAGE = 50
POSTS_PER_PAGE = 100
SEARCH_PER_PAGE = 20
AWAITING_PER_PAGE = 50
# The official response form shares the thread page with the reply form: its own field names.
OFFICIAL_PREFIX = "official"


@bp.app_template_filter("duration")
def duration(delta: timedelta) -> str:
    """A span of time in words, in the reader's language ("3 hours", "3 horas")."""
    return format_timedelta(delta)


# Topics


@bp.route("/topics")
def topics() -> str:
    page = page_argument()
    rows, total = services.list_topics(db.session, page=page, per_page=TOPICS_PER_PAGE)
    return render_template("forums/topics.html", rows=rows, total=total, page=page,
                           per_page=TOPICS_PER_PAGE)


@bp.route("/topics/new", methods=["GET", "POST"])
@login_required
def new_topic() -> Any:
    require(current_user, "forum.topic.create")
    form = TopicForm()
    return handle_form(
        form,
        lambda: services.create_topic(
            db.session, current_user, title=form.title.data,
            description=form.description.data, status=form.status.data,
            townhall_id=form.townhall_id.data),
        flash_message=lambda topic: (_("The topic is open for discussion.") if topic.is_open
                                     else _("The topic is saved as archived.")),
        success=lambda topic: redirect(url_for("forums.topic", topic_id=topic.id)),
        render=lambda: render_template("forums/topic_form.html", form=form, topic=None),
    )


@bp.route("/topics/<int:topic_id>/edit", methods=["GET", "POST"])
@login_required
def edit_topic(topic_id: int) -> Any:
    topic = services.get_topic(db.session, topic_id)
    require(current_user, "forum.topic.edit", topic)
    form = TopicForm(obj=topic, status=topic.status.value) if request.method == "GET" \
        else TopicForm()
    return handle_form(
        form,
        lambda: services.update_topic(db.session, current_user, topic, title=form.title.data,
                                      description=form.description.data,
                                      status=form.status.data, townhall_id=form.townhall_id.data),
        flash_message=_("The topic is updated."),
        success=lambda _result: redirect(url_for("forums.topic", topic_id=topic.id)),
        render=lambda: render_template("forums/topic_form.html", form=form, topic=topic),
    )


def _render_topic(topic: Topic, form: ThreadForm) -> str:
    page = page_argument()
    awaiting = bool(number_argument("awaiting", default=0, low=0, high=1))
    threads, total = services.list_threads(db.session, topic, page=page,
                                           per_page=THREADS_PER_PAGE, awaiting=awaiting)
    return render_template(
        "forums/topic.html", topic=topic, threads=threads, total=total, page=page,
        per_page=THREADS_PER_PAGE, form=form, awaiting=awaiting,
        responses=services.first_responses(db.session, [t.id for t in threads]),
        moderation=services.moderation_counts(db.session, topic.id),
        show_hidden=services.can_see_hidden(current_user),
        following=services.is_following_topic(db.session, current_user, topic),
        confirm=ConfirmForm(),
    )


@bp.route("/topics/<int:topic_id>")
def topic(topic_id: int) -> str:
    return _render_topic(services.get_topic(db.session, topic_id), ThreadForm(formdata=None))


@bp.route("/topics/<int:topic_id>/feed.atom")
def topic_feed(topic_id: int) -> Response:
    """A topic's threads, newest first; an unknown topic is a 404 (the feed is in English)."""
    topic = services.get_topic(db.session, topic_id)
    entries = [FeedEntry(link=absolute_url("forums.thread", thread_id=thread.id),
                         title=thread.title, updated=thread.created_at,
                         published=thread.created_at,
                         author=thread.author.public_name if thread.author else None,
                         content="" if opening.deleted else opening.body_html)
               for thread, opening in services.feed_threads(db.session, topic, limit=FEED_SIZE)]
    return atom_response(title=f"threads in {topic.title}",
                         subtitle="New threads in this forum topic.",
                         self_url=absolute_url("forums.topic_feed", topic_id=topic.id),
                         page_url=absolute_url("forums.topic", topic_id=topic.id),
                         entries=entries)


@bp.route("/topics/<int:topic_id>/threads", methods=["POST"])
@login_required
@limiter.limit(configured_limit("LIMIT_POST"), key_func=actor_key)
def start_thread(topic_id: int) -> Any:
    topic = services.get_topic(db.session, topic_id)
    form = ThreadForm()
    return handle_form(
        form,
        lambda: services.start_thread(db.session, current_user, topic,
                                      title=form.title.data, body=form.body.data),
        flash_message=_("Your thread is started. You will be notified of replies."),
        success=lambda thread: redirect(url_for("forums.thread", thread_id=thread.id)),
        render=lambda: _render_topic(topic, form),
    )


# Threads and posts


def _render_thread(thread: Thread, form: ReplyForm,
                   official_form: OfficialResponseForm | None = None) -> str:
    page = page_argument()
    if official_form is None and can(current_user, "forum.respond", thread):
        official_form = OfficialResponseForm(
            formdata=None, prefix=OFFICIAL_PREFIX,
            department=services.last_department(db.session, current_user))
    posts, total = services.thread_posts(db.session, thread, page=page, per_page=POSTS_PER_PAGE)
    quote = services.quotable_post(db.session, thread,
                                   form.quote_id.data or request.args.get("quote"))
    if quote is not None:
        form.quote_id.data = str(quote.id)
    show_hidden = services.can_see_hidden(current_user)
    move_topics = services.open_topics_except(db.session, thread.topic_id) if show_hidden else []
    return render_template(
        "forums/thread.html", thread=thread, topic=thread.topic, posts=posts, total=total,
        page=page, per_page=POSTS_PER_PAGE, form=form, quote=quote,
        show_hidden=show_hidden, move_topics=move_topics,
        flagged=services.flagged_post_ids(db.session, current_user, [p.id for p in posts]),
        following=services.is_following(db.session, current_user, thread),
        confirm=ConfirmForm(), official_form=official_form,
        response=services.first_responses(db.session, [thread.id]).get(thread.id),
    )


@bp.route("/threads/<int:thread_id>")
def thread(thread_id: int) -> str:
    return _render_thread(services.get_thread(db.session, thread_id), ReplyForm(formdata=None))


@bp.route("/threads/<int:thread_id>/replies", methods=["POST"])
@login_required
@limiter.limit(configured_limit("LIMIT_POST"), key_func=actor_key)
def reply(thread_id: int) -> Any:
    thread = services.get_thread(db.session, thread_id)
    form = ReplyForm()

    def post_reply() -> Post:
        quote_id = row_id(form.quote_id.data) if form.quote_id.data else None
        if form.quote_id.data and quote_id is None:
            raise InvalidInput(_("That quote is not valid."), field="body")
        return services.reply_to_thread(db.session, current_user, thread,
                                        body=form.body.data, quote_of_id=quote_id)

    return handle_form(
        form, post_reply,
        flash_message=_("Your reply is posted."),
        success=lambda post: redirect(url_for("forums.show_post", post_id=post.id)),
        # Only after a refusal (the route takes posts only): load it again after the rollback.
        render=lambda: _render_thread(services.get_thread(db.session, thread_id), form),
    )


@bp.route("/threads/<int:thread_id>/official-responses", methods=["POST"])
@login_required
@limiter.limit(configured_limit("LIMIT_POST"), key_func=actor_key)
def respond_officially(thread_id: int) -> Any:
    thread = services.get_thread(db.session, thread_id)
    require(current_user, "forum.respond", thread)
    form = OfficialResponseForm(prefix=OFFICIAL_PREFIX)
    return handle_form(
        form,
        lambda: services.respond_officially(db.session, current_user, thread,
                                            body=form.body.data, department=form.department.data),
        flash_message=_("Your official response is posted."),
        success=lambda post: redirect(url_for("forums.show_post", post_id=post.id)),
        render=lambda: _render_thread(services.get_thread(db.session, thread_id),
                                      ReplyForm(formdata=None), form),
    )


@bp.route("/forums/awaiting")
@login_required
def awaiting() -> str:
    """The officials' queue of threads still waiting for an official response."""
    require(current_user, "forum.respond")
    page = page_argument()
    threads, total = services.awaiting_threads(db.session, page=page,
                                               per_page=AWAITING_PER_PAGE)
    return render_template("forums/awaiting.html", threads=threads, total=total, page=page,
                           per_page=AWAITING_PER_PAGE, now=utcnow())


def _as_stored(post: Post, form: FlaskForm) -> Post:
    """The post to show again with a refused form: loaded afresh, since the rollback expired it."""
    return services.get_post(db.session, post.id) if form.is_submitted() else post


@bp.route("/posts/<int:post_id>")
def show_post(post_id: int) -> Response:
    """Send the reader to the page of the thread where the post is."""
    post = services.get_post(db.session, post_id)
    page = services.post_position(db.session, post) // POSTS_PER_PAGE + 1
    target = url_for("forums.thread", thread_id=post.thread_id,
                     page=page if page > 1 else None)
    return redirect(f"{target}#post-{post.id}")


@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
@limiter.limit(configured_limit("LIMIT_POST"), key_func=actor_key, methods=["POST"])
def edit_post(post_id: int) -> Any:
    post = services.get_post(db.session, post_id)
    require(current_user, "forum.post.edit", post)
    if request.method == "GET":
        form = EditPostForm(formdata=None, body=post.body,
                            title=post.thread.title if post.is_opening else None)
    else:
        form = EditPostForm()
    return handle_form(
        form,
        lambda: services.edit_post(db.session, current_user, post, body=form.body.data,
                                   title=form.title.data if post.is_opening else None),
        flash_message=lambda changed: (_("Your post is updated.") if changed
                                       else _("Nothing was changed.")),
        success=lambda _result: redirect(url_for("forums.show_post", post_id=post_id)),
        render=lambda: render_template("forums/edit_post.html", form=form,
                                       post=_as_stored(post, form)),
    )


@bp.route("/posts/<int:post_id>/delete", methods=["GET"])
@login_required
def confirm_delete_post(post_id: int) -> str:
    """"Delete" leads here first: the post as it stands and a red button, no script needed."""
    post = services.get_post(db.session, post_id)
    services.check_deletable(current_user, post)
    return render_template("forums/delete_post.html", post=post, form=ConfirmForm())


@bp.route("/posts/<int:post_id>/delete", methods=["POST"])
@login_required
def delete_post(post_id: int) -> Response:
    post = services.get_post(db.session, post_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.delete_post(db.session, current_user, post)
    db.session.commit()
    flash(_("Your post is deleted. Replies to it stay."), "success")
    return redirect(url_for("forums.show_post", post_id=post.id))


@bp.route("/posts/<int:post_id>/history")
@login_required
def post_history(post_id: int) -> str:
    post = services.get_post(db.session, post_id)
    revisions = services.post_revisions(db.session, current_user, post)
    return render_template("forums/history.html", post=post, revisions=revisions)


@bp.route("/posts/<int:post_id>/flag", methods=["GET", "POST"])
@login_required
@limiter.limit(configured_limit("LIMIT_FLAG"), key_func=actor_key, methods=["POST"])
def flag_post(post_id: int) -> Any:
    post = services.get_post(db.session, post_id)
    form = FlagForm()
    return handle_form(
        form,
        lambda: services.flag_post(
            db.session, current_user, post, reason=form.reason.data,
            detail=form.detail.data,
            threshold=int(current_app.config["FORUM_FLAG_THRESHOLD"])),
        flash_message=_("Thank you. A moderator will look at the post."),
        success=lambda _result: redirect(url_for("forums.show_post", post_id=post_id)),
        render=lambda: render_template("forums/flag.html", form=form,
                                       post=_as_stored(post, form)),
    )


@bp.route("/threads/<int:thread_id>/follow", methods=["POST"])
@login_required
def follow(thread_id: int) -> Response:
    thread = services.get_thread(db.session, thread_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if request.form.get("follow") == "0":
        services.unfollow_thread(db.session, current_user, thread)
        message = _("You no longer follow this thread.")
    else:
        services.follow_thread(db.session, current_user, thread)
        message = _("You follow this thread: replies will appear in your notifications.")
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("forums.thread", thread_id=thread.id))


@bp.route("/topics/<int:topic_id>/follow", methods=["POST"])
@login_required
def follow_topic(topic_id: int) -> Any:
    """Follow a topic to hear when a poll opens in it (`follow=0` stops)."""
    topic = services.get_topic(db.session, topic_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    stop = request.form.get("follow") == "0"
    back = url_for("forums.topic", topic_id=topic.id)
    return handle_form(
        None,
        lambda: (services.unfollow_topic if stop else services.follow_topic)(
            db.session, current_user, topic),
        flash_message=(_("You no longer follow this topic.") if stop
                       else _("You follow this topic: you will be told when a poll opens in it.")),
        success=lambda _result: redirect(back),
        render=lambda: redirect(back),
    )


@bp.route("/search")
def search() -> str:
    query = (request.args.get("q") or "")[:200]
    page = page_argument()
    posts, total = services.search_posts(db.session, query, page=page, per_page=SEARCH_PER_PAGE)
    return render_template("forums/search.html", query=query, posts=posts, total=total,
                           page=page, per_page=SEARCH_PER_PAGE,
                           terms=services.search_terms(query))
