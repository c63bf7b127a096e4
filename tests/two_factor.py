"""Second-factor codes for the staff accounts the tests sign in as, as their phones would show.

Each code is used once: the helper gives every sign-in of an account a later time-step than the
last one it used (the server accepts one step of drift either way), so three sign-ins of one
account fit in a time-step; a fourth within the same 30 seconds fails here, saying so, instead of
being refused by the server for a replay.
"""

from __future__ import annotations

from typing import Any

import pyotp
from flask import Flask, current_app, has_app_context
from sqlalchemy import select

from participation.accounts import two_factor
from participation.accounts.models import TwoFactor, User
from participation.extensions import db

# The authenticator key of the staff accounts made for live sites (tests.watchers).
STAFF_SECRET = pyotp.random_base32(32)
_last_used: dict[tuple[str, str], int] = {}


def next_code(secret: str, key: tuple[str, str], after: int = 0) -> str:
    """The code for the earliest time-step the server accepts that `key` has not used yet."""
    now = two_factor.current_step()
    step = max(now - two_factor.DRIFT_STEPS, after + 1, _last_used.get(key, -1) + 1)
    if step > now + two_factor.DRIFT_STEPS:
        raise AssertionError(f"{key[1]} signed in more than three times within one time-step: "
                             "use another account")
    _last_used[key] = step
    return two_factor.code_at(secret, step)


def enroll(user: User, secret: str | None = None) -> str:
    """Give `user` a second factor (in the app context of its database); its secret."""
    secret = secret or pyotp.random_base32(32)
    user.two_factor = TwoFactor(secret=two_factor.seal_secret(secret))
    db.session.flush()
    return secret


def code_for(app: Flask, email: str) -> str:
    """The next code of an account in `app`'s database, from the secret it holds there.

    Like a request of the test client, it first ends the test's own transaction (SQLite begins
    each one with a write lock): it reads what the test committed.
    """
    if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
        db.session.rollback()
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
        assert user is not None and user.two_factor is not None, f"{email} has no second factor"
        secret = two_factor.open_secret(user.two_factor.secret)
        last = user.two_factor.last_step
        url = app.config["SQLALCHEMY_DATABASE_URI"]
    return next_code(secret, (url, email.lower()), after=last)


def live_code(database_url: str, email: str, secret: str = STAFF_SECRET) -> str:
    """The next code of a staff account made for a live site by tests.watchers."""
    return next_code(secret, (database_url, email.lower()))


def pass_code_page(page: Any, code: str) -> None:
    """In a browser on the second-step page: enter `code` and send it."""
    page.wait_for_url("**/login/code")
    page.fill("#code", code)
    page.locator("main form button[type=submit]").click()
