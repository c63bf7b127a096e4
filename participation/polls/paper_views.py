"""The poll officer's entry form: ballots taken on paper, by phone or in person, entered from the
poll's page or the town hall's console. Works without JavaScript."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from participation.errors import DomainError
from participation.extensions import db
from participation.forms import apply_domain_error, handle_form
from participation.polls import paper, services, turnout
from participation.polls.events import schedule_tally
from participation.polls.models import Channel, Poll
from participation.polls.paper_forms import PaperBallotForm
from participation.polls.turnout import Turnout
from participation.polls.views import _ballot_from_form, _typed_in_form
from participation.realtime.outbox import commit_and_emit
from participation.roll.services import parse_identity
from participation.security.permissions import require
from participation.web import request_actor, safe_next_url

bp = Blueprint("poll_paper", __name__)


def roll_key() -> bytes | None:
    """The roll key from the settings (bytes, or text taken as UTF-8), or None."""
    key = current_app.config.get("ROLL_KEY")
    if isinstance(key, str):
        return key.encode("utf-8")
    return key or None


def forget_identity(form: PaperBallotForm) -> None:
    """Never show a typed identity again: the officer types it anew for the next try."""
    for name in ("document_id", "birth_date", "postcode"):
        field = getattr(form, name)
        field.data = ""
        field.raw_data = []


@bp.route("/polls/<int:poll_id>/paper", methods=["GET", "POST"])
def enter(poll_id: int) -> ResponseReturnValue:
    """Enter a ballot taken off line (poll officers), then the form again for the next voter,
    with the receipt code to hand over."""
    actor = request_actor()
    require(actor, "poll.enter_ballot")
    poll = services.get_poll(db.session, actor, poll_id)
    form = PaperBallotForm()
    typed = _typed_in_form(poll) if request.method == "POST" else {}
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        # The officer at the phone line keeps the channel from one entry to the next.
        if request.args.get("channel") in {c.value for c in paper.ENTERED_CHANNELS}:
            form.channel.data = request.args["channel"]
    back = safe_next_url(form.next.data, "")

    def carry_out() -> paper.EnteredBallot:
        identity = None
        if paper.needs_identity(poll):
            # A malformed part is named beside its field (never repeated); a well-formed
            # identity that matches nobody gets one message for all three.
            identity = parse_identity(form.document_id.data or "", form.birth_date.data or "",
                                      form.postcode.data or "")
        return paper.enter_ballot(db.session, actor, poll.id, _ballot_from_form(poll, typed),
                                  channel=form.channel.data, identity=identity,
                                  roll_key=roll_key())

    def entered(result: paper.EnteredBallot) -> Response:
        if result.push_tally:
            schedule_tally(current_app._get_current_object(), poll.id)  # type: ignore[attr-defined]
        return redirect(url_for("poll_paper.enter", poll_id=poll.id, next=back or None,
                                channel=result.ballot.channel.value))

    def receipt_message(result: paper.EnteredBallot) -> str:
        return _("The ballot is counted (channel: %(channel)s). Hand the voter this receipt "
                 "code: %(receipt)s.", channel=_(paper.CHANNEL_LABELS[result.ballot.channel]),
                 receipt=result.receipt)

    refusals: list[str] = []

    def refused(error: DomainError) -> None:
        """A refusal about a field of the form goes beside it; any other above the ballot."""
        if not apply_domain_error(form, error):
            refusals.append(error.message)

    def page() -> str:
        forget_identity(form)
        return render_template("polls/paper.html", poll=poll, form=form, typed=typed,
                               needs_identity=paper.needs_identity(poll),
                               is_open=paper.may_enter_ballots(actor, poll), back=back,
                               error=refusals[0] if refusals else None)

    return handle_form(form, carry_out, commit=commit_and_emit, success=entered,
                       flash_message=receipt_message, render=page, on_error=refused,
                       raise_for=(401,))


@bp.app_template_global("poll_turnout")
def poll_turnout_global(poll: Poll) -> Turnout:
    """The poll's ballots by channel, electorate and turnout, for `polls/_paper.html`."""
    return turnout.poll_turnout(db.session, poll)


@bp.app_template_global("may_enter_ballots")
def may_enter_ballots_global(poll: Poll) -> bool:
    return paper.may_enter_ballots(request_actor(), poll)


@bp.app_template_global("channel_label")
def channel_label(channel: str) -> str:
    """A channel's name in English, for the template to translate."""
    return paper.CHANNEL_LABELS[Channel(channel)]
