"""Account pages: register, sign in and out, and what account holders do for themselves."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from participation.accounts import services
from participation.accounts.forms import (
    ChangePasswordForm,
    DeleteAccountForm,
    DisplayNameForm,
    RegisterForm,
    SignInForm,
)
from participation.accounts.models import User
from participation.errors import InvalidInput
from participation.extensions import db, limiter
from participation.forms import ConfirmForm, handle_form
from participation.i18n import N_
from participation.web import configured_limit, safe_next_url, signed_in_account

bp = Blueprint("accounts", __name__)

REGISTERED_MESSAGE = (
    N_("Thank you. If this email address was new to us, your account is ready: sign in below. "
       "If you already had an account, sign in with your existing password.")
)
SIGN_IN_FAILED = "That email and password do not match an active account."


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(configured_limit("LIMIT_REGISTER"), methods=["POST"])
def register() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = RegisterForm()
    return handle_form(
        form,
        lambda: services.register_user(
            db.session,
            email=form.email.data or "",
            display_name=form.display_name.data or "",
            password=form.password.data or "",
        ),
        flash_message=_(REGISTERED_MESSAGE),
        success=lambda _result: redirect(url_for("accounts.sign_in")),
        render=lambda: render_template("accounts/register.html", form=form),
    )


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(configured_limit("LIMIT_SIGN_IN"), methods=["POST"])
def sign_in() -> ResponseReturnValue:
    next_url = safe_next_url(request.values.get("next"), url_for("home.index"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = SignInForm()

    def authenticate() -> User:
        user = services.authenticate(
            db.session, email=form.email.data or "", password=form.password.data or ""
        )
        if user is None:
            raise InvalidInput(SIGN_IN_FAILED, field="password")
        return user

    def signed_in(user: User) -> Response:
        login_user(user, remember=bool(form.remember.data))
        return redirect(next_url)

    return handle_form(
        form, authenticate,
        flash_message=lambda user: _('Welcome back, %(display_name)s.',
                                     display_name=user.display_name),
        success=signed_in,
        render=lambda: render_template("accounts/login.html", form=form, next_url=next_url),
    )


@bp.route("/logout", methods=["POST"])
def sign_out() -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        # Flask-Login loaded the account from this session already: no need to read it again.
        services.end_all_sessions(db.session, signed_in_account())
        db.session.commit()
    logout_user()
    flash(_("You are signed out on every device."), "success")
    return redirect(url_for("home.index"))


@bp.route("/account")
@login_required
def account() -> str:
    return render_template(
        "accounts/account.html",
        name_form=DisplayNameForm(display_name=current_user.display_name),
        password_form=ChangePasswordForm(),
        delete_form=DeleteAccountForm(),
    )


def _account_page_with(**forms: object) -> str:
    defaults = {
        "name_form": DisplayNameForm(formdata=None, display_name=current_user.display_name),
        "password_form": ChangePasswordForm(formdata=None),
        "delete_form": DeleteAccountForm(formdata=None),
    }
    defaults.update(forms)
    return render_template("accounts/account.html", **defaults)


@bp.route("/account/name", methods=["POST"])
@login_required
def change_name() -> ResponseReturnValue:
    form = DisplayNameForm()
    return handle_form(
        form,
        lambda: services.change_display_name(
            db.session, signed_in_account(), display_name=form.display_name.data or ""
        ),
        flash_message=_("Your name is updated."),
        success=lambda _result: redirect(url_for("accounts.account")),
        render=lambda: _account_page_with(name_form=form),
    )


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()

    def signed_in_again(_result: None) -> Response:
        # The token changed: sign this browser in again with the new one, others stay out.
        login_user(signed_in_account())
        return redirect(url_for("accounts.account"))

    return handle_form(
        form,
        lambda: services.change_password(
            db.session, signed_in_account(),
            current=form.current_password.data or "", new=form.new_password.data or "",
        ),
        flash_message=_("Your password is changed. Every other device has been signed out."),
        success=signed_in_again,
        render=lambda: _account_page_with(password_form=form),
    )


@bp.route("/account/delete", methods=["POST"])
@login_required
def delete_account() -> ResponseReturnValue:
    form = DeleteAccountForm()

    def signed_out(_result: None) -> Response:
        logout_user()
        return redirect(url_for("home.index"))

    return handle_form(
        form,
        lambda: services.delete_account(db.session, signed_in_account(),
                                        password=form.password.data or ""),
        # A function: written after the sign-out, in the language a visitor gets.
        flash_message=lambda _result: _(
            "Your account is deleted. What you posted now shows as a former participant's."),
        success=signed_out,
        render=lambda: _account_page_with(delete_form=form),
    )


@bp.route("/account/data.json")
@login_required
def download_data() -> Response:
    data = services.export_personal_data(db.session, signed_in_account())
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return Response(
        body, mimetype="application/json",
        headers={"Content-Disposition": "attachment; filename=participation-my-data.json",
                 "Cache-Control": "no-store"},
    )
