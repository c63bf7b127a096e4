"""Public decision pages, the Atom feed, the commitments list and the officials' publish form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal, pgettext
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.db import utcnow
from participation.decisions import services
from participation.decisions.forms import (
    LINK_FIELDS,
    CommitmentUpdateForm,
    FilterForm,
    PublishForm,
    evidence_value,
    parse_evidence_value,
)
from participation.decisions.providers import KIND_LABELS, PROVIDERS, evidence_choices
from participation.errors import DomainError
from participation.extensions import db
from participation.feeds import FEED_SIZE, FeedEntry, atom_response
from participation.forms import found_or_none, handle_form, show_domain_error
from participation.i18n import N_
from participation.mail.services import absolute_url
from participation.security.permissions import can, require
from participation.web import number_argument, page_argument, signed_in_account

bp = Blueprint("decisions", __name__, url_prefix="/decisions")

PER_PAGE = 20


@bp.app_template_global()
def decision_outcome_label(outcome: str) -> str:
    return _(services.OUTCOMES[outcome]) if outcome in services.OUTCOMES else outcome


@bp.app_template_global()
def commitment_state_label(state: str) -> str:
    """Where a commitment stands, in the reader's language ("open" in its masculine form)."""
    if state == "open":
        return pgettext("commitment", "Open")
    label = services.COMMITMENT_STATE_LABELS.get(state)
    return _(label) if label else state


@bp.app_template_global()
def update_status_label(status: str) -> str:
    label = services.UPDATE_STATUSES.get(status)
    return _(label) if label else status


# Names for the machine values a frozen snapshot holds, translated where they are shown.
LEDGER_LABELS = {
    "asked": N_("Questions asked"),
    "approved": N_("Approved"),
    "answered_live": N_("Answered live"),
    "answered_in_writing": N_("Answered in writing"),
    "merged": N_("Merged with a similar question"),
    "rejected": N_("Not accepted"),
    "open": N_("Still open"),
    "median_seconds_to_answer": N_("Median time from question to answer"),
    # Frozen since the head count was added; earlier snapshots do not hold them.
    "online_watchers_peak": N_("Watching online (most at once)"),
    "in_room_attendance": N_("In the room (highest head count)"),
}
QUESTION_OUTCOME_LABELS = {
    "pending": N_("Awaiting moderation"),
    "approved": N_("Not answered"),
    "answered": N_("Answered"),
    "rejected": N_("Not accepted"),
    "merged": N_("Merged"),
}


@bp.app_template_global()
def snapshot_labels() -> dict[str, dict[str, str]]:
    """Untranslated labels for the values in a snapshot, by what they name."""
    from participation.polls.services import KIND_LABELS as POLL_KIND_LABELS
    from participation.townhall.models import CHANNEL_LABELS, REJECT_REASONS

    return {"kinds": KIND_LABELS, "poll_kinds": {str(k): v for k, v in POLL_KIND_LABELS.items()},
            "channels": {str(k): v for k, v in CHANNEL_LABELS.items()},
            "reasons": dict(REJECT_REASONS), "ledger": LEDGER_LABELS,
            "outcomes": QUESTION_OUTCOME_LABELS}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@bp.app_template_global()
def snapshot_channels(snapshot: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """A poll snapshot's ballots by channel, the channels that had any: (channel, untranslated
    label, count). Empty for records frozen before the channels were (no `channels` key)."""
    from participation.polls.paper import CHANNEL_LABELS

    channels = snapshot.get("channels")
    if not isinstance(channels, Mapping):
        return []
    labels = {str(channel): label for channel, label in CHANNEL_LABELS.items()}
    ordered = [*labels, *sorted(str(name) for name in channels if str(name) not in labels)]
    return [(name, labels.get(name, name), number) for name in ordered
            if (number := _count(channels.get(name)))]


@bp.app_template_global()
def snapshot_roll_turnout(snapshot: Mapping[str, Any]) -> dict[str, Any] | None:
    """A verified poll's snapshot: ballots, electorate and turnout (the share written out in
    the snapshot, formatted for the reader's language). None for any other snapshot."""
    voted, electorate = _count(snapshot.get("turnout")), _count(snapshot.get("electorate"))
    try:
        share = Decimal(str(snapshot.get("turnout_percent")))
    except InvalidOperation:
        return None
    if voted is None or electorate is None or not share.is_finite():
        return None
    return {"voted": voted, "electorate": electorate,
            "percent": format_decimal(share, format="#,##0.0")}


@bp.app_template_global()
def evidence_url(kind: str, item_id: int) -> str | None:
    """Where a linked item lives on this site, when that part of the site exists."""
    endpoint, argument = {"poll": ("polls.show", "poll_id"),
                          "townhall": ("townhall.transcript", "townhall_id"),
                          "thread": ("forums.thread", "thread_id")}.get(kind, ("", ""))
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **{argument: item_id})


@bp.app_template_global()
def records_citing_townhall(townhall_id: int) -> list[services.Citation]:
    """For the town hall's transcript (the town hall package does not know this one)."""
    return services.records_citing_townhall(db.session, townhall_id)


@bp.route("")
def index() -> tuple[str, int]:
    form = FilterForm(request.args)
    form.offer(*services.linked_places(db.session, current_user))
    filters = services.RecordFilter()
    status = 200
    if request.args and not form.validate():
        status = 400
    else:
        filters = services.RecordFilter(topic_id=form.topic.data, townhall_id=form.townhall.data,
                                        outcome=form.outcome.data or None,
                                        since=form.since.data, until=form.until.data)
    page = page_argument()
    records, total = services.list_records(db.session, filters, page=page, per_page=PER_PAGE)
    amended = services.amended_seqs(db.session, [record.seq for record in records])
    head = services.chain_head(db.session)
    query = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("decisions/index.html", records=records, total=total, page=page,
                           per_page=PER_PAGE, form=form, amended=amended, head=head,
                           query=query), status


@bp.route("/<int:seq>")
def show(seq: int) -> str:
    record = services.get_record(db.session, seq)
    today = utcnow().date()
    return render_template("decisions/show.html", record=record, content=record.content,
                           commitment_states={c.id: services.commitment_state(c, today)
                                              for c in record.commitments},
                           amendments=services.amendments_of(db.session, record),
                           closures=services.closures_by(db.session, record))


@bp.route("/feed.atom")
def feed() -> Response:
    records, _ = services.list_records(db.session, per_page=FEED_SIZE)
    # The feed declares itself English, so the outcome keeps its English label here.
    entries = [FeedEntry(link=absolute_url("decisions.show", seq=record.seq),
                         title=f"#{record.seq} {record.title} "
                               f"({services.OUTCOMES.get(record.outcome, record.outcome)})",
                         updated=record.published_at, published=record.published_at,
                         author=record.content["published_by"]["name"],
                         content=record.summary_html)
               for record in records]
    return atom_response(title="decision records",
                         subtitle="What was decided, why, and on what evidence.",
                         self_url=absolute_url("decisions.feed"),
                         page_url=absolute_url("decisions.index"), entries=entries)


@bp.route("/commitments")
def commitments() -> str:
    state = request.args.get("state", "") or None
    views = services.list_commitments(db.session, state=state)
    return render_template(
        "decisions/commitments.html", state=state, views=views,
        filters=services.COMMITMENT_FILTERS,
        overdue=[view for view in views if view.state == "overdue"],
        open=[view for view in views if not view.closed and view.state != "overdue"],
        closed=[view for view in views if view.closed],
    )


@bp.route("/<int:seq>/commitments/<int:number>")
def commitment(seq: int, number: int) -> str:
    found = services.get_commitment_by_number(db.session, seq, number)
    form = None
    if can(current_user, "decisions.publish") and not services.is_closed(found):
        form = CommitmentUpdateForm(department=found.record.department)
    return _commitment_page(found, form)


@bp.route("/<int:seq>/commitments/<int:number>/updates", methods=["POST"])
@login_required
def post_update(seq: int, number: int) -> tuple[str, int] | Response:
    require(current_user, "decisions.publish")
    found = services.get_commitment_by_number(db.session, seq, number)
    form = CommitmentUpdateForm()

    def refused(error: DomainError) -> tuple[str, int]:
        show_domain_error(form, error)
        return _commitment_page(found, form), error.status

    return handle_form(
        form,
        lambda: services.post_commitment_update(
            db.session, signed_in_account(), found.id, status=form.status.data or "",
            note=form.note.data or "", percent=form.percent.data,
            department=form.department.data or ""),
        flash_message=lambda update: _("Progress on commitment %(number)s is posted and "
                                       "chained.", number=number),
        success=lambda update: redirect(url_for("decisions.commitment", seq=seq,
                                                number=number)),
        render=lambda: _commitment_page(found, form), on_error=refused,
    )


def _commitment_page(commitment: Any, form: CommitmentUpdateForm | None) -> str:
    closed = services.is_closed(commitment)
    return render_template("decisions/commitment.html", commitment=commitment,
                           record=commitment.record, closed=closed,
                           state=services.commitment_state(commitment, utcnow().date()),
                           form=None if closed else form)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def publish() -> tuple[str, int] | Response:
    require(current_user, "decisions.publish")
    form = PublishForm()
    kinds = list(PROVIDERS)
    if request.method == "GET":
        _prefill(form)
        form.evidence_filter.data = request.args.get("q", "")[:100]
        return _publish_page(form, kinds), 200
    if request.form.get("action") in ("filter", "more"):
        # Narrowing the evidence picker or adding commitment rows only shows the form again.
        if request.form.get("action") == "more":
            form.add_commitment_rows()
        return _publish_page(form, kinds), 200

    def page(prepared: Any = None, link_errors: list[str] | None = None) -> str:
        form.preview_digest.data = prepared.digest if prepared is not None else ""
        return _publish_page(form, kinds, prepared, link_errors)

    def refused(error: DomainError) -> tuple[str, int]:
        prepared = None
        if error.status == 409 and error.field is None:
            # The evidence moved since the preview: show the new one to confirm.
            flash(error.message, "warning")
            prepared = services.prepare_decision(db.session, current_user, form.to_draft(kinds))
            db.session.rollback()
        elif error.field == "links":
            return page(link_errors=[error.message]), error.status
        else:
            show_domain_error(form, error)
        return page(prepared), error.status

    if request.form.get("action") == "publish" and form.preview_digest.data:
        return handle_form(
            form,
            lambda: services.publish_decision(db.session, current_user, form.to_draft(kinds),
                                              expected_digest=form.preview_digest.data),
            flash_message=lambda record: _("Record %(seq)s is published and chained.",
                                           seq=record.seq),
            success=lambda record: redirect(url_for("decisions.show", seq=record.seq)),
            render=page, on_error=refused,
        )
    return handle_form(
        form, lambda: services.prepare_decision(db.session, current_user, form.to_draft(kinds)),
        commit=_discard, success=page, render=page, on_error=refused,
    )


def _discard(session: Any) -> None:
    """A preview is only shown: nothing it flushed is kept."""
    session.rollback()


def _prefill(form: PublishForm) -> None:
    amends = number_argument("amends")
    closes = number_argument("closes")
    if amends:
        form.fill_from(services.draft_from_record(services.get_record(db.session, amends)))
        form.summary.data = ""
    if closes:
        commitment = services.get_commitment(db.session, closes)
        form.closes.data = str(commitment.id)
        form.title.data = _("Response: %(promise)s",
                            promise=commitment.promise)[:services.TITLE_MAX]


def _publish_page(form: PublishForm, kinds: list[str], prepared: Any = None,
                  link_errors: list[str] | None = None) -> str:
    preview_json = None
    if prepared is not None:
        preview_json = json.dumps(prepared.content, indent=2, sort_keys=True, ensure_ascii=False)
    known = evidence_choices(db.session, search=form.evidence_filter.data or "")
    chosen = set(form.evidence.data or [])
    groups = []
    for kind, label, hint in LINK_FIELDS:
        if kind not in kinds:
            continue
        offered = [(evidence_value(kind, item_id), item_id, title)
                   for item_id, title in known.get(kind, [])]
        # What was ticked stays on the form even when the filter hides it.
        shown = {value for value, _id, _title in offered}
        kept = [(value, link[1], None) for value in sorted(chosen - shown)
                if (link := parse_evidence_value(value)) is not None and link[0] == kind]
        groups.append((kind, _(label), _(hint), kept + offered))
    amending = None
    if form.amends.data:
        amending = found_or_none(lambda: services.get_record(db.session, form.amends.data))
    return render_template("decisions/publish.html", form=form, prepared=prepared,
                           preview=prepared.content if prepared else None,
                           preview_json=preview_json, evidence_groups=groups, chosen=chosen,
                           link_errors=link_errors or [], kind_labels=KIND_LABELS,
                           amending=amending)
