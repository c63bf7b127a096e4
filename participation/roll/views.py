"""The roll's pages: a resident verifies their account, a moderator verifies one in person.

The admin's import page is in participation/admin; both call the roll's services.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.extensions import db, limiter
from participation.forms import handle_form
from participation.roll import services
from participation.roll.forms import DeskVerifyForm, VerifyForm
from participation.security.permissions import require
from participation.web import configured_limit, safe_next_url, signed_in_account

bp = Blueprint("roll", __name__)


def _account_budget() -> str:
    """Flask-Limiter's key for verification attempts by one account, from anywhere."""
    return f"roll-verify:{current_user.id}" if current_user.is_authenticated else "roll-verify"


@bp.app_context_processor
def roll_standing() -> dict[str, Any]:
    """The account page's card asks for the standing only where it is shown."""

    def standing(user: Any = None) -> services.AccountStanding | None:
        """The signed-in account's standing, or `user`'s (the admin's page of an account)."""
        if user is None:
            if not current_user.is_authenticated:
                return None
            user = signed_in_account()
        return services.account_standing(db.session, user)

    return {"roll_account_standing": standing}


def _next_page() -> str:
    """Where a verified resident goes on: the page that sent them (a poll's), or the account."""
    return safe_next_url(request.values.get("next"), url_for("accounts.account"))


def _verify_page(form: VerifyForm) -> str:
    return render_template("roll/verify.html", form=form.blank(), next_url=_next_page(),
                           standing=services.account_standing(db.session, signed_in_account()))


@bp.route("/account/verification", methods=["GET", "POST"])
@login_required
@limiter.limit(configured_limit("LIMIT_ROLL_VERIFY"), methods=["POST"],
               key_func=_account_budget)
@limiter.limit(configured_limit("LIMIT_ROLL_VERIFY_ADDRESS"), methods=["POST"])
def verify() -> ResponseReturnValue:
    """A resident verifies their account against the roll. A failed match is committed (the
    attempt counts) and answered with one message, whichever detail differed."""
    form = VerifyForm()

    def answered(outcome: services.VerificationOutcome) -> ResponseReturnValue:
        if outcome.refusal is not None:
            flash(outcome.refusal.message, "error")
            return _verify_page(form), 400
        flash(_("Your account is verified as a resident on the electoral roll."), "success")
        return redirect(_next_page())

    return handle_form(
        form,
        lambda: services.verify_online(
            db.session, signed_in_account(), key=services.roll_key(current_app.config),
            document_id=form.document_id.data or "", birth_date=form.birth_date.data or "",
            postcode=form.postcode.data or ""),
        success=answered,
        render=lambda: _verify_page(form),
    )


@bp.route("/roll/desk")
@login_required
def desk() -> str:
    """A moderator finds the account of the person in front of them, by name or e-mail."""
    require(current_user, "roll.verify_in_person")
    query = request.args.get("q", "")[:200]
    found = services.find_accounts_for_desk(db.session, signed_in_account(), query)
    return render_template("roll/desk.html", query=query, accounts=found)


def _desk_page(subject: Any, form: DeskVerifyForm) -> str:
    return render_template("roll/desk_verify.html", subject=subject, form=form.blank(),
                           standing=services.account_standing(db.session, subject))


@bp.route("/roll/desk/<int:user_id>", methods=["GET", "POST"])
@login_required
def verify_in_person(user_id: int) -> ResponseReturnValue:
    """The moderator types the identity from the document shown and verifies the account."""
    actor = signed_in_account()
    subject = services.desk_account(db.session, actor, user_id)
    form = DeskVerifyForm()
    return handle_form(
        form,
        lambda: services.verify_in_person(
            db.session, actor, subject, key=services.roll_key(current_app.config),
            document_id=form.document_id.data or "", birth_date=form.birth_date.data or "",
            postcode=form.postcode.data or "", move=bool(form.move.data)),
        flash_message=_("%(name)s is verified in person.", name=subject.display_name),
        success=lambda _verification: redirect(url_for("roll.desk")),
        render=lambda: _desk_page(subject, form),
    )
