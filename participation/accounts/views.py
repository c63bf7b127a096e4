"""Account pages: register, sign in and out, and what account holders do for themselves."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from participation.accounts import services, two_factor
from participation.accounts.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    DisplayNameForm,
    ForgotPasswordForm,
    RegisterForm,
    ResetPasswordForm,
    SecondStepForm,
    SignInForm,
    TwoFactorPasswordForm,
    TwoFactorSetupForm,
)
from participation.accounts.models import AccountToken, TokenPurpose, User
from participation.errors import Conflict, DomainError, InvalidInput, RateLimited
from participation.extensions import db, limiter
from participation.forms import ConfirmForm, handle_form, show_domain_error
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
SIGN_IN_FAILED = N_("That email and password do not match an active account.")
# The address just registered, kept in this browser's session (never in a URL, so never in an
# access log) for the sign-in form to be filled in with; it lasts a few minutes.
TYPED_EMAIL_KEY = "sign_in_email"
TYPED_EMAIL_SECONDS = 15 * 60


def _remember_typed_email(email: str) -> None:
    session[TYPED_EMAIL_KEY] = {"email": email.strip()[:254],
                                "until": time.time() + TYPED_EMAIL_SECONDS}


def _typed_email() -> str | None:
    kept = session.get(TYPED_EMAIL_KEY)
    if not isinstance(kept, dict) or float(kept.get("until", 0)) < time.time():
        session.pop(TYPED_EMAIL_KEY, None)
        return None
    return str(kept.get("email") or "") or None


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(configured_limit("LIMIT_REGISTER"), methods=["POST"])
def register() -> ResponseReturnValue:
    """A new account: the address, a name and a password, nothing more. The answer is the same
    for an address already known (no account enumeration), so registering does not sign in:
    the sign-in page comes next, with the address filled in and keeping `next` (a join link's
    town hall, say), so signing in leads straight back."""
    next_url = safe_next_url(request.values.get("next"), "")
    if current_user.is_authenticated:
        return redirect(next_url or url_for("home.index"))
    form = RegisterForm()
    return handle_form(
        form,
        lambda: services.sign_up(
            db.session,
            email=form.email.data or "",
            display_name=form.display_name.data or "",
            password=form.password.data or "",
            locale=str(get_locale() or ""),
            next_path=next_url or None,
        ),
        flash_message=_(REGISTERED_MESSAGE),
        success=lambda _result: _to_sign_in(form.email.data or "", next_url),
        render=lambda: render_template("accounts/register.html", form=form, next_url=next_url),
    )


def _to_sign_in(email: str, next_url: str) -> Response:
    _remember_typed_email(email)
    return redirect(url_for("accounts.sign_in", next=next_url or None))


def _failed(response: Response) -> bool:
    """A sign-in that did not go through (a success, or a right password awaiting its second
    step, redirects)."""
    return response.status_code != 302


def _account_asked_for() -> str:
    """Flask-Limiter's key for failed sign-ins: the account whose password was tried."""
    return "sign-in:" + (request.form.get("email") or "").strip().lower()[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(configured_limit("LIMIT_SIGN_IN"), methods=["POST"])
@limiter.limit(configured_limit("LIMIT_SIGN_IN_FAILED"), methods=["POST"], deduct_when=_failed)
@limiter.limit(configured_limit("LIMIT_SIGN_IN_FAILED_ACCOUNT"), methods=["POST"],
               deduct_when=_failed, key_func=_account_asked_for)
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
            raise InvalidInput(_(SIGN_IN_FAILED), field="password")
        return user

    def signed_in(user: User) -> Response:
        remember = bool(form.remember.data)
        if services.has_two_factor(user) or services.needs_two_factor_setup(
                user, required_two_factor_roles()):
            # Half signed in: anonymous to every page and socket until the second step.
            _start_second_step(user, remember=remember, next_url=next_url)
            if services.has_two_factor(user):
                return redirect(url_for("accounts.second_step"))
            return redirect(url_for("accounts.required_setup"))
        login_user(user, remember=remember)
        return redirect(next_url)

    if not form.is_submitted() and (typed := _typed_email()):
        form.email.data = typed
    elif form.is_submitted():
        session.pop(TYPED_EMAIL_KEY, None)

    def welcome(user: User) -> str:
        if current_user.is_authenticated:
            return _('Welcome back, %(display_name)s.', display_name=user.display_name)
        if services.has_two_factor(user):
            return _("Now the second step: enter the code from your authenticator app.")
        return _("Your role requires two-factor sign-in: set it up now to continue.")

    return handle_form(
        form, authenticate,
        flash_message=welcome,
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
    _forget_second_step()
    flash(_("You are signed out on every device."), "success")
    return redirect(url_for("home.index"))


@bp.route("/account")
@login_required
def account() -> str:
    return _account_page_with()


def _account_page_with(**forms: object) -> str:
    user = signed_in_account()
    defaults: dict[str, Any] = {
        "name_form": DisplayNameForm(formdata=None, display_name=current_user.display_name),
        "password_form": ChangePasswordForm(formdata=None),
        "email_form": ChangeEmailForm(formdata=None, prefix="change"),
        "delete_form": DeleteAccountForm(formdata=None),
        "two_factor_off_form": TwoFactorPasswordForm(formdata=None, prefix="off"),
        "recovery_form": TwoFactorPasswordForm(formdata=None, prefix="renew"),
        "two_factor": user.two_factor,
        "two_factor_required": str(user.role) in required_two_factor_roles(),
        "recovery_codes_left": services.recovery_codes_left(db.session, user)
        if user.two_factor else 0,
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
                           token=token, next_url=safe_next_url(request.args.get("next"), ""))


@bp.route("/account/confirm/<token>", methods=["POST"])
def confirmed_email(token: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    # Where registration was headed (a town hall's join link, say), carried in the mailed link.
    next_url = safe_next_url(request.form.get("next"), "")

    def confirmed(link: AccountToken) -> Response:
        if link.purpose is TokenPurpose.CHANGE_EMAIL:
            flash(_("Your email address is now %(email)s.", email=link.email), "success")
        else:
            flash(_("Thank you: your email address is confirmed."), "success")
        if current_user.is_authenticated:
            return redirect(next_url or url_for("accounts.account"))
        return redirect(url_for("accounts.sign_in", next=next_url or None))

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


# Two-factor sign-in ---------------------------------------------------------------------------
# After the right password, the browser is only "half signed in": its session holds the account,
# the token it had then, "keep me signed in", the page to go on to and a deadline, but Flask-Login
# knows nothing of it, so every page and socket sees a visitor. `login_user` comes after the code.

PENDING_KEY = "two_factor_pending"
SETUP_SECRET_KEY = "two_factor_setup_secret"  # noqa: S105 - a session key's name


def required_two_factor_roles() -> frozenset[str]:
    return two_factor.required_roles(current_app.config.get("TWO_FACTOR_REQUIRED_ROLES"))


def _start_second_step(user: User, *, remember: bool, next_url: str) -> None:
    session.pop(SETUP_SECRET_KEY, None)
    session[PENDING_KEY] = {
        "user": user.id, "token": user.session_token, "remember": remember, "next": next_url,
        "until": time.time() + int(current_app.config["TWO_FACTOR_PENDING_SECONDS"]),
    }


def _forget_second_step() -> None:
    session.pop(PENDING_KEY, None)
    session.pop(SETUP_SECRET_KEY, None)


def _pending() -> tuple[dict[str, Any], User] | None:
    """The half-signed-in account of this browser, while its deadline and token hold."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or float(pending.get("until", 0)) < time.time():
        return None
    user = services.signed_in_user(db.session, int(pending["user"]), str(pending["token"]))
    return (pending, user) if user is not None else None


def _pending_account_key() -> str:
    """Flask-Limiter's key for the second step: the account being signed in to."""
    pending = session.get(PENDING_KEY)
    if isinstance(pending, dict) and pending.get("user"):
        return f"two-factor:{pending['user']}"
    return get_remote_address()


def _sign_in_again() -> Response:
    _forget_second_step()
    flash(_("Your sign-in took too long or was interrupted. Please sign in again."), "info")
    return redirect(url_for("accounts.sign_in"))


def _finish_sign_in(user: User, pending: dict[str, Any]) -> None:
    _forget_second_step()
    login_user(user, remember=bool(pending.get("remember")))


def _refuse_counted(outcome: services.SecondStep) -> None:
    """A refused code: commit the counted miss first (the form's rollback must not forget it)."""
    db.session.commit()
    assert outcome.error is not None  # noqa: S101 - a refusal always carries its reason
    raise outcome.error


def _show_refusal(form: Any, render: Any) -> Any:
    def answer(error: DomainError) -> ResponseReturnValue:
        show_domain_error(form, error)
        return render(), error.status
    return answer


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(configured_limit("LIMIT_TWO_FACTOR"), methods=["POST"])
@limiter.limit(configured_limit("LIMIT_TWO_FACTOR"), methods=["POST"],
               key_func=_pending_account_key)
def second_step() -> ResponseReturnValue:
    found = _pending()
    if found is None:
        return _sign_in_again()
    pending, user = found
    if not services.has_two_factor(user):
        return redirect(url_for("accounts.required_setup"))
    form = SecondStepForm()

    def check() -> services.SecondStep:
        outcome = services.pass_second_step(db.session, user, form.code.data or "")
        if not outcome.passed:
            _refuse_counted(outcome)
        return outcome

    def signed_in(outcome: services.SecondStep) -> Response:
        _finish_sign_in(user, pending)
        return redirect(pending["next"])

    def welcome(outcome: services.SecondStep) -> str:
        if outcome.used_recovery_code:
            return _("Welcome back, %(display_name)s. You used a recovery code: %(left)s left. "
                     "Make new ones from your account page when they run low.",
                     display_name=user.display_name,
                     left=services.recovery_codes_left(db.session, user))
        return _('Welcome back, %(display_name)s.', display_name=user.display_name)

    def render() -> str:
        return render_template("accounts/second_step.html", form=form)

    return handle_form(form, check, success=signed_in, flash_message=welcome, render=render,
                       on_error=_show_refusal(form, render))


def _setup_secret() -> str:
    """The secret being set up in this browser, kept (encrypted) in its session until confirmed."""
    sealed = session.get(SETUP_SECRET_KEY)
    if isinstance(sealed, str):
        try:
            return two_factor.open_secret(sealed)
        except two_factor.SecretUnreadable:
            pass
    secret = two_factor.new_secret()
    session[SETUP_SECRET_KEY] = two_factor.seal_secret(secret)
    return secret


def _setup_page(form: TwoFactorSetupForm, user: User, action: str, *, required: bool) -> str:
    secret = _setup_secret()
    uri = two_factor.provisioning_uri(secret, user.email)
    return render_template(
        "accounts/two_factor_setup.html", form=form, action=action, required=required,
        qr_code=two_factor.qr_svg(uri, _("QR code to scan with your authenticator app")),
        secret=two_factor.grouped_secret(secret))


def _recovery_codes_page(codes: list[str], continue_url: str) -> Response:
    response = make_response(render_template("accounts/recovery_codes.html", codes=codes,
                                             continue_url=continue_url))
    # Shown once: no copy kept by the browser's cache or the back button.
    response.headers["Cache-Control"] = "no-store"
    return response


def _enable(form: TwoFactorSetupForm, user: User) -> list[str]:
    sealed = session.get(SETUP_SECRET_KEY)
    if not isinstance(sealed, str):
        raise InvalidInput(_("The set-up had expired. Scan the new QR code and try again."),
                           field="code")
    try:
        secret = two_factor.open_secret(sealed)
    except two_factor.SecretUnreadable:
        raise InvalidInput(_("The set-up had expired. Scan the new QR code and try again."),
                           field="code") from None
    return services.enable_two_factor(db.session, user, secret=secret,
                                      code=form.code.data or "")


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(configured_limit("LIMIT_TWO_FACTOR"), methods=["POST"])
@limiter.limit(configured_limit("LIMIT_TWO_FACTOR"), methods=["POST"],
               key_func=_pending_account_key)
def required_setup() -> ResponseReturnValue:
    """The set-up step of an account whose role requires a second factor and has none yet: it
    can do nothing else, being signed in only once this is done."""
    found = _pending()
    if found is None:
        return _sign_in_again()
    pending, user = found
    if services.has_two_factor(user):
        return redirect(url_for("accounts.second_step"))
    form = TwoFactorSetupForm()

    def signed_in(codes: list[str]) -> Response:
        _finish_sign_in(user, pending)
        return _recovery_codes_page(codes, pending["next"])

    return handle_form(
        form, lambda: _enable(form, user), success=signed_in,
        flash_message=_("Two-factor sign-in is on. You are signed in."),
        render=lambda: _setup_page(form, user, url_for("accounts.required_setup"),
                                   required=True))


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
@limiter.limit(configured_limit("LIMIT_TWO_FACTOR"), methods=["POST"])
def setup_two_factor() -> ResponseReturnValue:
    user = signed_in_account()
    if services.has_two_factor(user):
        return redirect(url_for("accounts.account"))
    form = TwoFactorSetupForm()

    def signed_in_again(codes: list[str]) -> Response:
        session.pop(SETUP_SECRET_KEY, None)
        # The token changed: this browser stays signed in, every other one is signed out.
        login_user(user)
        return _recovery_codes_page(codes, url_for("accounts.account"))

    return handle_form(
        form, lambda: _enable(form, user), success=signed_in_again,
        flash_message=_("Two-factor sign-in is on. Every other device has been signed out."),
        render=lambda: _setup_page(form, user, url_for("accounts.setup_two_factor"),
                                   required=False))


def _counting_misses(action: Any) -> Any:
    """Run a service that may count a wrong code; a refusal commits that count first."""
    def run() -> Any:
        try:
            return action()
        except (InvalidInput, RateLimited) as error:
            if error.field in ("code", None):
                db.session.commit()
            raise
    return run


@bp.route("/account/two-factor/off", methods=["POST"])
@login_required
@limiter.limit(configured_limit("LIMIT_TWO_FACTOR"), methods=["POST"])
def disable_two_factor() -> ResponseReturnValue:
    form = TwoFactorPasswordForm(prefix="off")
    user = signed_in_account()

    def signed_in_again(_result: None) -> Response:
        login_user(user)
        return redirect(url_for("accounts.account"))

    return handle_form(
        form,
        _counting_misses(lambda: services.disable_two_factor(
            db.session, user, password=form.password.data or "", code=form.code.data or "",
            required_roles=required_two_factor_roles())),
        success=signed_in_again,
        flash_message=_("Two-factor sign-in is off. Every other device has been signed out."),
        render=lambda: _account_page_with(two_factor_off_form=form),
        raise_for=(403,),
    )


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@login_required
@limiter.limit(configured_limit("LIMIT_TWO_FACTOR"), methods=["POST"])
def renew_recovery_codes() -> ResponseReturnValue:
    form = TwoFactorPasswordForm(prefix="renew")
    return handle_form(
        form,
        _counting_misses(lambda: services.renew_recovery_codes(
            db.session, signed_in_account(), password=form.password.data or "",
            code=form.code.data or "")),
        success=lambda codes: _recovery_codes_page(codes, url_for("accounts.account")),
        flash_message=_("New recovery codes are made; the old ones no longer work."),
        render=lambda: _account_page_with(recovery_form=form),
    )
