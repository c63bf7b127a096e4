"""Getting in: each town hall's join code, the short link `/j/<code>` and what it leads to."""

from __future__ import annotations

import re
from html import unescape
from itertools import chain, repeat

import pytest

from participation.accounts.models import User
from participation.extensions import db
from participation.security.permissions import Role
from participation.townhall import services
from participation.townhall.models import JOIN_CODE_ALPHABET, JOIN_CODE_LENGTH, Status
from tests.conftest import PASSWORD, csrf_token, sign_in

LOOK_ALIKES = "0O1IL"


def test_the_alphabet_has_no_look_alikes():
    assert not set(LOOK_ALIKES) & set(JOIN_CODE_ALPHABET)
    assert len(set(JOIN_CODE_ALPHABET)) == len(JOIN_CODE_ALPHABET) == 31
    assert JOIN_CODE_ALPHABET == JOIN_CODE_ALPHABET.upper()


def test_codes_are_six_characters_of_the_alphabet_and_vary():
    codes = {services.random_join_code() for _ in range(300)}
    assert all(len(code) == JOIN_CODE_LENGTH == 6 for code in codes)
    assert set(chain.from_iterable(codes)) <= set(JOIN_CODE_ALPHABET)
    assert len(codes) == 300  # 31^6 codes: 300 draws do not repeat but for a broken source
    # Every character of the alphabet turns up (1,800 draws of 31 characters).
    assert set(chain.from_iterable(codes)) == set(JOIN_CODE_ALPHABET)


def test_every_town_hall_gets_its_own_code(make_townhall):
    first, second = make_townhall(), make_townhall(Status.SCHEDULED)
    assert services.normalize_join_code(first.join_code) == first.join_code
    assert first.join_code != second.join_code


def test_a_code_already_taken_is_drawn_again(make_townhall, monkeypatch):
    taken = make_townhall().join_code
    drawn = chain([taken, taken], repeat("ZZZ999"))
    monkeypatch.setattr(services, "random_join_code", lambda: next(drawn))
    assert make_townhall().join_code == "ZZZ999"


def test_a_source_that_only_repeats_taken_codes_gives_up(make_townhall, monkeypatch):
    taken = make_townhall().join_code
    monkeypatch.setattr(services, "random_join_code", lambda: taken)
    with pytest.raises(RuntimeError):
        services.new_join_code(db.session)


@pytest.mark.parametrize(("typed", "expected"), [
    ("abc234", "ABC234"), (" ABC 234 ", "ABC234"), ("abc-234", "ABC234"), ("a b-c_2.3 4", "ABC234"),
    ("ABC–234", "ABC234"),  # an en dash, as phones like to make of "-"
    ("ABC23", None), ("ABC2345", None), ("ABC2O4", None), ("ABC214", None), ("", None),
    ("ABC/234", None), ("ÀBC234", None), ("x" * 1000, None),
])
def test_what_a_person_types_is_read_as_a_code(typed, expected):
    assert services.normalize_join_code(typed) == expected


def test_the_migration_gives_codes_to_town_halls_that_existed(backend, tmp_path):
    """0012 fills a code for every town hall already there, in its own data step, and the
    unique index holds them; downgrading removes the column again."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from participation import create_app
    from tests.conftest import base_config

    if backend != "sqlite":
        pytest.skip("the suite's PostgreSQL database is shared; run on a scratch one")
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}",
                                 INSTANCE_PATH=str(tmp_path)))
    with app.app_context():
        upgrade(revision="0011_reminders")
        with db.engine.begin() as conn:
            for n in range(40):
                conn.execute(text(
                    "INSERT INTO townhalls (title, description, description_html, starts_at, "
                    "ends_at, allow_anonymous, question_max_length, is_public, status, "
                    "created_at) VALUES (:title, '', '', '2026-01-01 10:00:00', "
                    "'2026-01-01 11:00:00', 1, 300, 1, 'ended', '2026-01-01 09:00:00')"),
                    {"title": f"Old hall {n}"})
        upgrade()
        with db.engine.connect() as conn:
            codes = list(conn.execute(text("SELECT join_code FROM townhalls")).scalars())
        indexes = {i["name"]: i for i in inspect(db.engine).get_indexes("townhalls")}
        downgrade(revision="0011_reminders")
        columns = {c["name"] for c in inspect(db.engine).get_columns("townhalls")}
        db.engine.dispose()
    assert len(codes) == len(set(codes)) == 40
    assert all(services.normalize_join_code(code) == code for code in codes)
    assert indexes["ix_townhalls_join_code"]["unique"]
    assert "join_code" not in columns


def location(response) -> str:
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


def test_the_short_link_leads_to_the_live_page_in_any_case_and_spacing(client, townhall):
    code = townhall.join_code
    live = f"/townhalls/{townhall.id}"
    assert location(client.get(f"/j/{code}")) == live
    assert location(client.get(f"/j/{code.lower()}")) == live
    spaced = f"{code[:3].lower()} - {code[3:]}"
    assert location(client.get(f"/j/{spaced}")) == live
    assert location(client.get(f"/j/%20{code[:3]}%20{code[3:]}%20")) == live


@pytest.mark.parametrize("path", ["/j/ZZZZZZ", "/j/ABC", "/j/ABC2OI", "/j/" + "A" * 300,
                                  "/j?code=", "/j?code=nothing", "/j/ABC%00234"])
def test_an_unknown_or_malformed_code_gives_the_404_page(client, townhall, path):
    response = client.get(path)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<title>" in html and "No town hall has that code" in unescape(html)


def test_the_code_form_goes_to_the_short_link_without_scripts(client, townhall):
    html = client.get("/townhalls").get_data(as_text=True)
    form = re.search(r'<form method="get" action="/j"[^>]*>.*?</form>', html, re.S)
    assert form and 'name="code"' in form.group(0) and '<label for="join-code">' in form.group(0)
    code = townhall.join_code
    assert location(client.get("/j", query_string={"code": f" {code.lower()} "})) == f"/j/{code}"


def _sign_in_page(response) -> str:
    target = location(response)
    assert target.startswith("/login?next=")
    return target


def test_a_private_town_hall_leads_a_visitor_through_sign_in_and_back(
        client, make_townhall, resident):
    private = make_townhall(is_public=False)
    live = f"/townhalls/{private.id}"
    to_sign_in = _sign_in_page(client.get(f"/j/{private.join_code.lower()}"))
    page = client.get(to_sign_in).get_data(as_text=True)
    assert "This town hall is for residents with an account" in page
    assert f'name="next" value="{live}"' in page
    assert private.title not in page  # the sign-in page names nothing of a private town hall
    # The sign-in form posts `next` back, and the live page follows.
    signed_in = sign_in(client, resident.email, next_url=live)
    assert location(signed_in) == live
    assert private.title in client.get(live).get_data(as_text=True)
    # Signed in, the short link goes straight there.
    assert location(client.get(f"/j/{private.join_code}")) == live


def test_a_public_town_hall_needs_no_sign_in(client, townhall):
    assert location(client.get(f"/j/{townhall.join_code}")) == f"/townhalls/{townhall.id}"
    assert townhall.title in client.get(f"/townhalls/{townhall.id}").get_data(as_text=True)


def test_registering_from_the_short_link_asks_only_for_an_account_and_comes_back(
        client, make_townhall):
    private = make_townhall(is_public=False)
    live = f"/townhalls/{private.id}"
    sign_in_page = client.get(_sign_in_page(client.get(f"/j/{private.join_code}")))
    register_link = re.search(r'href="(/register\?next=[^"]+)"',
                              sign_in_page.get_data(as_text=True))
    assert register_link, "the sign-in page offers registration, keeping next"
    register = client.get(unescape(register_link.group(1))).get_data(as_text=True)
    form = re.search(r'<form method="post" action="/register".*?</form>', register, re.S).group(0)
    fields = set(re.findall(r'<(?:input|select|textarea)[^>]*name="([^"]+)"', form))
    # What an account needs and nothing else: the address, a name, a password.
    assert fields == {"csrf_token", "next", "email", "display_name", "password"}
    assert f'name="next" value="{live}"' in form
    email = "new.resident@example.test"
    registered = client.post("/register", data={
        "csrf_token": csrf_token(client, "/register"), "email": email,
        "display_name": "New Resident", "password": PASSWORD, "next": live})
    # No account enumeration: registering does not sign in; the sign-in page keeps next.
    assert location(registered) == f"/login?next=/townhalls/{private.id}"
    login = client.get(location(registered)).get_data(as_text=True)
    assert f'name="next" value="{live}"' in login
    assert location(sign_in(client, email, next_url=live)) == live
    assert private.title in client.get(live).get_data(as_text=True)
    user = db.session.query(User).filter_by(email=email).one()
    assert user.email_confirmed_at is None  # a confirmation link is mailed; joining needs none


def test_registration_refuses_a_next_that_leaves_the_site(client):
    registered = client.post("/register", data={
        "csrf_token": csrf_token(client, "/register"), "email": "away@example.test",
        "display_name": "Away", "password": PASSWORD, "next": "https://evil.example/"})
    assert location(registered) == "/login"


def _join_section(html: str) -> str:
    found = re.search(r'<section class="join-link".*?</section>', html, re.S)
    assert found, "no join link on the page"
    return found.group(0)


def test_projector_and_console_show_the_short_link_code_and_qr_code(client, client_as,
                                                                    townhall):
    link = f"http://localhost/j/{townhall.join_code}"
    projector = _join_section(client.get(f"/townhalls/{townhall.id}/projector")
                              .get_data(as_text=True))
    console = _join_section(client_as(Role.MODERATOR).get(f"/townhalls/{townhall.id}/moderate")
                            .get_data(as_text=True))
    for section in (projector, console):
        shown = re.search(r'<p class="join-url"><a href="([^"]+)">(.*?)</a></p>', section)
        assert shown.group(1) == link and re.sub(r"<[^>]+>", "", shown.group(2)) == link
        code = f'<strong class="join-code" data-join-code>{townhall.join_code}</strong>'
        assert code in section
        svg = re.search(r"<svg [^>]*>", section).group(0)
        assert 'role="img"' in svg and f'aria-label="QR code of the join link {link}"' in svg
        assert f"<title>QR code of the join link {link}</title>" in section
        assert "<script" not in section


def test_an_ended_town_halls_projector_no_longer_invites_people_in(client, make_townhall):
    ended = make_townhall(Status.ENDED)
    html = client.get(f"/townhalls/{ended.id}/projector").get_data(as_text=True)
    assert "This town hall has ended" in html
    assert 'class="join-link"' not in html and ended.join_code not in html


def test_the_short_link_uses_public_url_when_set(app, client, townhall, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://town.example.org")
    html = client.get(f"/townhalls/{townhall.id}/projector").get_data(as_text=True)
    assert f"https://town.example.org/j/{townhall.join_code}" in _join_section(html)


def test_the_api_gives_the_code_and_link_the_projector_shows(client, client_as, townhall,
                                                            make_townhall):
    private = make_townhall(is_public=False)
    detail = client.get(f"/api/v1/townhalls/{townhall.id}").get_json()
    assert detail["join_code"] == townhall.join_code
    projector = client.get(f"/townhalls/{townhall.id}/projector").get_data(as_text=True)
    assert f'<a href="{detail["join_url"]}">' in _join_section(projector)
    assert client.get(f"/j/{detail['join_code']}").headers["Location"] == (
        f"/townhalls/{townhall.id}")
    listed = {t["id"]: t for t in client.get("/api/v1/townhalls").get_json()["items"]}
    assert listed[townhall.id]["join_url"] == detail["join_url"]
    # A private town hall's code is only for those who may see it.
    assert private.id not in listed
    assert client.get(f"/api/v1/townhalls/{private.id}").status_code == 404
    member = client_as(Role.RESIDENT).get(f"/api/v1/townhalls/{private.id}").get_json()
    assert member["join_code"] == private.join_code


def test_the_join_pages_come_in_spanish(client, make_townhall):
    private = make_townhall(is_public=False)
    headers = {"Accept-Language": "es"}
    missing = client.get("/j/ZZZZZZ", headers=headers).get_data(as_text=True)
    assert "Ninguna asamblea tiene ese código" in unescape(missing)
    page = client.get(location(client.get(f"/j/{private.join_code}", headers=headers)),
                      headers=headers).get_data(as_text=True)
    assert "Esta asamblea es para residentes con cuenta" in unescape(page)
    assert "¿Tiene un código?" in unescape(client.get("/townhalls", headers=headers)
                                            .get_data(as_text=True))


def test_the_demos_town_halls_have_codes_that_lead_to_them(session, client):
    from participation.demo import seed_demo
    from participation.townhall.models import TownHall

    seed_demo(session, password="demo password 123")
    session.commit()
    halls = session.query(TownHall).all()
    assert len(halls) >= 3 and len({t.join_code for t in halls}) == len(halls)
    for townhall in halls:
        assert services.normalize_join_code(townhall.join_code) == townhall.join_code
        assert location(client.get(f"/j/{townhall.join_code}")) == f"/townhalls/{townhall.id}"


def test_the_confirmation_link_of_a_registration_from_the_short_link_leads_back(
        client, make_townhall):
    """Voting needs a confirmed address by default: confirming on the phone, from the mail,
    ends on the town hall the resident registered to join."""
    from urllib.parse import urlsplit

    from sqlalchemy import select

    from participation.mail.models import OutgoingMail

    private = make_townhall(is_public=False)
    live = f"/townhalls/{private.id}"
    email = "door@example.test"
    client.post("/register", data={"csrf_token": csrf_token(client, "/register"), "email": email,
                                   "display_name": "At the door", "password": PASSWORD,
                                   "next": live})
    db.session.rollback()
    mail = db.session.scalars(select(OutgoingMail).where(OutgoingMail.to_address == email)).one()
    link = urlsplit(re.search(r"https?://\S+", mail.text_body).group(0))
    assert link.query == f"next=/townhalls/{private.id}"
    # Pressed before signing in: the sign-in page, and then the town hall.
    page = client.get(f"{link.path}?{link.query}").get_data(as_text=True)
    assert f'name="next" value="{live}"' in page
    pressed = client.post(link.path, data={"csrf_token": csrf_token(client, link.path),
                                           "next": live})
    assert location(pressed) == f"/login?next={live}"
    assert location(sign_in(client, email, next_url=live)) == live
    assert db.session.query(User).filter_by(email=email).one().email_confirmed_at is not None


@pytest.mark.parametrize(("asked", "expected"), [
    ("/townhalls", "/townhalls"), ("https://evil.example/", "/account"),
    ("//evil.example/", "/account")])
def test_a_signed_in_resident_confirming_goes_on_to_next_and_never_off_the_site(
        client, make_user, asked, expected):
    from sqlalchemy import select

    from participation.accounts import services as accounts
    from participation.mail.models import OutgoingMail

    user = make_user(confirmed=False)
    sign_in(client, user.email)
    accounts.resend_email_confirmation(db.session, db.session.get(User, user.id))
    db.session.commit()
    body = db.session.scalars(select(OutgoingMail.text_body)
                              .where(OutgoingMail.to_address == user.email)).one()
    path = re.search(r"https?://[^/\s]+(/account/confirm/[^\s?]+)", body).group(1)
    pressed = client.post(path, data={"csrf_token": csrf_token(client, path), "next": asked})
    assert location(pressed) == expected


def test_the_ask_box_offers_sign_in_and_registration_and_both_come_back(client, townhall):
    html = client.get(f"/townhalls/{townhall.id}").get_data(as_text=True)
    ask = re.search(r'<section aria-labelledby="ask-heading".*?</section>', html, re.S).group(0)
    links = [unescape(m) for m in re.findall(r'href="(/(?:login|register)[^"]*)"', ask)]
    assert links == [f"/login?next=/townhalls/{townhall.id}",
                     f"/register?next=/townhalls/{townhall.id}"]
