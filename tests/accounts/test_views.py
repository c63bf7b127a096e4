"""Account pages through the HTTP test client: sign-up, sign-in, sessions, self-service."""

from __future__ import annotations

import json

import pytest

from participation.accounts.models import User
from participation.security.permissions import Role
from tests.conftest import PASSWORD, csrf_token, sign_in


def register(client, email="new@example.test", name="New Person", password=PASSWORD, token=None):
    return client.post("/register", data={
        "email": email, "display_name": name, "password": password,
        "csrf_token": token or csrf_token(client, "/register"),
    })


def test_newcomer_registers_then_signs_in(client, session):
    response = register(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    user = session.query(User).filter_by(email="new@example.test").one()
    assert user.role is Role.RESIDENT
    response = sign_in(client, "new@example.test")
    assert response.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "New Person" in page and "new@example.test" in page


def test_registration_gives_the_same_answer_for_a_taken_email(client, make_user, session):
    make_user(email="taken@example.test", name="Original")
    fresh = register(client, email="fresh@example.test")
    taken = register(client, email="TAKEN@example.test", name="Impostor")
    assert fresh.status_code == taken.status_code == 302
    assert fresh.headers["Location"] == taken.headers["Location"]
    fresh_page = client.get(fresh.headers["Location"]).get_data(as_text=True)
    assert "If this email address was new to us" in fresh_page
    assert session.query(User).filter_by(display_name="Impostor").count() == 0


def test_sign_in_gives_the_same_answer_for_unknown_email_and_wrong_password(client, make_user):
    user = make_user()
    wrong = sign_in(client, user.email, password="not the password!")
    unknown = sign_in(client, "nobody@example.test", password="not the password!")
    assert wrong.status_code == unknown.status_code == 400

    def message(r):
        return r.get_data(as_text=True).split('<p class="error"', 1)[1].split("</p>", 1)[0]

    assert message(wrong) == message(unknown)
    assert "do not match an active account" in message(wrong)


def test_suspended_account_cannot_sign_in_and_gets_the_generic_answer(client, make_user, session):
    user = make_user()
    user.suspended_at = user.created_at
    session.commit()
    response = sign_in(client, user.email)
    assert response.status_code == 400
    assert "do not match an active account" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-email"}, "Enter a valid email address"),
        ({"email": "a" * 300 + "@x.test"}, "254"),
        ({"name": "n" * 200}, "80"),
        ({"password": "short"}, "12"),
    ],
)
def test_registration_errors_are_shown_by_the_field_and_keep_input(client, session, data,
                                                                   message):
    fields = {"email": "ok@example.test", "name": "Keep Me", "password": PASSWORD, **data}
    response = register(client, **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page
    if "name" not in data:
        assert 'value="Keep Me"' in page
    assert session.query(User).count() == 0


def test_wrong_or_missing_csrf_token_is_refused_and_changes_nothing(client, session):
    for token in ("forged-token", ""):
        response = client.post("/register", data={
            "email": "x@example.test", "display_name": "X", "password": PASSWORD,
            "csrf_token": token})
        assert response.status_code == 400
        assert "expired or was not sent from this site" in response.get_data(as_text=True)
    assert session.query(User).count() == 0


def test_csrf_token_from_another_session_is_refused(app, make_user, session):
    user = make_user()
    attacker, victim = app.test_client(), app.test_client()
    sign_in(victim, user.email)
    token = csrf_token(attacker, "/register")
    response = victim.post("/account/name", data={"display_name": "Hacked", "csrf_token": token})
    assert response.status_code == 400
    session.refresh(user)
    assert user.display_name != "Hacked"


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example/", "http:evil.example", "/\\evil.example",
     "\\\\evil.example", "javascript:alert(1)", " //evil.example", "/%0d%0aSet-Cookie:x=1"],
)
def test_next_never_leaves_the_site(client, make_user, target):
    user = make_user()
    response = client.post("/login", data={
        "email": user.email, "password": PASSWORD, "next": target,
        "csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil" not in location.split("?")[0] or location.startswith("/%")


def test_next_to_a_page_on_the_site_is_followed(client, make_user):
    user = make_user()
    response = client.post("/login", data={
        "email": user.email, "password": PASSWORD, "next": "/account?tab=1",
        "csrf_token": csrf_token(client, "/login")})
    assert response.headers["Location"] == "/account?tab=1"


def test_session_cookie_replayed_after_sign_out_is_rejected(app, make_user):
    user = make_user()
    client = app.test_client()
    sign_in(client, user.email)
    stolen = client.get_cookie("session").value
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_remember_cookie_replayed_after_sign_out_is_rejected(app, make_user):
    user = make_user()
    client = app.test_client()
    sign_in(client, user.email, remember=True)
    remember = client.get_cookie("remember_token")
    assert remember is not None and remember.http_only
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    replay = app.test_client()
    replay.set_cookie("remember_token", remember.value)
    assert replay.get("/account").status_code == 302


def test_remember_cookie_signs_in_a_fresh_browser(app, make_user):
    user = make_user()
    client = app.test_client()
    sign_in(client, user.email, remember=True)
    other = app.test_client()
    other.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert other.get("/account").status_code == 200


def test_sign_out_ends_every_other_session(app, make_user):
    user = make_user()
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, user.email)
    sign_in(phone, user.email)
    assert phone.get("/account").status_code == 200
    laptop.post("/logout", data={"csrf_token": csrf_token(laptop, "/account")})
    assert phone.get("/account").status_code == 302


def test_the_account_page_signs_out_everywhere_from_its_own_button(app, make_user):
    user = make_user()
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, user.email)
    sign_in(phone, user.email)
    page = laptop.get("/account").get_data(as_text=True)
    form = page[page.index('id="everywhere-title"'):]
    assert 'action="/logout"' in form[:form.index("</form>")]
    laptop.post("/logout", data={"csrf_token": csrf_token(laptop, "/account")})
    assert laptop.get("/account").status_code == 302
    assert phone.get("/account").status_code == 302


def test_session_cookie_flags(client, make_user):
    user = make_user()
    sign_in(client, user.email)
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_change_password_keeps_this_browser_and_ends_others(app, make_user, session):
    user = make_user()
    here, there = app.test_client(), app.test_client()
    sign_in(here, user.email)
    sign_in(there, user.email)
    response = here.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "a whole new passphrase",
        "csrf_token": csrf_token(here, "/account")})
    assert response.status_code == 302
    assert here.get("/account").status_code == 200
    assert there.get("/account").status_code == 302
    fresh = app.test_client()
    assert sign_in(fresh, user.email, password="a whole new passphrase").status_code == 302


def test_change_password_with_wrong_current_password_changes_nothing(client_as, session):
    client = client_as("resident")
    hash_before = client.user.password_hash
    response = client.post("/account/password", data={
        "current_password": "wrong wrong wrong", "new_password": "a whole new passphrase",
        "csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 400
    assert "current password is not right" in response.get_data(as_text=True)
    session.refresh(client.user)
    assert client.user.password_hash == hash_before


def test_change_display_name(client_as, session):
    client = client_as("resident")
    response = client.post("/account/name", data={
        "display_name": "Renamed <b>Person</b>", "csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 302
    session.refresh(client.user)
    assert client.user.display_name == "Renamed <b>Person</b>"
    page = client.get("/account").get_data(as_text=True)
    assert "Renamed &lt;b&gt;Person&lt;/b&gt;" in page and "<b>Person</b>" not in page


def test_delete_account_signs_out_and_anonymises(client_as, session, app):
    client = client_as("resident")
    user_id, email = client.user.id, client.user.email
    response = client.post("/account/delete", data={
        "password": PASSWORD, "confirm": "y", "csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 302
    assert client.get("/account").status_code == 302
    session.expire_all()
    user = session.get(User, user_id)
    assert user.display_name == "Former participant" and user.email != email
    assert sign_in(app.test_client(), email).status_code == 400


def test_delete_account_needs_password_and_confirmation(client_as, session):
    client = client_as("resident")
    token = csrf_token(client, "/account")
    no_confirm = client.post("/account/delete", data={"password": PASSWORD, "csrf_token": token})
    wrong = client.post("/account/delete", data={"password": "nope nope nope", "confirm": "y",
                                                 "csrf_token": token})
    assert no_confirm.status_code == wrong.status_code == 400
    session.refresh(client.user)
    assert client.user.deleted_at is None


def test_download_my_data(client_as):
    client = client_as("resident")
    response = client.get("/account/data.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == client.user.email
