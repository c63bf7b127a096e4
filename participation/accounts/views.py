"""Account pages: register, sign in and out, and what account holders do for themselves."""

from __future__ import annotations

import hashlib
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
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from participation.accounts import services
from participation.accounts.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    DisplayNameForm,
    ForgotPasswordForm,
    RegisterForm,
    ResetPasswordForm,
    SignInForm,
)
from participation.accounts.models import AccountToken, TokenPurpose, User
from participation.errors import Conflict, DomainError, InvalidInput
from participation.extensions import db, limiter
from participation.forms import ConfirmForm, handle_form
from participation.i18n import N_
from participation.web import (
    configured_limit,
    request_actor,
    safe_next_url,
    signed_in_account,
)

bp = Blueprint("accounts", __name__)

REGISTERED_MESSAGE = (
    N_("Thank you. If this email address was new to us, your account is ready: sign in below, "
       "and follow the link we have mailed you to confirm the address. If you already had an "
       "account, sign in with your existing password.")
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
        lambda: services.sign_up(
            db.session,
            email=form.email.data or "",
            display_name=form.display_name.data or "",
            password=form.password.data or "",
            locale=str(get_locale() or ""),
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
    return _account_page_with()


def _account_page_with(**forms: object) -> str:
    defaults = {
        "name_form": DisplayNameForm(formdata=None, display_name=current_user.display_name),
        "password_form": ChangePasswordForm(formdata=None),
        "email_form": ChangeEmailForm(formdata=None, prefix="change"),
        "delete_form": DeleteAccountForm(formdata=None),
        "confirm_form": ConfirmForm(formdata=None),
    }
    defaults.update(forms)
    return render_template(
        "accounts/account.html",
        pending_email=services.pending_email(db.session, signed_in_account()), **defaults)


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


@bp.route("/account/email", methods=["POST"])
@login_required
def change_email() -> ResponseReturnValue:
    form = ChangeEmailForm(prefix="change")
    return handle_form(
        form,
        lambda: services.request_email_change(
            db.session, signed_in_account(), new_email=form.email.data or "",
            password=form.password.data or ""),
        flash_message=lambda _result: _(
            "We have mailed a link to %(email)s. Your address changes once you follow it; until "
            "then we keep using %(current)s.", email=(form.email.data or "").strip(),
            current=current_user.email),
        success=lambda _result: redirect(url_for("accounts.account")),
        render=lambda: _account_page_with(email_form=form),
    )


@bp.route("/account/confirm/resend", methods=["POST"])
@login_required
def resend_confirmation() -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    back = redirect(safe_next_url(request.form.get("next"), url_for("accounts.account")))
    return handle_form(
        None, lambda: services.resend_email_confirmation(db.session, signed_in_account()),
        flash_message=lambda _result: _(
            "We have mailed a new link to %(email)s. It works for 48 hours.",
            email=current_user.email),
        success=lambda _result: back, render=lambda: back,
    )


def _link_refused(error: DomainError, purpose: str) -> tuple[str, int]:
    """The page for a link that cannot be used; nothing was changed."""
    return render_template("accounts/link_refused.html", message=error.message,
                           purpose=purpose), error.status


@bp.route("/account/confirm/<token>", methods=["GET"])
def confirm_email(token: str) -> ResponseReturnValue:
    """The page a confirmation link opens: a button confirms (a mail scanner following the
    link does not)."""
    try:
        link = services.email_link(db.session, request_actor(), token)
    except InvalidInput as error:
        return _link_refused(error, "email")
    return render_template("accounts/confirm_email.html", link=link, form=ConfirmForm(),
                           token=token)


@bp.route("/account/confirm/<token>", methods=["POST"])
def confirmed_email(token: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)

    def confirmed(link: AccountToken) -> Response:
        if link.purpose is TokenPurpose.CHANGE_EMAIL:
            flash(_("Your email address is now %(email)s.", email=link.email), "success")
        else:
            flash(_("Thank you: your email address is confirmed."), "success")
        return redirect(url_for("accounts.account" if current_user.is_authenticated
                                else "accounts.sign_in"))

    def refused(error: DomainError) -> ResponseReturnValue:
        if isinstance(error, InvalidInput | Conflict):
            return _link_refused(error, "email")
        raise error

    return handle_form(None, lambda: services.confirm_email(db.session, request_actor(), token),
                       success=confirmed, on_error=refused)


def _asked_address() -> str:
    """The rate-limit key of "forgot the password" per address asked for (hashed: no address
    in the limiter's storage)."""
    typed = (request.form.get("email") or "").strip().lower().encode()
    return "reset-address:" + hashlib.sha256(typed).hexdigest()[:24]


RESET_REQUESTED = N_("If an account uses that address, we have mailed it a link to set a new "
                     "password. The link works for an hour.")


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(configured_limit("LIMIT_PASSWORD_RESET"), methods=["POST"])
@limiter.limit(configured_limit("LIMIT_PASSWORD_RESET"), methods=["POST"],
               key_func=_asked_address)
def forgot_password() -> ResponseReturnValue:
    """The same answer whether or not the address has an account."""
    form = ForgotPasswordForm()
    return handle_form(
        form,
        lambda: services.request_password_reset(db.session, email=form.email.data or ""),
        flash_message=lambda _result: _(RESET_REQUESTED),
        success=lambda _result: redirect(url_for("accounts.sign_in")),
        render=lambda: render_template("accounts/forgot_password.html", form=form),
    )


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(configured_limit("LIMIT_PASSWORD_RESET"), methods=["POST"])
def reset_password(token: str) -> ResponseReturnValue:
    """Choose a new password from a mailed link. It ends every session of the account and
    does not sign this browser in: the sign-in page (and any second step it asks for) does."""
    try:
        services.password_link(db.session, request_actor(), token)
    except InvalidInput as error:
        return _link_refused(error, "password")
    form = ResetPasswordForm()

    def signed_out(_user: User) -> Response:
        logout_user()
        return redirect(url_for("accounts.sign_in"))

    def refused(error: DomainError) -> ResponseReturnValue | None:
        if isinstance(error, services.LinkRefused):
            return _link_refused(error, "password")
        return None

    return handle_form(
        form,
        lambda: services.reset_password(db.session, request_actor(), token,
                                        new=form.new_password.data or ""),
        # A function: written after the sign-out, in the language a visitor gets.
        flash_message=lambda _user: _("Your new password is set and every device was signed "
                                      "out. Sign in with the new password."),
        success=signed_out, on_error=refused,
        render=lambda: render_template("accounts/reset_password.html", form=form, token=token),
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
