"""The `participation` command line, run as the installed console script on a real database."""

from __future__ import annotations

import re
import sqlite3

import pytest
import requests

from tests.conftest import PASSWORD

pytestmark = pytest.mark.server


def run(server, *args, stdin=None):
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("participation")
    return subprocess.run([str(exe), *args], input=stdin, env=server.env, cwd=server.cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def rows(server, sql):
    path = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_db_upgrade_creates_the_schema(live_server):
    server = live_server(migrate="command")
    tables = {r[0] for r in rows(server, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "audit_log", "alembic_version"} <= tables
    again = run(server, "db", "upgrade")
    assert again.returncode == 0 and "up to date" in again.stdout


def test_create_user_and_set_role(live_server):
    server = live_server()
    result = run(server, "create-user", "Ops@Example.test", "--role", "official", "--name",
                 "Ops Person", "--password-stdin", stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "Created official ops@example.test" in result.stdout
    assert rows(server, "SELECT email, role, display_name FROM users") == [
        ("ops@example.test", "official", "Ops Person")]
    # Made on the server itself: the address needs no confirming, and no mail is sent.
    assert rows(server, "SELECT email_confirmed_at IS NOT NULL FROM users") == [(1,)]
    assert rows(server, "SELECT count(*) FROM outgoing_mail") == [(0,)]
    result = run(server, "set-role", "ops@example.test", "admin")
    assert result.returncode == 0 and "now admin" in result.stdout
    assert rows(server, "SELECT action, actor_id FROM audit_log") == [("role_changed", None)]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["create-user", "bad-email", "--role", "resident", "--password-stdin"], PASSWORD,
         "valid email"),
        (["create-user", "a@example.test", "--role", "resident", "--password-stdin"], "short",
         "at least 12"),
        (["create-user", "a@example.test", "--role", "emperor", "--password-stdin"], PASSWORD,
         "Invalid value for '--role'"),
        (["set-role", "nobody@example.test", "admin"], None, "no account"),
        (["set-role", "nobody@example.test", "emperor"], None, "Invalid value"),
    ],
)
def test_bad_cli_input_fails_clearly_and_changes_nothing(live_server, args, stdin, message):
    server = live_server()
    result = run(server, *args, stdin=(stdin + "\n") if stdin else None)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert rows(server, "SELECT count(*) FROM users") == [(0,)]


def test_create_user_refuses_a_duplicate(live_server):
    server = live_server()
    run(server, "create-user", "a@example.test", "--role", "resident", "--password-stdin",
        stdin=PASSWORD + "\n")
    result = run(server, "create-user", "A@example.test", "--role", "admin", "--password-stdin",
                 stdin=PASSWORD + "\n")
    assert result.returncode == 2 and "already exists" in result.stderr
    assert rows(server, "SELECT role FROM users") == [("resident",)]


def test_demo_seeds_only_an_empty_database(live_server):
    server = live_server()
    first = run(server, "demo", "--if-empty")
    assert first.returncode == 0, first.stderr
    assert "admin@demo.participation.test" in first.stdout
    password = re.search(r"password for all: (\S+)\)", first.stdout).group(1)
    count = rows(server, "SELECT count(*) FROM users")
    second = run(server, "demo", "--if-empty")
    assert second.returncode == 0 and "no demo content added" in second.stdout
    assert rows(server, "SELECT count(*) FROM users") == count
    third = run(server, "demo")
    assert third.returncode == 2 and "not empty" in third.stderr
    assert len(password) >= 12


def test_newcomer_registers_and_signs_in_on_the_real_server(live_server):
    """What `make run` serves: the eventlet server process, driven over HTTP."""
    server = live_server().start()
    browser = requests.Session()
    page = browser.get(f"{server.url}/register", timeout=10)
    assert page.status_code == 200 and "Create an account" in page.text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = browser.post(f"{server.url}/register", data={
        "email": "newcomer@example.test", "display_name": "New Comer", "password": PASSWORD,
        "csrf_token": token}, timeout=10)
    assert response.status_code == 200 and "your account is ready" in response.text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.text).group(1)
    response = browser.post(f"{server.url}/login", data={
        "email": "newcomer@example.test", "password": PASSWORD, "csrf_token": token},
        timeout=10)
    assert response.status_code == 200
    assert "Welcome back, New Comer" in response.text
    account = browser.get(f"{server.url}/account", timeout=10)
    assert "newcomer@example.test" in account.text
    assert account.headers["Content-Security-Policy"].startswith("default-src 'self'")
    socket_io = browser.get(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=10)
    assert socket_io.status_code == 200 and '"sid"' in socket_io.text


def test_demo_staff_sign_in_with_the_printed_key_and_the_command_line_resets_it(live_server):
    """`make run`: the demo prints its staff accounts' authenticator key, which signs them in;
    an operator can reset a lost factor from the command line (audited, no acting admin)."""
    import pyotp

    from tests.two_factor import demo_two_factor_key

    server = live_server()
    seeded = run(server, "demo")
    assert seeded.returncode == 0, seeded.stderr
    password = re.search(r"password for all: (\S+)\)", seeded.stdout).group(1)
    key = demo_two_factor_key(seeded.stdout)
    assert "Two-factor key of admin, official (demo only" in seeded.stdout
    server.start()
    http = requests.Session()

    def token(path):
        page = http.get(f"{server.url}{path}", timeout=10).text
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    answer = http.post(f"{server.url}/login", timeout=10, allow_redirects=False, data={
        "email": "admin@demo.participation.test", "password": password,
        "csrf_token": token("/login")})
    assert answer.headers["Location"].endswith("/login/code")
    answer = http.post(f"{server.url}/login/code", timeout=10, allow_redirects=False, data={
        "code": pyotp.TOTP(key).now(), "csrf_token": token("/login/code")})
    assert answer.status_code == 302
    assert http.get(f"{server.url}/admin/users", timeout=10).status_code == 200

    reset = run(server, "reset-two-factor", "admin@demo.participation.test")
    assert reset.returncode == 0 and "is reset" in reset.stdout, reset.stderr
    assert rows(server, "SELECT action, actor_id FROM audit_log WHERE action LIKE 'two%'") == [
        ("two_factor_reset", None)]
    assert http.get(f"{server.url}/admin/users", timeout=10, allow_redirects=False
                    ).status_code in (302, 401)
    again = run(server, "reset-two-factor", "admin@demo.participation.test")
    assert again.returncode == 2 and "no second factor" in again.stderr
