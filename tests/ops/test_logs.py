"""Logs as text or JSON lines, with no passwords, tokens, cookies or email addresses in them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from participation.ops.logs import install_log_handler, redact
from tests.conftest import PASSWORD, csrf_token, sign_in

SECRETS = {
    "password": "hunter2-correct-horse",
    "token": "tok_9f8e7d6c5b4a39281706",
    "cookie": "session=eyJfdXNlcl9pZCI6IjEifQ.Zx9.abcdefghijk",
    "email": "jane.resident@city.example.org",
    "dsn_password": "pgSecret99",
}


@pytest.fixture
def log_stream() -> Iterator[callable]:
    """Install the production handler on a string buffer; undo it afterwards."""
    root = logging.getLogger()
    level = root.level
    streams: list[io.StringIO] = []

    def install(log_format: str) -> io.StringIO:
        stream = io.StringIO()
        install_log_handler(log_format, stream=stream)
        streams.append(stream)
        return stream

    yield install
    for handler in list(root.handlers):
        if getattr(handler, "_participation", False):
            root.removeHandler(handler)
    root.setLevel(level)


def _log_everything_sensitive(log: logging.Logger) -> None:
    log.info("sign-in for %s with password=%s", SECRETS["email"], SECRETS["password"])
    log.info("headers: Authorization: Bearer %s", SECRETS["token"])
    log.info("Cookie: %s", SECRETS["cookie"])
    log.info("connecting to postgresql+psycopg://app:%s@db.internal:5432/participation",
             SECRETS["dsn_password"])
    log.warning("form data %s", {"email": SECRETS["email"], "password": SECRETS["password"],
                                 "csrf_token": SECRETS["token"]})
    log.info("account changed", extra={"email": SECRETS["email"], "api_token": SECRETS["token"],
                                       "detail": f"reset link sent to {SECRETS['email']}",
                                       "nested": {"password": SECRETS["password"]}})
    try:
        raise ValueError(f"bad login {SECRETS['email']} password={SECRETS['password']}")
    except ValueError:
        log.exception("sign-in failed")


def _assert_clean(output: str) -> None:
    for secret in SECRETS.values():
        assert secret not in output
    assert "eyJfdXNlcl9pZCI6IjEifQ" not in output


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_never_reach_the_log(log_stream, log_format):
    stream = log_stream(log_format)
    _log_everything_sensitive(logging.getLogger("participation.test"))
    output = stream.getvalue()
    _assert_clean(output)
    assert "[redacted]" in output
    assert "[email]" in output
    assert "sign-in failed" in output
    assert "ValueError" in output


def test_json_lines_carry_level_logger_time_and_extra_fields(log_stream):
    stream = log_stream("json")
    log = logging.getLogger("participation.townhall")
    log.info("town hall %s opened", 7, extra={"townhall_id": 7, "watchers": 120})
    log.error("broadcast failed", extra={"session_id": "abc123secret"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["message"] == "town hall 7 opened"
    assert first["level"] == "INFO"
    assert first["logger"] == "participation.townhall"
    assert first["townhall_id"] == 7
    assert first["watchers"] == 120
    assert first["time"].endswith("+00:00")
    assert isinstance(first["pid"], int)
    assert second["level"] == "ERROR"
    assert second["session_id"] == "[redacted]"


def test_a_real_registration_and_sign_in_leave_no_secrets_in_the_log(make_app, log_stream):
    stream = log_stream("json")
    # No app context is held open here, so each request gets its own, as in production.
    client = make_app().test_client()
    email = "secret.person@example.org"
    registered = client.post("/register", data={
        "email": email, "display_name": "Secret Person",
        "password": SECRETS["password"], "csrf_token": csrf_token(client, "/register")})
    assert registered.status_code == 302
    assert sign_in(client, email, password="wrong " + PASSWORD).status_code == 400
    assert sign_in(client, email, password=SECRETS["password"]).status_code == 302
    cookie = client.get_cookie("session").value
    logging.getLogger("participation.accounts").info("request from %s cookie=%s", email, cookie)
    output = stream.getvalue()
    assert output
    for line in output.splitlines():
        json.loads(line)
    assert email not in output
    assert PASSWORD not in output
    assert SECRETS["password"] not in output
    assert cookie not in output


def test_installing_twice_keeps_one_handler(log_stream):
    log_stream("text")
    second = log_stream("json")
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_participation", False)]
    assert len(ours) == 1
    logging.getLogger("participation.test").warning("once")
    assert second.getvalue().count("once") == 1


@pytest.mark.parametrize(("text", "kept"), [
    ("user alice logged in", "user alice logged in"),
    ("townhall 3 has 120 watchers", "townhall 3 has 120 watchers"),
    ("GET /api/v1/openapi.json 200", "GET /api/v1/openapi.json 200"),
])
def test_ordinary_text_is_left_alone(text, kept):
    assert redact(text) == kept


@pytest.mark.parametrize("text", [
    "password: hunter2-correct-horse",
    "'password': 'hunter2-correct-horse'",
    '{"password": "hunter2-correct-horse"}',
    "PASSWORD=hunter2-correct-horse&next=/",
    "secret_key=hunter2-correct-horse",
    "redis://:hunter2-correct-horse@cache:6379/0",
    "X-CSRFToken: hunter2-correct-horse",
])
def test_secret_shapes_are_redacted(text):
    assert "hunter2-correct-horse" not in redact(text)
