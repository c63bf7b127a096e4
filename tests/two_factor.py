"""Second-factor codes for the staff accounts the tests sign in as, as their phones would show.

Each code is used once: the helper gives every sign-in of an account a later time-step than the
last one it used (the server accepts one step of drift either way), so three sign-ins of one
account fit in a time-step; a fourth within the same 30 seconds fails here, saying so, instead of
being refused by the server for a replay. The previous step is not offered in the last seconds
of a step, when it could expire before the server reads it.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
from flask import Flask, current_app, has_app_context
from sqlalchemy import select

from participation.accounts import two_factor
from participation.accounts.models import TwoFactor, User
from participation.extensions import db

_last_used: dict[tuple[str, str], int] = {}
# Seconds before a time-step ends from which its previous step is no longer offered.
EXPIRY_MARGIN = 8


def next_code(secret: str, key: tuple[str, str], after: int = 0) -> str:
    """The code for the earliest time-step the server accepts that `key` has not used yet."""
    while True:
        moment = time.time()
        now = two_factor.current_step(moment)
        # The step before this one is accepted only until this one ends: near its end (a busy
        # machine may take seconds to send the code) it could expire on the way to the server.
        late = moment % two_factor.STEP_SECONDS > two_factor.STEP_SECONDS - EXPIRY_MARGIN
        earliest = now if late else now - two_factor.DRIFT_STEPS
        step = max(earliest, after + 1, _last_used.get(key, -1) + 1)
        if step <= now + two_factor.DRIFT_STEPS:
            break
        if not late:
            raise AssertionError(f"{key[1]} signed in more than three times within one "
                                 "time-step: use another account")
        # Its last safe step is used: the next step, a few seconds away, opens another.
        time.sleep(two_factor.STEP_SECONDS - moment % two_factor.STEP_SECONDS + 0.05)
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
    # Keyed by the secret: a PostgreSQL test database is reused after truncation, so an address
    # (and its URL) comes back in the next test with a new secret and no used steps.
    return next_code(secret, (secret, email.lower()), after=last)


# The keys of live sites' accounts, by email, as their owners' phones hold them: read from the
# set-up page when the account set its factor up, or printed by `participation demo`.
_known: dict[str, str] = {}
SECRET_ON_PAGE = re.compile(r'<code class="secret-key">([A-Z2-7 ]+)</code>')


def remember(email: str, secret: str) -> None:
    _known[email.strip().lower()] = secret.replace(" ", "")


def forget(*emails: str) -> None:
    """New accounts under these addresses (a new live site): their old keys are gone."""
    for email in emails:
        _known.pop(email.strip().lower(), None)


def known_code(email: str) -> str:
    email = email.strip().lower()
    assert email in _known, f"no authenticator key known for {email}"
    return next_code(_known[email], (_known[email], email))


def finish_http_sign_in(http: Any, base_url: str, response: Any, email: str) -> Any:
    """After the password step of a `requests` session on a live site: the set-up step (the key
    read off the page, as a person scans it) or the code step, as the site asks."""
    location = response.headers.get("Location", "") if response.status_code == 302 else ""
    if location.endswith("/login/two-factor"):
        page = http.get(base_url + "/login/two-factor", timeout=10).text
        remember(email, SECRET_ON_PAGE.search(page).group(1))
        return _post_code(http, base_url + "/login/two-factor", page, email)
    if location.endswith("/login/code"):
        page = http.get(base_url + "/login/code", timeout=10).text
        return _post_code(http, base_url + "/login/code", page, email)
    return response


def _post_code(http: Any, url: str, page: str, email: str) -> Any:
    from tests.conftest import CSRF_RE

    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {url}"
    answer = http.post(url, timeout=10, allow_redirects=False, data={
        "code": known_code(email), "csrf_token": match.group(1) or match.group(2)})
    if answer.status_code == 200 and "recovery-codes" in answer.text:
        # The recovery codes page: what a person does next is follow "continue".
        return _Redirect(re.search(r'<a class="button" href="([^"]+)"', answer.text).group(1))
    return answer


class _Redirect:
    """Stands for the redirect a finished set-up leads to (its page links there instead)."""

    status_code = 302

    def __init__(self, location: str) -> None:
        self.headers = {"Location": location}
        self.text = ""


# Where a browser lands after the password: one of the second steps, or past the sign-in.
AFTER_PASSWORD = re.compile(r".*/login/(code|two-factor)$|^(?!.*/login).*$")


def finish_browser_sign_in(page: Any, email: str) -> None:
    """In a browser, after the password was sent: pass whichever second step the site shows."""
    page.wait_for_url(AFTER_PASSWORD)
    if page.url.endswith("/login/two-factor"):
        remember(email, page.inner_text(".secret-key"))
        page.fill("#code", known_code(email))
        page.locator("main form button[type=submit]").click()
        page.locator("main a.button").click()
    elif page.url.endswith("/login/code"):
        page.fill("#code", known_code(email))
        page.locator("main form button[type=submit]").click()


def demo_two_factor_key(demo_output: str) -> str:
    """The authenticator key `participation demo` printed for its staff accounts."""
    match = re.search(r"Two-factor key of .*: ([A-Z2-7]+)$", demo_output, re.MULTILINE)
    assert match, demo_output
    return match.group(1)
