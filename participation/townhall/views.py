"""Town-hall pages: the list, the live page, the moderator console, the projector and the
transcript. The forms here also work without scripts; the live page's script sends the same
actions over the socket instead."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.db import utcnow
from participation.errors import DomainError, InvalidInput
from participation.extensions import db
from participation.feeds import FEED_SIZE, FeedEntry, atom_response
from participation.forms import ConfirmForm, handle_form, show_domain_error, show_on_field
from participation.mail.services import absolute_url
from participation.realtime.outbox import commit_and_emit
from participation.security.permissions import can, require
from participation.security.ratelimit import hit_limit
from participation.townhall import services
from participation.townhall.forms import (
    STATUS_ACTIONS,
    AskForm,
    EditTownHallForm,
    EnterQuestionForm,
    HeadCountForm,
    ModerateForm,
    StatusForm,
    TownHallForm,
    UpvoteForm,
)
from participation.townhall.models import CHANNEL_LABELS, REJECT_REASONS, TownHall
from participation.townhall.qr import join_qr_svg
from participation.web import request_actor, safe_next_url

bp = Blueprint("townhall", __name__, url_prefix="/townhalls")
# The short join links, at the site's root: `/j/<code>`.
join_bp = Blueprint("join", __name__)
# The calendar files: `/townhalls.ics` lies outside the prefix above.
calendar_bp = Blueprint("townhall_calendar", __name__)


def _load(townhall_id: int) -> TownHall:
    return services.get_townhall(db.session, request_actor(), townhall_id)


def _order() -> str:
    order = request.args.get("order", "top")
    return order if order in services.ORDERS else "top"


@bp.route("")
def index() -> str:
    actor = request_actor()
    groups = services.list_townhalls(db.session, actor)
    reminded = services.reminded_townhall_ids(db.session, actor,
                                              [t.id for t in groups["upcoming"]])
    return render_template("townhall/index.html", groups=groups, reminded=reminded)


@bp.route("/feed.atom")
def feed() -> Response:
    """Public town halls as they are announced, start and end (the feed is in English)."""
    entries = []
    for townhall in services.feed_townhalls(db.session, limit=FEED_SIZE):
        ended = townhall.status.value == "ended"
        if townhall.called_off:
            state = "Called off"
        elif ended:
            state = "Ended"
        else:
            state = "Live now" if townhall.status.value == "live" else "Upcoming"
        when = townhall.starts_at.strftime("%Y-%m-%d %H:%M UTC")
        page = "townhall.transcript" if ended and not townhall.called_off else "townhall.show"
        entries.append(FeedEntry(
            link=absolute_url(page, townhall_id=townhall.id),
            title=f"{state}: {townhall.title} ({when})",
            updated=townhall.ended_at or townhall.started_at or townhall.created_at,
            published=townhall.created_at, content=townhall.description_html))
    return atom_response(title="town halls",
                         subtitle="Public town halls: upcoming, live and ended.",
                         self_url=absolute_url("townhall.feed"),
                         page_url=absolute_url("townhall.index"), entries=entries)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create() -> ResponseReturnValue:
    require(current_user, "townhall.create")
    form = TownHallForm()
    return handle_form(
        form,
        lambda: services.create_townhall(
            db.session, current_user,
            title=form.title.data or "", description=form.description.data or "",
            starts_at=_given(form.starts_at.data), ends_at=_given(form.ends_at.data, "ends_at"),
            livestream_url=form.livestream_url.data,
            allow_anonymous=bool(form.allow_anonymous.data),
            question_max_length=form.question_max_length.data or 300,
            is_public=bool(form.is_public.data),
        ),
        flash_message=_("The town hall is scheduled."),
        success=lambda townhall: redirect(url_for("townhall.show", townhall_id=townhall.id)),
        render=lambda: render_template("townhall/form.html", form=form),
    )


@bp.route("/<int:townhall_id>/edit", methods=["GET", "POST"])
@login_required
def edit(townhall_id: int) -> ResponseReturnValue:
    """Officials correct the title, description, times, livestream and question settings
    until the town hall ends. Open pages show the new values at once (a `townhall` event)."""
    townhall = _load(townhall_id)
    services.check_editable(current_user, townhall)
    form = EditTownHallForm(obj=townhall) if request.method == "GET" else EditTownHallForm()
    return handle_form(
        form,
        lambda: services.update_townhall(
            db.session, current_user, townhall,
            title=form.title.data or "", description=form.description.data or "",
            starts_at=_unless_unchanged(_given(form.starts_at.data), townhall.starts_at),
            ends_at=_unless_unchanged(_given(form.ends_at.data, "ends_at"), townhall.ends_at),
            livestream_url=form.livestream_url.data,
            allow_anonymous=bool(form.allow_anonymous.data),
            question_max_length=form.question_max_length.data or 0,
        ),
        commit=commit_and_emit,
        flash_message=lambda changed: (_("The town hall is updated.") if changed
                                       else _("Nothing was changed.")),
        success=lambda _result: redirect(url_for("townhall.show", townhall_id=townhall.id)),
        render=lambda: render_template("townhall/form.html", form=form, townhall=townhall),
        # Ended meanwhile (409) or no longer an official (403): the error page says so.
        on_error=lambda error: show_on_field(form, error),
    )


def _given(value: datetime | None, field: str = "starts_at") -> datetime:
    """The typed moment (SiteDateTimeField has made it UTC), which the town hall must have."""
    if value is None:
        raise InvalidInput(_("Give a date and time."), field=field)
    return value


def _unless_unchanged(submitted: datetime, stored: datetime) -> datetime:
    """The form shows times to the second and browsers may send them to the minute; a time
    sent back as shown keeps its stored precision, so saving the form as it was changes
    nothing."""
    shown = (stored.replace(microsecond=0), stored.replace(second=0, microsecond=0))
    return stored if submitted in shown else submitted


def _live_context(townhall: TownHall, **extra: object) -> dict[str, object]:
    actor = request_actor()
    # Read before the state: the page is then at least as new as its sequence number.
    seq = services.sequence_number(db.session, townhall)
    questions = services.public_questions(db.session, townhall, _order())
    highlighted = next((q for q in questions if q.id == townhall.highlighted_question_id), None)
    return {
        "townhall": townhall,
        "seq": seq,
        "questions": questions,
        "highlighted": highlighted,
        "mine": services.own_questions(db.session, actor, townhall),
        "upvoted": services.upvoted_ids(db.session, actor, townhall),
        "order": _order(),
        "ask_form": extra.pop("ask_form", None) or AskForm(formdata=None),
        "upvote_form": UpvoteForm(formdata=None),
        "channel_labels": CHANNEL_LABELS,
        "reasons": REJECT_REASONS,
        "explanation_max": services.EXPLANATION_MAX,
        "status_actions": STATUS_ACTIONS[townhall.status],
        # What other domains hold in the town hall (its polls), drawn by their partials.
        "parts": services.page_parts(db.session, actor, townhall),
        **extra,
    }


@bp.route("/<int:townhall_id>")
def show(townhall_id: int) -> str:
    """The live page for residents; a reload shows the same state the socket would."""
    townhall = _load(townhall_id)
    reminded = services.has_reminder(db.session, request_actor(), townhall)
    return render_template("townhall/live.html", **_live_context(townhall, reminded=reminded))


@bp.route("/<int:townhall_id>/remind", methods=["POST"])
@login_required
def remind(townhall_id: int) -> ResponseReturnValue:
    """"Remind me" an hour before the start (`remind=1`), or take it back (`remind=0`)."""
    townhall = _load(townhall_id)
    if not ConfirmForm().validate_on_submit() or request.form.get("remind") not in ("0", "1"):
        abort(400)
    back = safe_next_url(request.form.get("next"),
                         url_for("townhall.show", townhall_id=townhall.id))
    return handle_form(
        None,
        lambda: services.set_reminder(db.session, current_user, townhall,
                                      remind=request.form["remind"] == "1"),
        flash_message=lambda reminded: (
            _("We will remind you an hour before it starts.") if reminded
            else _("You will not be reminded of this town hall.")),
        success=lambda _result: redirect(back),
        render=lambda: redirect(back),
    )


@bp.route("/<int:townhall_id>/questions", methods=["POST"])
@login_required
def ask(townhall_id: int) -> ResponseReturnValue:
    """Ask a question. A first submit whose text looks like public questions shows them
    instead ("Already asked?"), each with its upvote button, and "Ask anyway" sends it."""
    townhall = _load(townhall_id)
    form = AskForm()

    def ask_question() -> None:
        require(current_user, "townhall.ask", townhall)
        retried = services.find_retried_question(db.session, current_user, townhall,
                                                 form.client_id.data or None)
        if retried is None and form.ask_anyway.data != "1":
            hit_limit("LIMIT_SIMILAR", f"user:{current_user.id}")
            services.check_not_already_asked(db.session, current_user, townhall,
                                             form.text.data or "")
        if retried is None:
            hit_limit("LIMIT_ASK", f"user:{current_user.id}")
        services.ask_question(db.session, current_user, townhall,
                              text=form.text.data or "",
                              anonymous=bool(form.anonymous.data),
                              client_id=form.client_id.data or None)

    def render(**extra: object) -> str:
        return render_template(
            "townhall/live.html",
            **_live_context(townhall, ask_form=form,
                            reminded=services.has_reminder(db.session, current_user, townhall),
                            **extra))

    def offer_similar(error: DomainError) -> ResponseReturnValue | None:
        if isinstance(error, services.LooksAlreadyAsked):
            return render(similar=error.questions)
        show_domain_error(form, error)
        return None

    return handle_form(
        form, ask_question, commit=commit_and_emit,
        flash_message=_("Thank you. Your question is awaiting moderation."),
        success=lambda _result: redirect(url_for("townhall.show", townhall_id=townhall.id)),
        render=render, on_error=offer_similar,
    )


@bp.route("/<int:townhall_id>/questions/<int:question_id>/upvote", methods=["POST"])
@login_required
def upvote(townhall_id: int, question_id: int) -> Response:
    townhall = _load(townhall_id)
    form = UpvoteForm()
    if not form.validate_on_submit() or form.value.data not in ("true", "false"):
        abort(400)
    question = services.get_question(db.session, question_id, lock=True)
    if question.townhall_id != townhall.id:
        abort(404)
    hit_limit("LIMIT_UPVOTE", f"user:{current_user.id}")
    services.set_upvote(db.session, current_user, question, form.value.data == "true")
    commit_and_emit(db.session)
    return redirect(url_for("townhall.show", townhall_id=townhall.id, _anchor=f"q{question.id}"))


def _console_context(townhall: TownHall, **extra: object) -> dict[str, object]:
    context = _live_context(townhall)
    queue = services.moderation_queue(db.session, current_user, townhall)
    open_questions = [q for q in context["questions"]  # type: ignore[attr-defined]
                      if q.status.value == "approved"]
    context.update(
        queue=queue,
        duplicates=services.possible_duplicates(db.session, current_user, townhall, queue),
        merge_targets=services.merge_targets(db.session, current_user, townhall,
                                             [*queue, *open_questions]),
        ledger=services.ledger(db.session, townhall),
        moderate_form=ModerateForm(formdata=None),
        enter_form=extra.pop("enter_form", None) or EnterQuestionForm(formdata=None),
        head_count_form=extra.pop("head_count_form", None) or HeadCountForm(
            formdata=None, count=townhall.in_room_count),
        status_form=StatusForm(formdata=None),
        **extra,
    )
    return context


@bp.route("/<int:townhall_id>/moderate")
@login_required
def console(townhall_id: int) -> str:
    """The moderator console; `?part=live` returns only its changing part, for the script."""
    townhall = _load(townhall_id)
    require(current_user, "townhall.moderate", townhall)
    template = ("townhall/_console_live.html" if request.args.get("part") == "live"
                else "townhall/moderate.html")
    return render_template(template, **_console_context(townhall))


@bp.route("/<int:townhall_id>/questions/<int:question_id>/moderate", methods=["POST"])
@login_required
def moderate(townhall_id: int, question_id: int) -> ResponseReturnValue:
    townhall = _load(townhall_id)
    require(current_user, "townhall.moderate", townhall)
    form = ModerateForm()

    def back_to_console(_result: object = None) -> Response:
        return redirect(url_for("townhall.console", townhall_id=townhall.id))

    if not form.validate_on_submit():
        flash(_("That action was not understood; please try again."), "error")
        return back_to_console()
    if form.action.data == "reject" and not form.confirm.data:
        flash(_("Nothing was rejected: tick “Yes, reject this question” to confirm."), "error")
        return back_to_console()

    def moderate_question() -> None:
        question = services.get_question(db.session, question_id, lock=True)
        if question.townhall_id != townhall.id:
            abort(404)
        into = (services.get_question(db.session, form.into_id.data, lock=True)
                if form.action.data == "merge" and form.into_id.data else None)
        services.moderate_question(db.session, current_user, question, form.action.data,
                                   reason=form.reason.data or None, into=into,
                                   answer=form.answer.data or None,
                                   explanation=form.explanation.data or None)

    # Validated above, so no form here: a refusal is flashed on the console, never on a field.
    return handle_form(
        None, moderate_question, commit=commit_and_emit,
        # Only on success, when the action is one of MODERATION_ACTIONS.
        flash_message=lambda _result: _(
            'Question %(question_id)s: %(done)s.', question_id=question_id,
            done=_(services.MODERATION_DONE[form.action.data])),
        success=back_to_console, render=back_to_console,
    )


@bp.route("/<int:townhall_id>/enter", methods=["POST"])
@login_required
def enter(townhall_id: int) -> ResponseReturnValue:
    townhall = _load(townhall_id)
    require(current_user, "townhall.enter_question", townhall)
    form = EnterQuestionForm()
    return handle_form(
        form,
        lambda: services.enter_question(db.session, current_user, townhall,
                                        text=form.text.data or "", channel=form.channel.data,
                                        name=form.name.data or None),
        commit=commit_and_emit,
        flash_message=_("The question is entered and public."),
        success=lambda _result: redirect(url_for("townhall.console", townhall_id=townhall.id)),
        render=lambda: render_template("townhall/moderate.html",
                                       **_console_context(townhall, enter_form=form)),
    )


@bp.route("/<int:townhall_id>/head-count", methods=["POST"])
@login_required
def head_count(townhall_id: int) -> ResponseReturnValue:
    """A moderator enters how many people are in the room (the console's plain form)."""
    townhall = _load(townhall_id)
    require(current_user, "townhall.moderate", townhall)
    form = HeadCountForm()
    return handle_form(
        form,
        lambda: services.set_head_count(db.session, current_user, townhall, form.count.data,
                                        correction=bool(form.correction.data)),
        commit=commit_and_emit,
        flash_message=lambda counted: _("Head count entered: %(count)s in the room.",
                                        count=counted.in_room_count),
        success=lambda _result: redirect(url_for("townhall.console", townhall_id=townhall.id)),
        render=lambda: render_template("townhall/moderate.html",
                                       **_console_context(townhall, head_count_form=form)),
    )


@bp.route("/<int:townhall_id>/status", methods=["POST"])
@login_required
def change_status(townhall_id: int) -> ResponseReturnValue:
    """Start, end, cancel or reopen. Ending and cancelling are done only from the page that
    asks "are you sure?" (this view's answer to the first click), so no script is needed."""
    townhall = _load(townhall_id)
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400)
    target = "townhall.console" if can(current_user, "townhall.moderate") else "townhall.show"
    back = url_for(target, townhall_id=townhall.id)
    if form.status.data == "ended" and form.confirmed.data != "yes":
        require(current_user, "townhall.set_status", townhall)
        return render_template("townhall/confirm_status.html", townhall=townhall,
                               form=form, back=back)
    return handle_form(
        None, lambda: services.set_status(db.session, current_user, townhall,
                                          form.status.data or ""),
        commit=commit_and_emit,
        flash_message=lambda changed: _('The town hall is now %(value)s.',
                                        value=changed.status.value),
        success=lambda _result: redirect(back), render=lambda: redirect(back),
        raise_for=(400, 403, 409),
    )


@bp.route("/<int:townhall_id>/projector")
def projector(townhall_id: int) -> str:
    """Large type for the room's screen: the question being answered and the top ones."""
    townhall = _load(townhall_id)
    template = ("townhall/_projector_live.html" if request.args.get("part") == "live"
                else "townhall/projector.html")
    context = _live_context(townhall)
    context["top"] = [q for q in context["questions"]  # type: ignore[attr-defined]
                      if q.status.value == "approved"
                      and q.id != townhall.highlighted_question_id][:5]
    return render_template(template, **context)


@bp.route("/<int:townhall_id>/transcript")
def transcript(townhall_id: int) -> str:
    townhall = _load(townhall_id)
    return render_template("townhall/transcript.html", townhall=townhall,
                           questions=services.transcript(db.session, townhall),
                           ledger=services.ledger(db.session, townhall),
                           reasons=REJECT_REASONS, channel_labels=CHANNEL_LABELS)


@bp.app_template_global("join_link")
def join_link(townhall: TownHall) -> dict[str, object]:
    """What `townhall/_join_link.html` shows: the short link (and where a line may break in
    it: before its `/j/<code>`), its code and its QR code."""
    link = services.join_link(townhall)
    site, _slash_j, _code = link.rpartition("/j/")
    return {"url": link, "site": site, "path": link.removeprefix(site), "code": townhall.join_code,
            "qr": join_qr_svg(link, _("QR code of the join link %(link)s", link=link))}


@join_bp.route("/j")
def join_form() -> Response:
    """"Have a code?": the typed code goes to its short link (a plain GET form); an unknown
    one gets the 404 page at once."""
    townhall = services.townhall_by_join_code(db.session, request.args.get("code", ""))
    return redirect(url_for("join.join_townhall", code=townhall.join_code))


@join_bp.route("/j/<code>")
def join_townhall(code: str) -> Response:
    """The short link shown in the room: to the live page, through sign-in or registration
    (and back) for a town hall that is only for accounts. Any case, spaces and dashes."""
    townhall = services.townhall_by_join_code(db.session, code)
    live = url_for("townhall.show", townhall_id=townhall.id)
    actor = request_actor()
    if actor is None and not can(None, "townhall.view", townhall):
        flash(_("This town hall is for residents with an account. Sign in, or create an "
                "account, and you will be taken to it."), "info")
        return redirect(url_for("accounts.sign_in", next=live))
    require(actor, "townhall.view", townhall)
    return redirect(live)


def _calendar_response(content: bytes, filename: str | None = None) -> Response:
    response = Response(content, content_type="text/calendar; charset=utf-8")
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@calendar_bp.route("/townhalls/<int:townhall_id>.ics")
def calendar(townhall_id: int) -> Response:
    """One town hall for a calendar, for whoever may see it (private ones need an account)."""
    townhall = _load(townhall_id)
    content = services.townhall_ics(db.session, request_actor(), townhall, now=utcnow())
    return _calendar_response(content, f"townhall-{townhall.id}.ics")


@calendar_bp.route("/townhalls.ics")
def calendar_feed() -> Response:
    """Upcoming public town halls, for a calendar to subscribe to."""
    return _calendar_response(services.public_calendar(db.session, now=utcnow()))
