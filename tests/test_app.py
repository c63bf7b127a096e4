"""The application core: settings, schema, error pages and security headers."""

from __future__ import annotations

import stat

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from participation import create_app
from participation.config import InsecureConfiguration, from_environment
from participation.db import include_object
from participation.extensions import db


def test_secret_key_is_generated_once_and_kept_in_instance(tmp_path):
    config = {"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    first = create_app(dict(config))
    second = create_app(dict(config))
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text()
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    other = create_app({**config, "INSTANCE_PATH": str(tmp_path / "other")})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_secret_key_file_in_instance_folder_has_owner_only_mode(tmp_path):
    from participation.config import instance_secret_key

    key = instance_secret_key(str(tmp_path))
    assert instance_secret_key(str(tmp_path)) == key
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert len(key) == 64


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DEBUG": True}, "FLASK_DEBUG"),
        ({"SESSION_COOKIE_SECURE": False}, "SESSION_COOKIE_SECURE"),
        ({"PUBLIC_URL": "http://city.example"}, "PUBLIC_URL"),
    ],
)
def test_production_refuses_insecure_configuration_and_says_why(overrides, reason):
    config = {
        "ENV_NAME": "production",
        "SECRET_KEY": "k" * 48,
        "ROLL_KEY": "r" * 48,
        "SESSION_COOKIE_SECURE": True,
        "PUBLIC_URL": "https://city.example",
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        **overrides,
    }
    with pytest.raises(InsecureConfiguration, match=reason):
        create_app(config)


def test_production_with_secure_settings_starts():
    app = create_app({
        "ENV_NAME": "production", "SECRET_KEY": "k" * 48, "SESSION_COOKIE_SECURE": True,
        "PUBLIC_URL": "https://city.example", "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "ROLL_KEY": "r" * 48,
    })
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_environment_settings_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("SOCKETIO_MESSAGE_QUEUE", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("SOCKETIO_ASYNC_MODE", raising=False)
    settings = from_environment(str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert settings["SOCKETIO_MESSAGE_QUEUE"] == "redis://127.0.0.1:6379/0"
    assert settings["SOCKETIO_ASYNC_MODE"] == "eventlet"
    monkeypatch.delenv("DATABASE_URL")
    assert from_environment(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == (
        f"sqlite:///{tmp_path / 'participation.db'}"
    )


def test_migrations_match_the_models(app):
    """A model change without its migration fails here."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False,
                                                         "include_object": include_object})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app, backend):
    if backend != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


def test_security_headers_and_csp_allow_no_inline_script(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.get_data(as_text=True)


def test_layout_is_accessible_landmarks_and_skip_link(client):
    html = client.get("/").get_data(as_text=True)
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    assert "<header" in html and "<footer" in html and 'aria-label="Main"' in html
    assert '<html lang="en" ' in html


@pytest.mark.parametrize("status", [404, 405])
def test_error_pages_in_the_apps_look(client, status):
    response = client.get("/no/such/page") if status == 404 else client.get("/logout")
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert f"Error {status}" in html and "skip-link" in html


def test_errors_under_api_are_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["error"] == "not_found"


def test_request_too_large_gets_413_page(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    response = app.test_client().post("/login", data={"email": "x" * 5000})
    assert response.status_code == 413
    assert "Error 413" in response.get_data(as_text=True)


def test_unexpected_error_gets_500_page_without_a_stack_trace(make_app):
    app = make_app()

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Error 500" in body and "secret internals" not in body and "Traceback" not in body


def test_rate_limited_requests_get_429_page(make_app, make_user):
    app = make_app(LIMIT_SIGN_IN="2 per minute")
    client = app.test_client()
    from tests.conftest import csrf_token

    token = csrf_token(client, "/login")
    codes = [client.post("/login", data={"email": "a@b.test", "password": "nope nope nope",
                                         "csrf_token": token}).status_code for _ in range(3)]
    assert codes[:2] == [400, 400]
    assert codes[2] == 429
    assert "Too many requests" in client.post("/login", data={"csrf_token": token}).get_data(
        as_text=True)


def test_socketio_client_is_served_locally_with_its_licence(client):
    with client.get("/static/vendor/socket.io.min.js") as response:
        assert response.status_code == 200
        assert b"Socket.IO v4" in response.data[:200]
    with client.get("/static/vendor/socket.io-client.LICENSE") as response:
        assert b"MIT" in response.data or b"Permission is hereby granted" in response.data


def test_openapi_document_is_served(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "Error" in doc["components"]["schemas"]


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_sqlite_transactions_hold_the_process_lock_until_they_end(app, backend):
    if backend != "sqlite":
        pytest.skip("SQLite only")
    from sqlalchemy import text

    from participation.db import _sqlite_locks

    db.session.execute(text("SELECT 1"))
    lock = _sqlite_locks[db.engine.url.database]
    assert lock.locked()
    db.session.commit()
    assert not lock.locked()
    db.session.execute(text("SELECT 1"))
    assert lock.locked()
    db.session.rollback()
    assert not lock.locked()


def test_a_second_sqlite_writer_waits_for_the_first_and_then_succeeds(app, backend):
    if backend != "sqlite":
        pytest.skip("SQLite only")
    import threading

    from sqlalchemy import text

    from participation.accounts.models import AuditEntry

    db.session.execute(text("SELECT 1"))  # this test's transaction holds the write lock
    done = threading.Event()

    def second_writer() -> None:
        with app.app_context():
            db.session.add(AuditEntry(action="waited", detail={}))
            db.session.commit()
            done.set()

    worker = threading.Thread(target=second_writer)
    worker.start()
    assert not done.wait(0.5)
    db.session.commit()
    worker.join(timeout=15)
    assert done.is_set()
    assert db.session.query(AuditEntry).filter_by(action="waited").count() == 1


def test_the_room_limits_come_from_the_environment_and_a_bad_one_is_refused(monkeypatch,
                                                                            tmp_path):
    monkeypatch.setenv("LIMIT_SIGN_IN_FAILED_ACCOUNT", "3 per minute")
    assert from_environment(str(tmp_path))["LIMIT_SIGN_IN_FAILED_ACCOUNT"] == "3 per minute"
    assert from_environment(str(tmp_path))["LIMIT_SIGN_IN"] == "600 per minute;6000 per hour"
    monkeypatch.setenv("LIMIT_VOTE", "lots")
    with pytest.raises(InsecureConfiguration, match="LIMIT_VOTE must be a rate limit"):
        from_environment(str(tmp_path))
