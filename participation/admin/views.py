"""The admin's pages: find an account, change its role, suspend or restore it, read the audit
log, import the electoral roll. The rules are the accounts and roll domains' services; these
pages only call them."""

from __future__ import annotations

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
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.accounts import services
from participation.accounts.models import User
from participation.admin.forms import RoleForm, SuspendForm
from participation.extensions import csrf, db
from participation.forms import ConfirmForm, handle_form, show_on_field
from participation.roll import services as roll
from participation.roll.forms import RollUploadForm
from participation.security.permissions import Role, require
from participation.web import page_argument, signed_in_account

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@login_required
def users() -> str:
    require(current_user, "admin.users")
    query = request.args.get("q", "")[:200]
    role = request.args.get("role") or None
    page = page_argument()
    found, total = services.search_users(db.session, signed_in_account(), query=query, role=role,
                                         page=page)
    return render_template("admin/users.html", users=found, total=total, query=query,
                           role=role, page=page, roles=list(Role))


def _subject(user_id: int) -> User:
    require(current_user, "admin.users")
    return services.get_user(db.session, user_id)


def _user_page(subject: User, suspend_form: SuspendForm | None = None) -> str:
    return render_template("admin/user.html", subject=subject,
                           role_form=RoleForm(role=subject.role.value),
                           suspend_form=SuspendForm() if suspend_form is None else suspend_form,
                           confirm_form=ConfirmForm())


def _back_to(subject: User) -> Response:
    return redirect(url_for("admin.user", user_id=subject.id))


@bp.route("/users/<int:user_id>")
@login_required
def user(user_id: int) -> str:
    return _user_page(_subject(user_id))


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@login_required
def change_role(user_id: int) -> Response:
    subject = _subject(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    services.set_role(db.session, signed_in_account(), subject, form.role.data or "")
    db.session.commit()
    flash(_(
        '%(display_name)s is now %(value)s.',
        display_name=subject.display_name, value=subject.role.value), "success")
    return _back_to(subject)


@bp.route("/users/<int:user_id>/suspend", methods=["POST"])
@login_required
def suspend(user_id: int) -> ResponseReturnValue:
    subject = _subject(user_id)
    form = SuspendForm()
    return handle_form(
        form,
        lambda: services.suspend_user(db.session, signed_in_account(), subject,
                                      reason=form.reason.data or ""),
        flash_message=_('%(display_name)s is suspended and signed out everywhere.',
                        display_name=subject.display_name),
        success=lambda _result: _back_to(subject),
        render=lambda: _user_page(subject, suspend_form=form),
        # Already suspended (409): the error page says so, as for a role change.
        on_error=lambda error: show_on_field(form, error),
    )


@bp.route("/users/<int:user_id>/restore", methods=["POST"])
@login_required
def restore(user_id: int) -> Response:
    subject = _subject(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.restore_user(db.session, signed_in_account(), subject)
    db.session.commit()
    flash(_('%(display_name)s can sign in again.', display_name=subject.display_name), "success")
    return _back_to(subject)


@bp.route("/users/<int:user_id>/two-factor/reset", methods=["POST"])
@login_required
def reset_two_factor(user_id: int) -> ResponseReturnValue:
    subject = _subject(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return handle_form(
        None,
        lambda: services.reset_two_factor(db.session, signed_in_account(), subject),
        flash_message=_("%(display_name)s's second factor is reset; they are signed out "
                        "everywhere and set it up again at their next sign-in.",
                        display_name=subject.display_name),
        success=lambda _result: _back_to(subject),
        render=lambda: _back_to(subject),
        raise_for=(403, 409),
    )


@bp.route("/audit")
@login_required
def audit() -> str:
    entries = services.audit_entries(db.session, signed_in_account())
    return render_template("admin/audit.html", entries=entries)


def _roll_page(form: RollUploadForm, report: roll.ImportReport | None = None) -> str:
    return render_template("admin/roll.html", form=form, report=report,
                           summary=roll.summarize_roll(db.session, signed_in_account()))


@bp.route("/roll", methods=["GET", "POST"])
@csrf.exempt
@login_required
def roll_import() -> ResponseReturnValue:
    """The electoral roll: its counts, refused verifications, and the upload of a new roll
    (the same service as `participation roll import`), answered with the import's report.

    A roll is larger than any other form post, so the body limit is raised here only, before
    the body is read; the site-wide CSRF check would read it first, so this view is exempt from
    it and the upload form checks its own token (Flask-WTF's form CSRF) instead."""
    require(current_user, "roll.import")
    request.max_content_length = int(current_app.config["ROLL_MAX_UPLOAD"])
    form = RollUploadForm()

    def imported(report: roll.ImportReport) -> ResponseReturnValue:
        if report.applied:
            flash(_("The roll is imported: %(added)s added, %(removed)s removed, %(unchanged)s "
                    "unchanged, %(rejected)s rejected.", added=report.added,
                    removed=report.removed, unchanged=report.unchanged,
                    rejected=report.rejected), "success")
        elif report.refused_for_rejections:
            flash(_("Not imported: some rows are rejected (listed below), and the roll is as it "
                    "was. Correct the file, or import it accepting the rejections."), "error")
        return _roll_page(RollUploadForm(formdata=None), report), (
            400 if report.refused_for_rejections else 200)

    return handle_form(
        form,
        lambda: roll.import_roll(
            db.session, signed_in_account(), form.file.data.stream,
            key=roll.roll_key(current_app.config), source="upload",
            accept_rejections=bool(form.accept_rejections.data),
            dry_run=bool(form.dry_run.data), max_line=int(current_app.config["ROLL_MAX_LINE"])),
        success=imported,
        render=lambda: _roll_page(form),
    )
