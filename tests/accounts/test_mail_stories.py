"""The issue's "done when" stories, with the mail read from a real SMTP server (aiosmtpd):
register, follow the confirmation link, vote; forget the password, follow the link, set a new
one, old sessions are refused, sign in with the new one; a second use of either link is
refused."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import func, select

from participation.accounts import services as accounts
from participation.db import utcnow
from participation.extensions import db
from participation.forums import services as forums
from participation.polls import services as polls
from participation.polls.models import Ballot
from participation.security.permissions import Role
from tests.conftest import PASSWORD, csrf_token, links_in, sign_in, text_part

NEW_PASSWORD = "the passphrase chosen after forgetting"


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.netloc
    return parts.path


def _open_poll() -> int:
    official = accounts.register_user(db.session, email="official@example.test",
                                      display_name="Olivia", password=PASSWORD,
                                      role=Role.OFFICIAL, confirmed=True)
    topic = forums.create_topic(db.session, official, title="Parks")
    poll = polls.create_poll(db.session, official, question="Which park first?",
                             options=["Riverside", "Market square"], kind="single",
                             results_mode="live", opens_at=utcnow(), topic_id=topic.id)
    db.session.commit()
    return poll.id


def _vote(client, poll_id: int, option_id: int):
    return client.post(f"/polls/{poll_id}", data={
        "choice": str(option_id), "csrf_token": csrf_token(client, f"/polls/{poll_id}")})


def test_register_follow_the_confirmation_link_and_vote(mail_app, smtp_server):
    poll_id = _open_poll()
    option_id = polls.get_poll(db.session, None, poll_id).options[0].id
    client = mail_app.test_client()
    registered = client.post("/register", data={
        "email": "newcomer@example.test", "display_name": "New Comer", "password": PASSWORD,
        "csrf_token": csrf_token(client, "/register")})
    assert registered.status_code == 302
    assert sign_in(client, "newcomer@example.test").status_code == 302
    assert _vote(client, poll_id, option_id).status_code == 403  # not confirmed yet

    [message] = smtp_server.wait_for(1)
    assert message["To"] == "newcomer@example.test"
    assert message["Subject"] == "Confirm your email address"
    assert "expires in 48 hours" in text_part(message)
    link = _path(links_in(message)[0])
    assert client.get(link).status_code == 200
    confirmed = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert confirmed.status_code == 302

    voted = _vote(client, poll_id, option_id)
    assert voted.status_code == 302 and voted.headers["Location"].endswith("#your-ballot")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1

    again = client.post(link, data={"csrf_token": csrf_token(client, "/account")})
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)


def test_forget_the_password_set_a_new_one_and_the_old_sessions_are_refused(mail_app,
                                                                          smtp_server):
    accounts.register_user(db.session, email="forgetful@example.test", display_name="Fay",
                           password=PASSWORD, confirmed=True)
    db.session.commit()
    old_session = mail_app.test_client()
    assert sign_in(old_session, "forgetful@example.test").status_code == 302
    assert old_session.get("/account").status_code == 200

    browser = mail_app.test_client()
    asked = browser.post("/password/forgot", data={
        "email": "forgetful@example.test", "csrf_token": csrf_token(browser, "/password/forgot")})
    assert asked.status_code == 302
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "forgetful@example.test"
    assert message["Subject"] == "Set a new password"
    link = _path(links_in(message)[0])
    assert link.startswith("/password/reset/")

    assert browser.get(link).status_code == 200
    done = browser.post(link, data={"new_password": NEW_PASSWORD,
                                    "csrf_token": csrf_token(browser, link)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")

    refused = old_session.get("/account")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    assert sign_in(browser, "forgetful@example.test").status_code == 400
    assert sign_in(browser, "forgetful@example.test", NEW_PASSWORD).status_code == 302
    assert browser.get("/account").status_code == 200

    stranger = mail_app.test_client()
    again = stranger.post(link, data={"new_password": "someone else's passphrase",
                                      "csrf_token": csrf_token(stranger, "/password/forgot")})
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)
    assert accounts.authenticate(db.session, email="forgetful@example.test",
                                 password=NEW_PASSWORD) is not None
    assert len(smtp_server.messages) == 1
