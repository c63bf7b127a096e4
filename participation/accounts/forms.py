"""Account forms. Each carries Flask-WTF's CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from participation.accounts.services import (
    DISPLAY_NAME_MAX,
    EMAIL_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
)


class RegisterForm(FlaskForm):
    # The address itself is checked by services.normalize_email, for the CLI and forms alike.
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    display_name = StringField(
        _l("Name others will see"), validators=[DataRequired(), Length(max=DISPLAY_NAME_MAX)]
    )
    password = PasswordField(
        _l('Password (at least %(PASSWORD_MIN)s characters)', PASSWORD_MIN=PASSWORD_MIN),
        validators=[DataRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)],
    )


class SignInForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=PASSWORD_MAX)])
    remember = BooleanField(_l("Keep me signed in on this device"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=PASSWORD_MAX)]
    )
    new_password = PasswordField(
        _l('New password (at least %(PASSWORD_MIN)s characters)', PASSWORD_MIN=PASSWORD_MIN),
        validators=[DataRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)],
    )


class DisplayNameForm(FlaskForm):
    display_name = StringField(
        _l("Name others will see"), validators=[DataRequired(), Length(max=DISPLAY_NAME_MAX)]
    )


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        _l("Your password, to confirm"), validators=[DataRequired(), Length(max=PASSWORD_MAX)]
    )
    confirm = BooleanField(
        _l("I understand my account will be deleted; what I posted stays as a former "
           "participant's"),
        validators=[DataRequired()],
    )




CODE_MAX = 40


class SecondStepForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[DataRequired(), Length(max=CODE_MAX)])


class TwoFactorSetupForm(FlaskForm):
    code = StringField(_l("The 6-digit code your app shows now"),
                       validators=[DataRequired(), Length(max=CODE_MAX)])


class TwoFactorPasswordForm(FlaskForm):
    """Turning the second factor off, or new recovery codes: the password and a current code."""

    password = PasswordField(_l("Your password"),
                             validators=[DataRequired(), Length(max=PASSWORD_MAX)])
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[DataRequired(), Length(max=CODE_MAX)])


class ChangeEmailForm(FlaskForm):
    email = EmailField(_l("New email address"),
                       validators=[DataRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField(
        _l("Your password, to confirm"), validators=[DataRequired(), Length(max=PASSWORD_MAX)]
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=EMAIL_MAX)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(
        _l('New password (at least %(PASSWORD_MIN)s characters)', PASSWORD_MIN=PASSWORD_MIN),
        validators=[DataRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)],
    )
