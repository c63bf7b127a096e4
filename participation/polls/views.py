"""Poll pages: the list, a poll with its vote form and results, receipts, controls and exports.

Voting works with a plain form; in a live town hall the page also votes over the socket.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import escape
from wtforms.fields.choices import SelectChoice

from participation.db import utcnow
from participation.errors import InvalidInput
from participation.extensions import db, limiter
from participation.feeds import FEED_SIZE, FeedEntry, atom_response
from participation.forms import ConfirmForm, handle_form, look_up
from participation.i18n import N_
from participation.mail.services import absolute_url
from participation.polls import services
from participation.polls.counting import TIE_BREAK_RULE
from participation.polls.events import schedule_tally, tally_wanted
from participation.polls.forms import PollForm, ReceiptForm
from participation.polls.models import Poll, PollKind
from participation.realtime.outbox import commit_and_emit
from participation.security.permissions import require
from participation.web import (
    actor_key,
    configured_limit,
    page_arguments,
    request_actor,
    safe_next_url,
)

bp = Blueprint("polls", __name__)


@bp.route("/polls")
def index() -> str:
    page, per_page = page_arguments()
    polls, total = services.list_polls(db.session, request_actor(), page=page, per_page=per_page)
    return render_template("polls/index.html", polls=polls, total=total, page=page,
                           per_page=per_page, now=utcnow(), who_may_vote=services.who_may_vote)


@bp.route("/polls/feed.atom")
def feed() -> Response:
    """Polls a visitor may see, as they open and as they close with their result (English)."""
    entries = []
    for item in services.feed_polls(db.session, now=utcnow(), limit=FEED_SIZE):
        poll = item.poll
        if not item.closed:
            title, said = f"Open: {poll.question}", "Open for voting."
        elif item.results is None:
            title, said = f"Closed: {poll.question}", "Closed; the results are not public yet."
        else:
            leaders = services.result_leaders(poll, item.results)
            outcome = " / ".join(leaders) if leaders else "no option received a vote"
            title = f"Closed: {poll.question} (result: {outcome})"
            ballots = item.results["ballots"]
            said = f"Closed. Result: {outcome}; {ballots} ballot{'' if ballots == 1 else 's'} cast."
        entries.append(FeedEntry(
            link=absolute_url("polls.show", poll_id=poll.id), title=title,
            updated=item.changed_at, published=poll.opens_at,
            # The description is HTML sanitized when it was stored.
            content=f"<p>{escape(said)}</p>{poll.description_html}"))
    return atom_response(title="polls", subtitle="Polls as they open, and their results.",
                         self_url=absolute_url("polls.feed"),
                         page_url=absolute_url("polls.index"), entries=entries)


def _parse_parent(value: str) -> tuple[int | None, int | None]:
    kind, _, raw = (value or "").partition(":")
    if not raw.isdigit() or kind not in ("townhall", "topic"):
        raise InvalidInput(_("Choose a town hall or forum topic."), field="parent")
    return (int(raw), None) if kind == "townhall" else (None, int(raw))


@bp.route("/polls/new", methods=["GET", "POST"])
def new() -> ResponseReturnValue:
    require(request_actor(), "poll.create")
    form = PollForm()
    form.parent.choices = [SelectChoice(value, label)
                           for value, label in services.poll_places(db.session, request_actor())]
    form.eligible_districts.choices = [SelectChoice(district, district)
                                       for district in services.roll_districts(db.session)]
    if request.method == "GET":
        preset = request.args.get("parent", "")
        if any(choice.value == preset for choice in form.parent.choices):
            form.parent.data = preset

    def create() -> Poll:
        townhall_id, topic_id = _parse_parent(form.parent.data or "")
        return services.create_poll(
            db.session, request_actor(),
            question=form.question.data or "",
            description=form.description.data or "",
            kind=form.kind.data or "",
            options=(form.options.data or "").splitlines(),
            max_choices=form.max_choices.data,
            results_mode=form.results_mode.data or "",
            ballot_secrecy=form.ballot_secrecy.data or None,
            eligibility=form.eligibility.data or "",
            eligible_districts=list(form.eligible_districts.data or []),
            min_age=form.min_age.data,
            opens_at=utcnow() if form.open_now.data else form.opens_at.data,
            closes_at=form.closes_at.data,
            townhall_id=townhall_id, topic_id=topic_id,
        )

    return handle_form(
        form, create, commit=commit_and_emit,
        flash_message=_("The poll is created."),
        success=lambda poll: redirect(url_for("polls.show", poll_id=poll.id)),
        render=lambda: render_template("polls/new.html", form=form),
    )


def _typed_in_form(poll: Poll) -> dict[str, str]:
    """What the plain form sent, by option id: a rank, or "checked" (shown again on error)."""
    if poll.kind is PollKind.RANKED:
        return {str(option.id): request.form.get(f"rank-{option.id}", "").strip()
                for option in poll.options}
    return dict.fromkeys(request.form.getlist("choice"), "checked")


def _ballot_from_form(poll: Poll, typed: dict[str, str]) -> list[Any]:
    """The ballot the plain form describes: option ids, in order of preference when ranked."""
    if poll.kind is not PollKind.RANKED:
        return list(typed)
    ranks: dict[int, int] = {}
    for option_id, value in typed.items():
        if not value:
            continue
        if not value.isdigit() or not 1 <= int(value) <= len(poll.options):
            raise InvalidInput(_("Give each rank as a number from the list."), field="choices")
        ranks[int(option_id)] = int(value)
    if len(set(ranks.values())) != len(ranks):
        raise InvalidInput(_("Give each rank to one option only."), field="choices")
    return sorted(ranks, key=lambda option_id: ranks[option_id])


def _render_poll(poll: Poll, *, status: int = 200, error: str | None = None,
                 typed: dict[str, str] | None = None) -> tuple[str, int]:
    now = utcnow()
    actor = request_actor()
    ballot = services.ballot_of(db.session, actor, poll)
    visible = services.results_visible(poll, now)
    results = services.count_poll(db.session, poll) if visible else None
    if typed is None and ballot is not None:
        if poll.kind is PollKind.RANKED:
            typed = {str(choice): str(rank) for rank, choice in enumerate(ballot.choices, 1)}
        else:
            typed = {str(choice): "checked" for choice in ballot.choices}
    return render_template(
        "polls/show.html", poll=poll, now=now, status_name=poll.status(now), ballot=ballot,
        results=results, results_notice=services.results_notice(poll, now),
        labels={option.id: option.label for option in poll.options},
        options_data=[{"id": option.id, "label": option.label} for option in poll.options],
        typed=typed or {}, error=error, form=ConfirmForm(), tie_break_rule=TIE_BREAK_RULE,
        receipt=services.format_receipt(ballot.receipt) if ballot else None,
        kind_label=services.KIND_LABELS[poll.kind],
        secrecy_name=services.SECRECY_NAMES[poll.ballot_secrecy],
        receipt_meaning=services.RECEIPT_MEANINGS[poll.ballot_secrecy],
        digest=(services.published_digest(db.session, poll)
                if visible and poll.is_closed(now) else None),
        live=visible and poll.townhall_id is not None and poll.is_open(now),
        who_may_vote=services.who_may_vote(poll),
        refusal=services.eligibility_refusal(db.session, actor, poll, now),
        verify_url=_verify_url(),
    ), status


def _verify_url() -> str:
    """Where a resident verifies their account against the roll: the roll's own page once it
    exists, else the account page."""
    if "roll.verify" in current_app.view_functions:
        return url_for("roll.verify", next=request.path)
    return url_for("accounts.account")


@bp.route("/polls/<int:poll_id>", methods=["GET"])
def show(poll_id: int) -> tuple[str, int]:
    poll = services.get_poll(db.session, request_actor(), poll_id)
    return _render_poll(poll)


class _Cast(NamedTuple):
    """A ballot just cast, as read before the commit: whether it replaced one, its receipt code,
    and whether the town hall's room gets a new tally."""

    replaced: bool
    receipt: str
    push: bool


@bp.route("/polls/<int:poll_id>", methods=["POST"])
@limiter.limit(configured_limit("LIMIT_VOTE"), methods=["POST"], key_func=actor_key)
def vote(poll_id: int) -> ResponseReturnValue:
    """The plain-form vote: works without JavaScript."""
    poll = services.get_poll(db.session, request_actor(), poll_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    typed = _typed_in_form(poll)

    def cast() -> _Cast:
        choices = _ballot_from_form(poll, typed)
        result = services.cast_ballot(db.session, request_actor(), poll.id, choices)
        return _Cast(result.replaced, services.format_receipt(result.ballot.receipt),
                     tally_wanted(poll))

    def counted(ballot: _Cast) -> Response:
        if ballot.push:
            _announce_tally(poll_id)
        # The town hall's live page votes with this form too, and is where the voter goes back.
        back = safe_next_url(request.form.get("next"), "")
        if back:
            return redirect(f"{back}#poll-{poll.id}")
        return redirect(url_for("polls.show", poll_id=poll.id) + "#your-ballot")

    def receipt_message(ballot: _Cast) -> str:
        done = _("Your ballot is changed.") if ballot.replaced else _("Your vote is counted.")
        return done + " " + _("Your receipt code is %(receipt)s; keep it to check your ballot "
                              "is in the count.", receipt=ballot.receipt)

    return handle_form(
        None, cast, flash_message=receipt_message, success=counted,
        # A 403 (an unconfirmed address) shows the poll page again, which offers the link.
        raise_for=(401, 404),
        on_error=lambda error: _render_poll(poll, status=error.status, error=error.message,
                                            typed=typed),
    )


def _announce_tally(poll_id: int) -> None:
    schedule_tally(current_app._get_current_object(), poll_id)  # type: ignore[attr-defined]


CONTROL_MESSAGES = {
    "open": N_("The poll is open for voting."),
    "close": N_("The poll is closed."),
    "release": N_("The results are public."),
}


def _control(poll_id: int, action: str) -> ResponseReturnValue:
    poll = services.get_poll(db.session, request_actor(), poll_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    operation = {"open": services.open_poll, "close": services.close_poll,
                 "release": services.release_results}[action]
    message = CONTROL_MESSAGES[action]

    def carry_out() -> bool:
        operation(db.session, request_actor(), poll)
        return tally_wanted(poll)

    def done(push: bool) -> Response:
        if push:
            _announce_tally(poll_id)
        return redirect(url_for("polls.show", poll_id=poll_id))

    return handle_form(
        None, carry_out, commit=commit_and_emit, flash_message=_(message), success=done,
        render=lambda: redirect(url_for("polls.show", poll_id=poll_id)),
        raise_for=(401, 403),
    )


@bp.route("/polls/<int:poll_id>/open", methods=["POST"])
def open_now(poll_id: int) -> ResponseReturnValue:
    return _control(poll_id, "open")


@bp.route("/polls/<int:poll_id>/close", methods=["POST"])
def close_now(poll_id: int) -> ResponseReturnValue:
    return _control(poll_id, "close")


@bp.route("/polls/<int:poll_id>/release", methods=["POST"])
def release(poll_id: int) -> ResponseReturnValue:
    return _control(poll_id, "release")


@bp.route("/polls/<int:poll_id>/control", methods=["POST"])
def control(poll_id: int) -> ResponseReturnValue:
    """The town hall console's plain forms: `action` open, close or release, by the same rules
    as the socket's `poll_control`; back to the console (or a safe `next`) either way."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    action = request.form.get("action", "")
    poll = services.get_poll(db.session, request_actor(), poll_id)
    back = safe_next_url(request.form.get("next"), url_for(
        "townhall.console", townhall_id=poll.townhall_id) if poll.townhall_id
        else url_for("polls.show", poll_id=poll.id))

    def carry_out() -> bool:
        services.control_townhall_poll(db.session, request_actor(), poll.id, action)
        return tally_wanted(poll)

    def done(push: bool) -> Response:
        if push:
            _announce_tally(poll_id)
        return redirect(back)

    return handle_form(
        None, carry_out, commit=commit_and_emit,
        flash_message=_(CONTROL_MESSAGES[action]) if action in CONTROL_MESSAGES else None,
        success=done, render=lambda: redirect(back), raise_for=(401, 403),
    )


@bp.route("/polls/receipt")
def receipt() -> tuple[str, int]:
    form = ReceiptForm(request.args)
    check, status = look_up(
        form, lambda: services.check_receipt(db.session, request_actor(), form.code.data or ""),
        asked=request.args.get("code") is not None)
    return render_template(
        "polls/receipt.html", form=form, check=check, now=utcnow(),
        secrecy_name=services.SECRECY_NAMES[check.poll.ballot_secrecy] if check else "",
        receipt_meaning=services.RECEIPT_MEANINGS[check.poll.ballot_secrecy] if check else "",
        published=(check is not None and check.poll.is_closed(utcnow())
                   and services.results_visible(check.poll))), status


@bp.route("/polls/<int:poll_id>/ballots.json")
def export_json(poll_id: int) -> Response:
    poll = services.get_poll(db.session, request_actor(), poll_id)
    export = services.export_poll(db.session, request_actor(), poll)
    body = json.dumps(export, ensure_ascii=False, sort_keys=True, indent=1)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="poll-{poll.id}-ballots.json"'})


@bp.route("/polls/<int:poll_id>/ballots.csv")
def export_csv(poll_id: int) -> Response:
    poll = services.get_poll(db.session, request_actor(), poll_id)
    export = services.export_poll(db.session, request_actor(), poll)
    return Response(services.export_csv(export), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="poll-{poll.id}-ballots.csv"'})
