"""The database goes away and comes back: writes answer 503, nothing is half-written, and the
same app serves again afterwards without a restart."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from participation import create_app
from participation.accounts.models import User
from participation.config import engine_options
from participation.extensions import db
from participation.ops import metrics
from participation.realtime.acks import acknowledged
from tests.conftest import PG_URL, base_config, csrf_token


def _register(client, email: str):
    return client.post("/register", data={
        "email": email, "display_name": email.split("@")[0],
        "password": "a long enough password", "csrf_token": csrf_token(client, "/register"),
    })


def _database_errors(source: str) -> float:
    return metrics.REGISTRY.get_sample_value("participation_database_errors_total",
                                             {"source": source}) or 0.0


def test_unreachable_sqlite_database_answers_503_with_retry_after(tmp_path):
    app = create_app(base_config(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing' / 'dir' / 'db.sqlite'}",
        INSTANCE_PATH=str(tmp_path),
    ))
    client = app.test_client()
    before = _database_errors("http")
    response = _register(client, "resident@example.org")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert "briefly unavailable" in response.get_data(as_text=True).lower()
    assert _database_errors("http") == before + 1


@pytest.mark.skipif(not PG_URL, reason="PARTICIPATION_TEST_DATABASE_URL is not set")
@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_outage_gives_503_then_recovers_without_restart(make_app, tcp_proxy,
                                                                  tmp_path):
    direct = make_app()
    target = urlsplit(PG_URL)
    proxy = tcp_proxy(target.hostname or "127.0.0.1", target.port or 5432)
    proxied_url = make_url(PG_URL).set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False)
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=proxied_url, INSTANCE_PATH=str(tmp_path),
                                 SQLALCHEMY_ENGINE_OPTIONS=engine_options(proxied_url)))
    client = app.test_client()

    @acknowledged
    def count_accounts(payload):
        return {"accounts": db.session.scalar(select(func.count()).select_from(User))}

    try:
        assert _register(client, "before@example.org").status_code == 302
        assert client.get("/readyz").status_code == 200

        proxy.cut()
        errors_before = _database_errors("http")
        response = _register(client, "during@example.org")
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) >= 1
        assert _database_errors("http") > errors_before
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["failed"] == ["database"]
        assert client.get("/healthz").status_code == 200
        with app.app_context():
            ack = count_accounts({})
        assert ack == {"ok": False, "error": "unavailable", "message": ack["message"]}

        proxy.restore()
        assert client.get("/readyz").status_code == 200
        assert _register(client, "after@example.org").status_code == 302
        with app.app_context():
            assert count_accounts({}) == {"ok": True, "accounts": 2}
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    with direct.app_context():
        emails = set(db.session.scalars(select(User.email)))
        assert emails == {"before@example.org", "after@example.org"}
        assert db.session.execute(text("SELECT 1")).scalar() == 1


@pytest.mark.skipif(not PG_URL, reason="PARTICIPATION_TEST_DATABASE_URL is not set")
@pytest.mark.parametrize("backend", ["postgresql"])
def test_socket_writes_get_an_error_ack_during_an_outage_and_work_after(make_app, tcp_proxy,
                                                                       tmp_path):
    from datetime import timedelta

    from participation.accounts import services as accounts
    from participation.db import utcnow
    from participation.extensions import socketio
    from participation.realtime.outbox import take_events
    from participation.realtime.rooms import NAMESPACE
    from participation.security.permissions import Role
    from participation.townhall import services as townhalls
    from participation.townhall.models import Question, Status
    from tests.conftest import PASSWORD, sign_in

    direct = make_app()
    with direct.app_context():
        official = accounts.register_user(db.session, email="official@example.org",
                                          display_name="Official", password=PASSWORD,
                                          role=Role.OFFICIAL)
        accounts.register_user(db.session, email="resident@example.org",
                               display_name="Resident", password=PASSWORD, role=Role.RESIDENT)
        townhall = townhalls.create_townhall(db.session, official, title="Outage town hall",
                                             starts_at=utcnow(),
                                             ends_at=utcnow() + timedelta(hours=1))
        townhalls.set_status(db.session, official, townhall, Status.LIVE)
        db.session.commit()
        take_events(db.session)
        townhall_id = townhall.id

    target = urlsplit(PG_URL)
    proxy = tcp_proxy(target.hostname or "127.0.0.1", target.port or 5432)
    proxied_url = make_url(PG_URL).set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False)
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=proxied_url, INSTANCE_PATH=str(tmp_path),
                                 SQLALCHEMY_ENGINE_OPTIONS=engine_options(proxied_url)))
    http = app.test_client()
    assert sign_in(http, "resident@example.org").status_code == 302
    sio = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=http)
    try:
        assert sio.emit("join", {"townhall_id": townhall_id}, namespace=NAMESPACE,
                        callback=True)["ok"]
        proxy.cut()
        ack = sio.emit("ask", {"townhall_id": townhall_id, "text": "Is the bus coming back?",
                               "client_id": "ask-1"}, namespace=NAMESPACE, callback=True)
        assert ack["ok"] is False and ack["error"] == "unavailable", ack
        assert sio.is_connected(NAMESPACE)
        proxy.restore()
        # The same client retries with the same client id; it is applied once.
        for _ in range(2):
            ack = sio.emit("ask", {"townhall_id": townhall_id,
                                   "text": "Is the bus coming back?", "client_id": "ask-1"},
                           namespace=NAMESPACE, callback=True)
            assert ack["ok"] is True, ack
    finally:
        if sio.is_connected(NAMESPACE):
            sio.disconnect(NAMESPACE)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    with direct.app_context():
        texts = list(db.session.scalars(select(Question.text)))
        assert texts == ["Is the bus coming back?"]
