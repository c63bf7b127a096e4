"""Fixtures: an app per test built from a mapping, on every configured database backend.

The schema is built by running the migrations, once per backend and session: SQLite tests copy
the migrated file, PostgreSQL tests share the migrated database and have their rows truncated
afterwards. Set PARTICIPATION_TEST_DATABASE_URL (and PARTICIPATION_TEST_REDIS_URL) to add the
PostgreSQL (and Redis) backend to every database test.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask, current_app, has_app_context
from flask.testing import FlaskClient

from participation import create_app
from participation.accounts import services as account_services
from participation.accounts.models import User
from participation.accounts.two_factor import required_roles
from participation.db import utcnow
from participation.extensions import db, socketio
from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role
from tests.mail_server import SmtpServer, html_part, links_in, text_part

__all__ = ["html_part", "links_in", "text_part"]
from tests.two_factor import code_for, enroll

ROOT = Path(__file__).resolve().parent.parent
# pytest-xdist runs the suite in several processes: each gets its own PostgreSQL database and
# Redis database so that truncating and flushing never touch another process's data.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _per_worker_pg(url: str | None) -> str | None:
    if not url or not WORKER:
        return url
    base, _, name = url.rpartition("/")
    return f"{base}/{name}_{WORKER}"


def _per_worker_redis(url: str | None) -> str | None:
    if not url or not WORKER:
        return url
    base, _, index = url.rpartition("/")
    number = int(index or 0) + 1 + int(WORKER.removeprefix("gw") or 0)
    return f"{base}/{number % 16}"


PG_BASE_URL = os.environ.get("PARTICIPATION_TEST_DATABASE_URL") or None
PG_URL = _per_worker_pg(PG_BASE_URL)
REDIS_URL = _per_worker_redis(os.environ.get("PARTICIPATION_TEST_REDIS_URL") or None)
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
PASSWORD = "correct horse battery staple"

# Argon2 at production cost would dominate the suite's time; the scheme is the same.
account_services._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _reuse_url_builders() -> None:
    """Werkzeug generates and compiles Python code for every URL rule of every new app (about
    45 ms of the 50 ms `create_app` takes); the suite makes an app per test. The code depends
    only on the rule's text, its parts and defaults (converters are looked up on the rule when a
    URL is built), so each distinct rule is compiled once per process and bound to every rule
    like it. Production makes one app per process and is untouched."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    built: dict[tuple[Any, ...], Any] = {}

    def reused(self: Rule, append_unknown: bool = True) -> Any:
        key = (self.rule, tuple(self._trace), repr(sorted((self.defaults or {}).items())),
               append_unknown)
        if key not in built:
            built[key] = compile_builder(self, append_unknown)
        return built[key]

    Rule._compile_builder = reused  # type: ignore[method-assign]


_reuse_url_builders()


def _share_compiled_templates() -> None:
    """Jinja compiles each template to Python code once per environment, and the suite makes an
    app, so an environment, per test: every test that renders a page compiled base.html and the
    rest again (the first page of a test took 300 ms, the same page after it 30). The apps share
    one in-memory bytecode cache instead, keyed by template and checked against the source, as
    Jinja's own file cache is. Production makes one environment per process and is untouched."""
    from flask import Flask
    from jinja2 import BytecodeCache

    class MemoryBytecodeCache(BytecodeCache):
        def __init__(self) -> None:
            self.codes: dict[str, bytes] = {}

        def load_bytecode(self, bucket: Any) -> None:
            if (code := self.codes.get(bucket.key)) is not None:
                bucket.bytecode_from_string(code)

        def dump_bytecode(self, bucket: Any) -> None:
            self.codes[bucket.key] = bucket.bytecode_to_string()

    cache = MemoryBytecodeCache()
    create_environment = Flask.create_jinja_environment

    def created(self: Flask) -> Any:
        environment = create_environment(self)
        environment.bytecode_cache = cache
        return environment

    Flask.create_jinja_environment = created  # type: ignore[method-assign]


_share_compiled_templates()


def _share_compiled_statements() -> None:
    """SQLAlchemy keeps compiled SQL per dialect object (the engine's cache and each mapper's
    cache are keyed by it), and the suite makes a new engine, so a new dialect, for every test:
    each test compiled every statement it ran again, a fifth of the suite's time. Engines of the
    same driver and options now share the first one's dialect and statement cache, once that
    dialect has met its database (a dialect learns the server's version and abilities on its
    first connection). Production makes one engine per process and is untouched."""
    from flask_sqlalchemy import SQLAlchemy

    make_engine = SQLAlchemy._make_engine
    shared: dict[tuple[str, str], Any] = {}

    def made(self: SQLAlchemy, bind_key: Any, options: dict[str, Any], app: Flask) -> Any:
        engine = make_engine(self, bind_key, options, app)
        key = (engine.url.drivername,
               repr(sorted((name, value) for name, value in options.items() if name != "url")))
        first = shared.get(key)
        if first is None:
            if _initialized(engine):
                shared[key] = engine
        else:
            engine.dialect = first.dialect
            engine.pool._dialect = first.dialect
            engine._compiled_cache = first._compiled_cache
        return engine

    SQLAlchemy._make_engine = made  # type: ignore[method-assign]


def _initialized(engine: Any) -> bool:
    """Connect once, so that the dialect knows its server; False where there is none to meet."""
    try:
        with engine.connect():
            return True
    except Exception:  # noqa: BLE001 - a test's deliberately missing database
        return False


_share_compiled_statements()


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"participation database backends: {', '.join(BACKENDS)}"]
    lines.append(f"participation redis: {'yes' if REDIS_URL else 'no (in-memory limits)'}")
    return lines


def base_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "ENV_NAME": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-" + uuid.uuid4().hex,
        "SOCKETIO_ASYNC_MODE": "threading",
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_KEY_PREFIX": uuid.uuid4().hex[:12],
    }
    config.update(overrides)
    return config


class IsolatedClient(FlaskClient):
    """A test client whose every request gets its own application context, as in production.

    The test itself runs inside an app context; without this, requests would share its `g`
    (and Flask-Login's cached user) and its database session. The test's own session ends its
    transaction first, as a finished request would: it holds no lock during the request and
    reads what the request committed afterwards.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if has_app_context() and current_app._get_current_object() is self.application:
            db.session.rollback()
        with self.application.app_context():
            return super().open(*args, **kwargs)


def _migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url, INSTANCE_PATH=str(instance)))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("schema")
    path = folder / "template.db"
    _migrate(f"sqlite:///{path}", folder)
    return path


@pytest.fixture(scope="session")
def migrated_postgresql(tmp_path_factory: pytest.TempPathFactory) -> str:
    assert PG_URL
    from sqlalchemy import create_engine, text

    if PG_URL != PG_BASE_URL:
        admin = create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
        name = PG_URL.rpartition("/")[2]
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": name}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    _migrate(PG_URL, tmp_path_factory.mktemp("pg-instance"))
    return PG_URL


_SEQUENCES: list[str] = []


def _truncate_all() -> None:
    """Empty every table and restart every id sequence, as a fresh database would be.

    TRUNCATE of thirty tables costs about 70 ms in PostgreSQL even when they are empty; deleting
    the few rows a test wrote costs a few. The decision tables refuse DELETE by trigger (they are
    append-only), so the deletes run with triggers off (`session_replication_role`, which needs
    the superuser the suite's database is reached as); without that right, TRUNCATE it is.
    """
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    tables = [t.name for t in db.metadata.sorted_tables]
    if not tables:
        return
    with db.engine.begin() as conn:
        if not _SEQUENCES:
            _SEQUENCES.extend(conn.execute(text(
                "SELECT sequence_name FROM information_schema.sequences "
                "WHERE sequence_schema = current_schema()")).scalars())
    try:
        with db.engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("; ".join(
                [f'DELETE FROM "{t}"' for t in reversed(tables)]  # noqa: S608 - model names
                + [f'ALTER SEQUENCE "{name}" RESTART' for name in _SEQUENCES])))
    except ProgrammingError:
        with db.engine.begin() as conn:
            conn.execute(text(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            ))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_app(backend: str, request: pytest.FixtureRequest,
             tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build an app on this test's database with extra settings; the default `app` uses it."""
    apps: list[Flask] = []
    if backend == "sqlite":
        template = request.getfixturevalue("migrated_sqlite")
        path = tmp_path / "participation.db"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
        extra: dict[str, Any] = {}
    else:
        url = request.getfixturevalue("migrated_postgresql")
        extra = {"RATELIMIT_STORAGE_URI": REDIS_URL} if REDIS_URL else {}
        if REDIS_URL:
            import redis

            # Each test starts with no rate-limit hits (this Redis database is the suite's).
            with redis.Redis.from_url(REDIS_URL) as connection:
                connection.flushdb()

    def build(**overrides: Any) -> Flask:
        app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url, INSTANCE_PATH=str(tmp_path),
                                     **{**extra, **overrides}))
        app.test_client_class = IsolatedClient
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            if backend == "postgresql" and app is apps[0]:
                _truncate_all()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask], request: pytest.FixtureRequest) -> Iterator[Flask]:
    # A test that uses the SMTP server gets one app whose mail goes there, so that `make_user`,
    # `client` and `mail_app` all share it.
    extra = {}
    if "smtp_server" in request.fixturenames:
        extra["MAIL_URL"] = request.getfixturevalue("smtp_server").url
    app = make_app(**extra)
    with app.app_context():
        yield app


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free port; `.url` is its MAIL_URL."""
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(smtp_server: SmtpServer, app: Flask) -> Flask:
    """An app (inside an app context, like `app`, and the same one) whose mail goes to
    `smtp_server`."""
    assert app.config["MAIL_URL"] == smtp_server.url
    return app


@pytest.fixture
def session(app: Flask) -> Any:
    return db.session


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def factory(role: Role | str = Role.RESIDENT, *, email: str | None = None,
                name: str | None = None, password: str = PASSWORD,
                confirmed: bool = True) -> User:
        """A new account; its address is confirmed unless `confirmed=False`."""
        n = next(counter)
        role = Role(role)
        user = account_services.register_user(
            db.session,
            email=email or f"{role.value}{n}@example.test",
            display_name=name or f"{role.value.capitalize()} {n}",
            password=password,
            role=role,
            confirmed=confirmed,
        )
        assert user is not None, "factory email already taken"
        if role.value in required_roles(current_app.config.get("TWO_FACTOR_REQUIRED_ROLES")):
            # Staff sign in with a second factor, as the real ones must: the phone's key is
            # kept in the database (sealed), where tests.two_factor.code_for reads it back.
            enroll(user)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def official(make_user: Callable[..., User]) -> User:
    return make_user(Role.OFFICIAL)


@pytest.fixture
def moderator(make_user: Callable[..., User]) -> User:
    return make_user(Role.MODERATOR)


@pytest.fixture
def resident(make_user: Callable[..., User]) -> User:
    return make_user(Role.RESIDENT)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                     r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/register") -> str:
    """The CSRF token a browser would find in the form at `path`."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD,
            remember: bool = False, next_url: str | None = None) -> Any:
    """Sign in through the form; an account with a second factor then sends the next code of
    its authenticator, as its owner would. The last answer is returned."""
    data = {"email": email, "password": password, "csrf_token": csrf_token(client, "/login")}
    if remember:
        data["remember"] = "y"
    if next_url:
        data["next"] = next_url
    response = client.post("/login", data=data)
    if response.status_code == 302 and response.headers["Location"].endswith("/login/code"):
        response = client.post("/login/code", data={
            "code": code_for(client.application, email),
            "csrf_token": csrf_token(client, "/login/code")})
    return response


def _signs_in_in_one_step(app: Flask, user: User) -> bool:
    """An account the sign-in form lets in at once: no second factor to type or to set up."""
    roles = required_roles(app.config.get("TWO_FACTOR_REQUIRED_ROLES"))
    return not (account_services.has_two_factor(user)
                or account_services.needs_two_factor_setup(user, roles))


def _sign_in_directly(client: FlaskClient, user: User) -> None:
    """Leave in the client's session cookie what a successful sign-in through the form leaves
    (Flask-Login's `login_user`, the account's session token in the id) and stamp the sign-in
    time as `authenticate` does: the form's own tests are in tests/accounts; the other tests
    need a signed-in client, not the two requests and the page rendering that make one."""
    from flask import session as flask_session
    from flask_login import login_user

    app = client.application
    with app.test_request_context("/login", method="POST"):
        assert login_user(user)
        values = dict(flask_session)
    with client.session_transaction() as cookie:
        cookie.update(values)
    user.last_sign_in_at = utcnow()
    db.session.commit()


@pytest.fixture
def client_as(app: Flask, make_user: Callable[..., User]) -> Callable[..., FlaskClient]:
    """A test client signed in as a new user of `role` (or as `user`). An account with a
    second factor, or one that must set one up, goes through the sign-in form and its code
    step, as its owner would; any other gets the session the form would have given it."""

    def factory(role: Role | str = Role.RESIDENT, user: User | None = None) -> FlaskClient:
        user = user or make_user(role)
        client = app.test_client()
        if _signs_in_in_one_step(app, user):
            _sign_in_directly(client, user)
        else:
            response = sign_in(client, user.email)
            assert response.status_code == 302, response.get_data(as_text=True)
        client.user = user  # type: ignore[attr-defined]
        return client

    return factory


@pytest.fixture
def socket_client(app: Flask) -> Callable[..., Any]:
    """A Socket.IO test client on /townhall sharing a Flask test client's cookies."""
    made: list[Any] = []

    def factory(http_client: FlaskClient | None = None, **kwargs: Any) -> Any:
        sio = socketio.test_client(app, namespace=NAMESPACE,
                                   flask_test_client=http_client or app.test_client(), **kwargs)
        made.append(sio)
        return sio

    yield factory
    for sio in made:
        if sio.is_connected(NAMESPACE):
            sio.disconnect(NAMESPACE)


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port` within `timeout` seconds.

    Gives up early, returning False, when `process` (the one meant to listen) has exited.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real `participation serve` process (eventlet) on its own database."""

    def __init__(self, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'live.db'}",
                    "SECRET_KEY": "live-" + uuid.uuid4().hex, "PARTICIPATION_ENV": "development",
                    # The task queue of this test's servers, not the checkout's instance/ one.
                    "QUEUE_URL": f"sqlite:///{tmp / 'queue.db'}",
                    **(env or {})}
        self.env.pop("SOCKETIO_ASYNC_MODE", None)
        self.cwd = tmp
        self.log = tmp / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        exe = Path(sys.executable).with_name("participation")
        return subprocess.run([str(exe), *args], env=self.env, cwd=self.cwd, capture_output=True,
                              text=True, timeout=120, check=False)

    def start(self, timeout: float = 30) -> LiveServer:
        exe = Path(sys.executable).with_name("participation")
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [str(exe), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, cwd=self.cwd, stdout=handle, stderr=subprocess.STDOUT,
            )
        if not wait_for_port(self.port, timeout, self.process):
            state = "exited" if self.process.poll() is not None else "did not start"
            raise RuntimeError(f"server {state}: {self.log.read_text()}")
        return self

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def live_server(tmp_path: Path,
                request: pytest.FixtureRequest) -> Iterator[Callable[..., LiveServer]]:
    """Real server processes. `migrate=True` gives a SQLite server a copy of the session's
    migrated schema (the same migrations, run once); `migrate="command"` runs `participation db
    upgrade` itself, as an operator would; False leaves the database alone (a second worker)."""
    servers: list[LiveServer] = []

    def factory(env: dict[str, str] | None = None, migrate: bool | str = True) -> LiveServer:
        server = LiveServer(tmp_path, env)
        database = server.env["DATABASE_URL"]
        if migrate is True and database.startswith("sqlite:///"):
            shutil.copy(request.getfixturevalue("migrated_sqlite"),
                        database.removeprefix("sqlite:///"))
        elif migrate:
            result = server.command("db", "upgrade")
            assert result.returncode == 0, result.stderr
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright; never a downloaded browser build."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does this "
                    "as root, through .ci/install-test-tools)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
