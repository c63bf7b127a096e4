"""The language a page is in: account, then switcher, then the browser's Accept-Language."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import force_locale

from participation.extensions import db
from tests.conftest import csrf_token


def _lang(response) -> str:
    return response.get_data(as_text=True).split('<html lang="')[1].split('"')[0]


def test_accept_language_picks_spanish_and_falls_back_to_english(client):
    assert _lang(client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9"})) == "es"
    assert _lang(client.get("/", headers={"Accept-Language": "fr, de;q=0.8"})) == "en"
    assert _lang(client.get("/")) == "en"


def test_visitor_switcher_choice_is_kept_in_the_session(client):
    token = csrf_token(client, "/")
    response = client.post("/language", data={"locale": "es", "next": "/townhalls",
                                              "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/townhalls"
    assert _lang(client.get("/", headers={"Accept-Language": "en"})) == "es"


def test_switcher_refuses_an_unknown_language_and_changes_nothing(client):
    token = csrf_token(client, "/")
    response = client.post("/language", data={"locale": "xx", "csrf_token": token},
                           follow_redirects=True)
    assert "That language is not available." in response.get_data(as_text=True)
    assert _lang(client.get("/")) == "en"


def test_switcher_needs_a_csrf_token(client):
    assert client.post("/language", data={"locale": "es"}).status_code == 400


def test_signed_in_choice_is_stored_on_the_account_and_wins(client_as):
    client = client_as("resident")
    token = csrf_token(client, "/")
    client.post("/language", data={"locale": "es", "csrf_token": token, "next": "//evil.test"})
    db.session.refresh(client.user)
    assert client.user.locale == "es"
    assert _lang(client.get("/", headers={"Accept-Language": "en"})) == "es"


def test_stored_account_language_applies_in_a_new_session(app, make_user, client_as):
    user = make_user("resident")
    user.locale = "es"
    db.session.commit()
    client = client_as(user=user)
    assert _lang(client.get("/", headers={"Accept-Language": "en"})) == "es"


def test_dates_and_numbers_follow_the_locale(app):
    moment = datetime(2027, 3, 5, 14, 30, tzinfo=UTC)
    env = app.jinja_env
    with app.test_request_context("/"):
        with force_locale("en"):
            english = env.from_string("{{ d|datetimeformat }} {{ n|numberformat }}").render(
                d=moment, n=12345.5)
        with force_locale("es"):
            spanish = env.from_string("{{ d|datetimeformat }} {{ n|numberformat }}").render(
                d=moment, n=12345.5)
    assert "Mar 5, 2027" in english and "12,345.5" in english
    assert "mar 2027" in spanish and "12.345,5" in spanish


def test_pages_messages_and_errors_come_in_spanish(client):
    page = client.get("/", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "Opine sobre lo que decide la ciudad" in page
    assert "Saltar al contenido principal" in page
    token = csrf_token(client, "/")
    switched = client.post("/language", data={"locale": "es", "csrf_token": token},
                           follow_redirects=True).get_data(as_text=True)
    assert "Se ha cambiado el idioma." in switched
    missing = client.get("/townhalls/999999")
    assert missing.status_code == 404
    assert "Esa asamblea no existe." in missing.get_data(as_text=True)
    refused = client.post("/login", data={"email": "x@example.test", "password": "nope",
                                          "csrf_token": csrf_token(client, "/login")})
    assert "Iniciar sesión" in refused.get_data(as_text=True)


def test_live_page_passes_its_script_the_translated_messages(client, make_user):
    import html
    import json
    from datetime import timedelta

    from participation.db import utcnow
    from participation.townhall import services

    official = make_user("official")
    now = utcnow()
    townhall = services.create_townhall(db.session, official, title="Presupuesto",
                                        starts_at=now, ends_at=now + timedelta(hours=1))
    db.session.commit()
    page = client.get(f"/townhalls/{townhall.id}",
                      headers={"Accept-Language": "es"}).get_data(as_text=True)
    raw = page.split('data-messages="')[1].split('"')[0]
    messages = json.loads(html.unescape(raw))
    assert messages["Up to date"] == "Al día"
    assert messages["New question:"] == "Nueva pregunta:"
    english = client.get(f"/townhalls/{townhall.id}").get_data(as_text=True)
    assert 'data-messages="{}"' in english
