"""Registration keeps the way back: every sign-in and register link carries `next`, the sign-in
form keeps the typed address (after a failed sign-in, and after registering, from the session,
never from the URL), and registering then signing in lands where the resident came from."""

from __future__ import annotations

import re
from html import unescape

import pytest

from participation.accounts.views import TYPED_EMAIL_KEY
from tests.conftest import PASSWORD, csrf_token

CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value="|value=")[^"]{40,}"')


def _links(html: str, path: str) -> list[str]:
    return [unescape(m) for m in re.findall(rf'href="({path}[^"]*)"', html)]


def _email_value(html: str) -> str | None:
    field = re.search(r'<input[^>]*id="email"[^>]*>', html)
    assert field, "the sign-in form has its email field"
    value = re.search(r'value="([^"]*)"', field.group(0))
    return unescape(value.group(1)) if value else None


def location(response) -> str:
    return response.headers["Location"]


@pytest.mark.parametrize("path", ["/townhalls", "/topics", "/decisions"])
def test_the_headers_sign_in_and_register_links_keep_the_page(client, path):
    header = re.search(r"<header.*?</header>",
                       client.get(path).get_data(as_text=True), re.S).group(0)
    assert _links(header, "/login") == [f"/login?next={path}"]
    assert _links(header, "/register") == [f"/register?next={path}"]


def test_the_sign_in_and_register_pages_link_each_other_keeping_next(client):
    sign_in = client.get("/login?next=/townhalls/7").get_data(as_text=True)
    assert "/register?next=/townhalls/7" in _links(sign_in, "/register")
    register = client.get("/register?next=/townhalls/7").get_data(as_text=True)
    assert "/login?next=/townhalls/7" in _links(register, "/login")


def test_a_failed_sign_in_keeps_the_typed_address_but_never_the_password(client, make_user):
    user = make_user()
    failed = client.post("/login", data={"csrf_token": csrf_token(client, "/login"),
                                         "email": user.email, "password": "wrong password",
                                         "next": "/topics"})
    assert failed.status_code == 400
    html = failed.get_data(as_text=True)
    assert _email_value(html) == user.email
    assert "wrong password" not in html
    assert 'name="next" value="/topics"' in html


def test_after_registering_the_sign_in_form_has_the_address_and_leads_back(client, app):
    email = "back.again@example.test"
    registered = client.post("/register", data={
        "csrf_token": csrf_token(client, "/register"), "email": email,
        "display_name": "Back Again", "password": PASSWORD, "next": "/topics"})
    assert location(registered) == "/login?next=/topics"
    assert email not in location(registered)
    login = client.get(location(registered)).get_data(as_text=True)
    assert _email_value(login) == email
    assert 'name="next" value="/topics"' in login
    signed_in = client.post("/login", data={"csrf_token": csrf_token(client, "/login"),
                                            "email": email, "password": PASSWORD,
                                            "next": "/topics"})
    assert location(signed_in) == "/topics"
    with client.session_transaction() as kept:
        assert TYPED_EMAIL_KEY not in kept


def test_an_address_already_registered_gets_the_same_answer_and_the_same_filled_form(
        client, make_user):
    """No account enumeration: the page after "Create account" cannot tell the two apart."""
    user = make_user()
    answers = []
    for email in (user.email, "brand.new@example.test"):
        fresh = client.application.test_client()
        registered = fresh.post("/register", data={
            "csrf_token": csrf_token(fresh, "/register"), "email": email,
            "display_name": "Someone", "password": PASSWORD, "next": "/topics"})
        login = fresh.get(location(registered)).get_data(as_text=True)
        answers.append((registered.status_code, location(registered),
                        CSRF_VALUE.sub("", login.replace(email, "EMAIL"))))
    assert answers[0] == answers[1]


def test_the_kept_address_expires(client, monkeypatch):
    from participation.accounts import views

    client.post("/register", data={"csrf_token": csrf_token(client, "/register"),
                                   "email": "late@example.test", "display_name": "Late",
                                   "password": PASSWORD})
    now = views.time.time()
    monkeypatch.setattr(views.time, "time", lambda: now + views.TYPED_EMAIL_SECONDS + 1)
    assert _email_value(client.get("/login").get_data(as_text=True)) in (None, "")
