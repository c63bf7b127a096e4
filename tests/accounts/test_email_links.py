"""Links mailed to an account: confirming its address, changing it, and resetting a forgotten
password. Each works once, expires, and refuses a forged, reused or other account's link with a
clear page and nothing changed. The mails are read from the outgoing mail the app stored."""

from __future__ import annotations

import re
import types
from datetime import timedelta
from urllib.parse import urlsplit

import itsdangerous.timed
import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from participation.accounts import services
from participation.accounts.models import AccountToken, User
from participation.config import InsecureConfiguration, from_environment
from participation.db import utcnow
from participation.extensions import db
from participation.mail.models import OutgoingMail
from participation.security.permissions import Role
from tests.conftest import PASSWORD, csrf_token, sign_in

NEW_PASSWORD = "a brand new passphrase for this account"
LINK = re.compile(r"https?://[^\s<>\"')\]]+")
CSRF_VALUE = re.compile(r'name="csrf_token"[^>]*>')


def mails_to(address: str) -> list[OutgoingMail]:
    db.session.rollback()
    return list(db.session.scalars(select(OutgoingMail).where(OutgoingMail.to_address == address)
                                   .order_by(OutgoingMail.id)))


def link_path(mail: OutgoingMail) -> str:
    """The path of the mail's first link (the one it is about)."""
    return urlsplit(LINK.findall(mail.text_body)[0]).path


def register(client, email="new@example.test", name="New Person", password=PASSWORD):
    return client.post("/register", data={
        "email": email, "display_name": name, "password": password,
        "csrf_token": csrf_token(client, "/register")})


def press(client, path: str):
    """Follow a mailed link and press the button its page shows."""
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(client, path)})


def forgot(client, email: str):
    return client.post("/password/forgot", data={
        "email": email, "csrf_token": csrf_token(client, "/password/forgot")})


def set_password(client, path: str, password: str = NEW_PASSWORD):
    return client.post(path, data={"new_password": password,
                                   "csrf_token": csrf_token(client, path)})


def account(email: str) -> User:
    db.session.rollback()
    user = services.find_user_by_email(db.session, email)
    assert user is not None
    return user


# Confirming the address -----------------------------------------------------------------------

def test_registration_mails_a_link_that_confirms_the_address_once(client):
    register(client)
    user = account("new@example.test")
    assert user.email_confirmed_at is None
    [mail] = mails_to("new@example.test")
    assert mail.subject == "Confirm your email address" and mail.recipient_id == user.id
    path = link_path(mail)
    assert path.startswith("/account/confirm/")
    page = client.get(path).get_data(as_text=True)
    assert "Confirm new@example.test as the address of your account" in page
    assert account("new@example.test").email_confirmed_at is None  # opening it changes nothing

    done = press(client, path)
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert account("new@example.test").email_confirmed_at is not None

    again = client.post(path, data={"csrf_token": csrf_token(client, "/register")})
    assert again.status_code == 400
    assert "already used" in again.get_data(as_text=True)
    assert client.get(path).status_code == 400


def test_a_taken_address_gets_no_confirmation_mail(client, make_user):
    make_user(email="taken@example.test")
    register(client, email="taken@example.test", name="Impostor")
    assert mails_to("taken@example.test") == []


def test_the_confirmation_mail_is_in_the_language_the_page_was_read_in(client):
    client.post("/language", data={"locale": "es", "csrf_token": csrf_token(client, "/")})
    register(client, email="ana@example.test")
    assert account("ana@example.test").locale == "es"
    [mail] = mails_to("ana@example.test")
    assert mail.subject == "Confirme su dirección de correo"
    assert "Siga este enlace para confirmar su dirección de correo" in mail.text_body
    assert "<p>Hola, New Person:</p>" in mail.html_body


def test_the_account_page_shows_the_state_and_resends_the_link_a_few_times_an_hour(
        client_as, make_user):
    user = make_user(confirmed=False, email="late@example.test")
    client = client_as(user=user)
    page = client.get("/account").get_data(as_text=True)
    assert "late@example.test is not confirmed yet" in page
    for _ in range(services.LINK_MAILS_PER_HOUR):
        response = client.post("/account/confirm/resend",
                               data={"csrf_token": csrf_token(client, "/account")})
        assert response.status_code == 302
    assert len(mails_to("late@example.test")) == services.LINK_MAILS_PER_HOUR
    refused = client.post("/account/confirm/resend",
                          data={"csrf_token": csrf_token(client, "/account")},
                          follow_redirects=True)
    assert "several links in the last hour" in refused.get_data(as_text=True)
    assert len(mails_to("late@example.test")) == services.LINK_MAILS_PER_HOUR
    # Any of the links confirms; the others then confirm nothing more.
    press(client, link_path(mails_to("late@example.test")[1]))
    assert "late@example.test is confirmed" in client.get("/account").get_data(as_text=True)


def test_a_confirmed_account_is_sent_no_new_link(client_as):
    client = client_as(Role.RESIDENT)
    response = client.post("/account/confirm/resend",
                           data={"csrf_token": csrf_token(client, "/account")},
                           follow_redirects=True)
    assert "already confirmed" in response.get_data(as_text=True)
    assert mails_to(client.user.email) == []


def test_the_poll_page_resend_goes_back_to_the_poll(client_as, make_user):
    client = client_as(user=make_user(confirmed=False, email="voter@example.test"))
    response = client.post("/account/confirm/resend", data={
        "next": "/polls/1", "csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 302 and response.headers["Location"].endswith("/polls/1")
    assert len(mails_to("voter@example.test")) == 1


# Bad links -----------------------------------------------------------------------------------

@pytest.fixture
def confirmation_path(client) -> str:
    register(client)
    return link_path(mails_to("new@example.test")[0])


@pytest.mark.parametrize("tamper", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature
    lambda token: "x" + token,                                               # payload
    lambda token: "not-a-token",
    lambda token: "a" * 600,
])
def test_a_forged_link_gets_a_clear_page_and_changes_nothing(client, confirmation_path, tamper):
    token = confirmation_path.rsplit("/", 1)[1]
    forged = f"/account/confirm/{tamper(token)}"
    for response in (client.get(forged),
                     client.post(forged, data={"csrf_token": csrf_token(client, "/register")})):
        assert response.status_code == 400
        assert "This link is not valid" in response.get_data(as_text=True)
    assert account("new@example.test").email_confirmed_at is None


def test_a_link_signed_with_another_key_or_naming_another_row_is_refused(client,
                                                                        confirmation_path):
    from flask import current_app

    row = db.session.scalars(select(AccountToken)).one()
    other_key = URLSafeTimedSerializer("another site's key", salt="participation.accounts.email")
    wrong_row = URLSafeTimedSerializer(current_app.config["SECRET_KEY"],
                                       salt="participation.accounts.email")
    for token in (other_key.dumps([row.id, row.user_id, ""]),
                  wrong_row.dumps([row.id + 1, row.user_id, ""]),
                  wrong_row.dumps([row.id, row.user_id + 1, ""]),
                  wrong_row.dumps({"id": row.id})):
        response = client.get(f"/account/confirm/{token}")
        assert response.status_code == 400, token
        assert "This link is not valid" in response.get_data(as_text=True)
    assert account("new@example.test").email_confirmed_at is None


def test_an_expired_link_is_refused(client, confirmation_path):
    row = db.session.scalars(select(AccountToken)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = press_anyway(client, confirmation_path)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert account("new@example.test").email_confirmed_at is None


def test_a_link_past_its_signed_age_is_refused(client, confirmation_path, monkeypatch):
    later = itsdangerous.timed.time.time() + 49 * 3600
    monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: later))
    response = client.get(confirmation_path)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def press_anyway(client, path: str):
    """Press the button of a link's page even when the page refuses the link."""
    return client.post(path, data={"csrf_token": csrf_token(client, "/password/forgot")})


def test_another_accounts_link_is_refused_while_signed_in(client_as, confirmation_path):
    other = client_as(Role.RESIDENT)
    for response in (other.get(confirmation_path),
                     other.post(confirmation_path,
                                data={"csrf_token": csrf_token(other, "/account")})):
        assert response.status_code == 400
        assert "sent to another account" in response.get_data(as_text=True)
    assert account("new@example.test").email_confirmed_at is None


def test_the_confirmation_page_needs_the_forms_token(client, confirmation_path):
    assert client.post(confirmation_path).status_code == 400
    assert account("new@example.test").email_confirmed_at is None


# Changing the address -------------------------------------------------------------------------

def change_email(client, new: str, password: str = PASSWORD):
    return client.post("/account/email", data={
        "change-email": new, "change-password": password,
        "csrf_token": csrf_token(client, "/account")})


def test_a_new_address_counts_only_once_confirmed_and_the_old_one_is_told(client_as, make_user):
    user = make_user(email="old@example.test", name="Ana")
    client = client_as(user=user)
    response = change_email(client, "New@Example.test")
    assert response.status_code == 302
    assert account("old@example.test").email == "old@example.test"
    page = client.get("/account").get_data(as_text=True)
    assert "We have mailed a link to new@example.test" in page
    [mail] = mails_to("new@example.test")
    assert mail.subject == "Confirm your new email address"
    assert "until then your account keeps its old address" in mail.text_body
    assert mails_to("old@example.test") == []
    # Until it is followed, sign-in and reset still go by the old address.
    assert sign_in(client.application.test_client(), "old@example.test").status_code == 302

    done = press(client, link_path(mail))
    assert done.status_code == 302 and done.headers["Location"].endswith("/account")
    changed = account("new@example.test")
    assert changed.id == user.id and changed.email_confirmed_at is not None
    [told] = mails_to("old@example.test")
    assert told.subject == "The email address of your account was changed"
    assert "n…@example.test" in told.text_body and "new@example.test" not in told.text_body
    assert told.recipient_id == user.id
    assert press_anyway(client, link_path(mail)).status_code == 400


def test_changing_the_address_needs_the_password_and_a_different_address(client_as):
    client = client_as(Role.RESIDENT)
    wrong = change_email(client, "elsewhere@example.test", password="not my password")
    assert wrong.status_code == 400 and "Your password is not right" in wrong.get_data(
        as_text=True)
    same = change_email(client, client.user.email.upper())
    assert same.status_code == 400 and "already your address" in same.get_data(as_text=True)
    bad = change_email(client, "not an address")
    assert bad.status_code == 400 and "valid email address" in bad.get_data(as_text=True)
    assert mails_to("elsewhere@example.test") == []


def test_an_address_another_account_has_gets_the_same_answer_and_no_mail(client_as, make_user):
    make_user(email="taken@example.test")
    client = client_as(Role.RESIDENT)
    taken = change_email(client, "taken@example.test")
    free = change_email(client, "free@example.test")
    assert taken.status_code == free.status_code == 302
    assert [m.subject for m in mails_to("taken@example.test")] == []
    assert len(mails_to("free@example.test")) == 1


def test_an_address_taken_before_the_link_is_followed_leaves_the_account_as_it_was(
        client_as, make_user):
    client = client_as(Role.RESIDENT)
    change_email(client, "contested@example.test")
    path = link_path(mails_to("contested@example.test")[0])
    make_user(email="contested@example.test")
    response = press(client, path)
    assert response.status_code == 409
    assert "belongs to another account" in response.get_data(as_text=True)
    assert account(client.user.email).id == client.user.id
    assert mails_to(client.user.email) == []


def test_only_the_latest_asked_for_address_can_become_the_accounts(client_as):
    client = client_as(Role.RESIDENT)
    change_email(client, "first@example.test")
    change_email(client, "second@example.test")
    first = link_path(mails_to("first@example.test")[0])
    assert "already used" in client.get(first).get_data(as_text=True)
    press(client, link_path(mails_to("second@example.test")[0]))
    assert account("second@example.test").id == client.user.id


def test_a_confirmation_link_for_the_old_address_dies_with_the_change(client):
    register(client, email="before@example.test")
    registration_link = link_path(mails_to("before@example.test")[0])
    sign_in(client, "before@example.test")
    change_email(client, "after@example.test")
    press(client, link_path(mails_to("after@example.test")[0]))
    response = client.get(registration_link)
    assert response.status_code == 400


# Forgetting the password ---------------------------------------------------------------------

def test_forgot_password_answers_the_same_and_mails_only_an_account_that_may_sign_in(
        client, make_user, app):
    admin = make_user(Role.ADMIN)
    make_user(email="known@example.test")
    suspended = make_user(email="suspended@example.test")
    deleted = make_user(email="deleted@example.test")
    services.suspend_user(db.session, admin, suspended, reason="Testing")
    services.delete_account(db.session, deleted, password=PASSWORD)
    db.session.commit()
    answers = set()
    for email in ("known@example.test", "unknown@example.test", "suspended@example.test",
                  "deleted@example.test"):
        response = forgot(client, email)
        assert response.status_code == 302
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        # The form's token is signed with the time: the only part that may differ.
        answers.add((response.headers["Location"], CSRF_VALUE.sub("", page)))
    assert len(answers) == 1
    assert "If an account uses that address" in answers.pop()[1]
    assert [m.subject for m in mails_to("known@example.test")] == ["Set a new password"]
    for email in ("unknown@example.test", "suspended@example.test", "deleted@example.test",
                  f"deleted-{deleted.id}@accounts.invalid"):
        assert mails_to(email) == [], email


def test_the_sign_in_page_links_to_forgot_password(client):
    assert 'href="/password/forgot"' in client.get("/login").get_data(as_text=True)


def test_an_account_gets_at_most_three_reset_mails_an_hour(client, make_user, app):
    app.config["LIMIT_PASSWORD_RESET"] = "100 per minute"
    make_user(email="popular@example.test")
    for _ in range(5):
        assert forgot(client, "Popular@example.test").status_code == 302
    assert len(mails_to("popular@example.test")) == services.LINK_MAILS_PER_HOUR
    rows = list(db.session.scalars(select(AccountToken)))
    for row in rows:
        row.created_at = utcnow() - timedelta(minutes=61)
    db.session.commit()
    forgot(client, "popular@example.test")
    assert len(mails_to("popular@example.test")) == services.LINK_MAILS_PER_HOUR + 1


def test_forgot_password_is_limited_per_client_and_per_address(make_app, make_user):
    app = make_app(LIMIT_PASSWORD_RESET="2 per minute")
    with app.app_context():
        first = app.test_client()
        assert [forgot(first, f"n{i}@example.test").status_code for i in range(3)] \
            == [302, 302, 429]
        # The same address from three different clients: the third is refused too.
        codes = []
        for n in range(3):
            other = app.test_client()
            other.environ_base["REMOTE_ADDR"] = f"10.0.0.{n + 1}"
            codes.append(forgot(other, "target@example.test").status_code)
        assert codes == [302, 302, 429]


def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(client, client_as,
                                                                     make_user):
    user = make_user(email="forgetful@example.test", confirmed=False)
    elsewhere = client_as(user=user)
    assert elsewhere.get("/account").status_code == 200
    forgot(client, "forgetful@example.test")
    [mail] = mails_to("forgetful@example.test")
    path = link_path(mail)
    assert path.startswith("/password/reset/")
    assert "expires in an hour" in mail.text_body

    too_short = set_password(client, path, "short")
    assert too_short.status_code == 400
    assert account("forgetful@example.test").password_hash == user.password_hash

    done = set_password(client, path)
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert "Sign in with the new password" in client.get("/login").get_data(as_text=True)
    assert client.get("/account").status_code == 302  # not signed in silently
    assert elsewhere.get("/account").status_code == 302  # the old session is refused
    assert sign_in(client, "forgetful@example.test").status_code == 400  # old password
    assert sign_in(client, "forgetful@example.test", NEW_PASSWORD).status_code == 302
    # The link reached the address: that confirms it too.
    assert account("forgetful@example.test").email_confirmed_at is not None

    fresh = client.application.test_client()
    again = set_password(fresh, path, "yet another passphrase, long")
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)
    assert fresh.get(path).status_code == 400


def test_a_reset_link_dies_when_the_password_or_the_sessions_change(client, make_user):
    user = make_user(email="careful@example.test")
    forgot(client, "careful@example.test")
    forgot(client, "careful@example.test")
    first, second = (link_path(mail) for mail in mails_to("careful@example.test"))
    services.change_password(db.session, account("careful@example.test"), current=PASSWORD,
                             new=NEW_PASSWORD)
    db.session.commit()
    response = client.get(first)
    assert response.status_code == 400 and "no longer works" in response.get_data(as_text=True)
    forgot(client, "careful@example.test")
    third = link_path(mails_to("careful@example.test")[-1])
    services.end_all_sessions(db.session, account("careful@example.test"))
    db.session.commit()
    for path in (second, third):
        assert set_password(client, path, "something else entirely").status_code == 400
    assert services.authenticate(db.session, email=user.email, password=NEW_PASSWORD)


def test_a_reset_link_is_refused_once_the_account_is_suspended_or_expired(client, make_user):
    admin = make_user(Role.ADMIN)
    make_user(email="flagged@example.test")
    make_user(email="slow@example.test")
    forgot(client, "flagged@example.test")
    forgot(client, "slow@example.test")
    flagged = link_path(mails_to("flagged@example.test")[0])
    slow = link_path(mails_to("slow@example.test")[0])
    services.suspend_user(db.session, admin, account("flagged@example.test"), reason="Testing")
    row = db.session.scalars(select(AccountToken).join(User).where(
        User.email == "slow@example.test")).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert set_password(client, flagged).status_code == 400
    expired = set_password(client, slow)
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    assert services.authenticate(db.session, email="slow@example.test", password=PASSWORD)


def test_a_reset_link_is_not_a_confirmation_link_nor_the_reverse(client, make_user):
    make_user(email="mixed@example.test")
    forgot(client, "mixed@example.test")
    token = link_path(mails_to("mixed@example.test")[0]).rsplit("/", 1)[1]
    assert client.get(f"/account/confirm/{token}").status_code == 400
    register(client, email="other@example.test")
    confirm = link_path(mails_to("other@example.test")[0]).rsplit("/", 1)[1]
    assert client.get(f"/password/reset/{confirm}").status_code == 400


def test_another_accounts_reset_link_is_refused_while_signed_in(client, client_as, make_user):
    make_user(email="victim@example.test")
    forgot(client, "victim@example.test")
    path = link_path(mails_to("victim@example.test")[0])
    other = client_as(Role.RESIDENT)
    response = set_password(other, path)
    assert response.status_code == 400
    assert "sent to another account" in response.get_data(as_text=True)
    assert services.authenticate(db.session, email="victim@example.test", password=PASSWORD)


def test_the_reset_mail_is_in_the_accounts_language(client, make_user):
    user = make_user(email="lucia@example.test", name="Lucía")
    user.locale = "es"
    db.session.commit()
    forgot(client, "lucia@example.test")
    [mail] = mails_to("lucia@example.test")
    assert mail.subject == "Elija una contraseña nueva"
    assert "Hola, Lucía:" in mail.text_body


def test_each_link_is_mailed_once_whatever_its_key_is_asked_again(app, make_user):
    from participation.mail.services import queue_mail

    user = make_user(email="once@example.test")
    services.request_password_reset(db.session, email=user.email)
    db.session.commit()
    row = db.session.scalars(select(AccountToken)).one()
    assert not queue_mail(db.session, to=user.email, template="reset_password",
                          key=f"account-link:{row.id}", subject="again", locale="en",
                          link="x", name="x", purpose="reset_password", hours=1)
    assert len(mails_to("once@example.test")) == 1


def test_deleting_the_account_removes_its_links(client_as, make_user):
    user = make_user(email="leaving@example.test", confirmed=False)
    services.resend_email_confirmation(db.session, user)
    db.session.commit()
    services.delete_account(db.session, user, password=PASSWORD)
    db.session.commit()
    assert db.session.scalars(select(AccountToken)).all() == []


def test_the_demo_accounts_are_confirmed_and_sent_no_mail(app):
    from participation.demo import seed_demo

    accounts = seed_demo(db.session)
    db.session.commit()
    assert all(user.email_confirmed_at is not None for user in accounts.users.values())
    assert db.session.scalars(select(OutgoingMail)).all() == []
    assert db.session.scalars(select(AccountToken.purpose)).all() == []


def test_the_setting_names_only_known_activities(monkeypatch, tmp_path):
    monkeypatch.setenv("CONFIRMED_EMAIL_REQUIRED_FOR", "vote,teleport")
    with pytest.raises(InsecureConfiguration, match="teleport"):
        from_environment(str(tmp_path))
    monkeypatch.setenv("CONFIRMED_EMAIL_REQUIRED_FOR", "vote, ask")
    assert from_environment(str(tmp_path))["CONFIRMED_EMAIL_REQUIRED_FOR"] == "vote, ask"
