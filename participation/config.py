"""Settings read from the environment, with defaults that are safe for a single machine."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "production", "testing")
# What CONFIRMED_EMAIL_REQUIRED_FOR may name (security/permissions.py holds the rules).
CONFIRMABLE_ACTIVITIES = ("vote", "ask", "upvote", "post", "flag")


class InsecureConfiguration(RuntimeError):
    """Raised when production settings would expose residents' data."""


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise InsecureConfiguration(f"{name} must be a whole number, got {value!r}") from exc


def check_site_timezone(name: object) -> str:
    """SITE_TIMEZONE as given, when it names an IANA time zone ("Europe/Madrid"); refused
    otherwise, so that no page shows a time in a zone nobody meant."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = name if isinstance(name, str) else ""
    if text and text == text.strip() and not text.startswith(("/", ".")) and ".." not in text:
        try:
            ZoneInfo(text)
            return text
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise InsecureConfiguration(
        f"SITE_TIMEZONE must be an IANA time zone such as Europe/Madrid or UTC, got {name!r}")


def _instance_key(instance_path: str, name: str) -> str:
    """Return the key kept in instance/<name>, creating it once with owner-only access."""
    path = Path(instance_path) / name
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def instance_secret_key(instance_path: str) -> str:
    """Return the key kept in instance/secret_key, creating it once with owner-only access."""
    return _instance_key(instance_path, "secret_key")


def instance_roll_key(instance_path: str) -> str:
    """Return the roll key kept in instance/roll_key, creating it once with owner-only access.

    Every roll entry is a keyed hash under it: a lost or changed key makes the stored roll match
    nobody, so it is kept apart from the secret key, which may rotate."""
    return _instance_key(instance_path, "roll_key")


def from_environment(instance_path: str) -> dict[str, Any]:
    """Build the settings mapping from environment variables."""
    env = os.environ.get("PARTICIPATION_ENV", "development").strip().lower()
    production = env == "production"
    database_url = os.environ.get("DATABASE_URL") or (
        "sqlite:///" + str(Path(instance_path) / "participation.db")
    )
    database_url = normalize_database_url(database_url)
    settings: dict[str, Any] = {
        "ENV_NAME": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        # Earlier keys, still accepted for sessions and two-factor secrets after a rotation.
        "SECRET_KEY_FALLBACKS": [key.strip() for key in
                                 os.environ.get("SECRET_KEY_FALLBACKS", "").split(",")
                                 if key.strip()],
        # The key of the electoral roll's hashes (participation/roll); None: instance/roll_key.
        "ROLL_KEY": os.environ.get("ROLL_KEY") or None,
        "ROLL_MAX_UPLOAD": _int("ROLL_MAX_UPLOAD", DEFAULTS["ROLL_MAX_UPLOAD"]),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SOCKETIO_MESSAGE_QUEUE": os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None,
        "SOCKETIO_ASYNC_MODE": os.environ.get("SOCKETIO_ASYNC_MODE", "eventlet"),
        "PUBLIC_URL": (os.environ.get("PUBLIC_URL") or "").rstrip("/") or None,
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI")
        or os.environ.get("REDIS_URL")
        or "memory://",
        "RATELIMIT_ENABLED": _flag("RATELIMIT_ENABLED", True),
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE", production),
        "REMEMBER_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE", production),
        "DEBUG": _flag("FLASK_DEBUG", False),
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1024 * 1024),
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url),
        "SOCKETIO_CHANNEL": os.environ.get("SOCKETIO_CHANNEL") or "flask-socketio",
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        "METRICS_ENABLED": _flag("METRICS_ENABLED", False),
        "FORUM_FLAG_THRESHOLD": _int("FORUM_FLAG_THRESHOLD", 3),
        "SERVER_BACKLOG": _int("SERVER_BACKLOG", DEFAULTS["SERVER_BACKLOG"]),
        "NUMBERS_CACHE_SECONDS": _int("NUMBERS_CACHE_SECONDS", DEFAULTS["NUMBERS_CACHE_SECONDS"]),
        "CONFIRMED_EMAIL_REQUIRED_FOR": os.environ.get(
            "CONFIRMED_EMAIL_REQUIRED_FOR", DEFAULTS["CONFIRMED_EMAIL_REQUIRED_FOR"]),
        "LIMIT_PASSWORD_RESET": os.environ.get("LIMIT_PASSWORD_RESET")
        or DEFAULTS["LIMIT_PASSWORD_RESET"],
        "MAIL_URL": os.environ.get("MAIL_URL") or None,
        "MAIL_FROM": os.environ.get("MAIL_FROM") or DEFAULTS["MAIL_FROM"],
        "MAIL_RETRY_DELAY": _int("MAIL_RETRY_DELAY", DEFAULTS["MAIL_RETRY_DELAY"]),
        "MAIL_RETRY_MAX_DELAY": _int("MAIL_RETRY_MAX_DELAY", DEFAULTS["MAIL_RETRY_MAX_DELAY"]),
        "MAIL_RETRY_FOR": _int("MAIL_RETRY_FOR", DEFAULTS["MAIL_RETRY_FOR"]),
        "MAIL_SEND_LEASE": _int("MAIL_SEND_LEASE", DEFAULTS["MAIL_SEND_LEASE"]),
        "MAIL_SMTP_TIMEOUT": _int("MAIL_SMTP_TIMEOUT", DEFAULTS["MAIL_SMTP_TIMEOUT"]),
        "QUEUE_URL": os.environ.get("QUEUE_URL")
        or "sqlite:///" + str(Path(instance_path) / "queue.db"),
        "QUEUE_NAME": os.environ.get("QUEUE_NAME") or DEFAULTS["QUEUE_NAME"],
        "QUEUE_WORKERS": _int("QUEUE_WORKERS", DEFAULTS["QUEUE_WORKERS"]),
        "TWO_FACTOR_REQUIRED_ROLES": os.environ.get("TWO_FACTOR_REQUIRED_ROLES",
                                                    DEFAULTS["TWO_FACTOR_REQUIRED_ROLES"]),
        "SITE_TIMEZONE": check_site_timezone(os.environ.get("SITE_TIMEZONE") or "UTC"),
    }
    unknown = {part.strip() for part in settings["CONFIRMED_EMAIL_REQUIRED_FOR"].split(",")
               } - {"", *CONFIRMABLE_ACTIVITIES}
    if unknown:
        raise InsecureConfiguration(
            "CONFIRMED_EMAIL_REQUIRED_FOR names what needs a confirmed address, from "
            f"{', '.join(CONFIRMABLE_ACTIVITIES)}; unknown: {', '.join(sorted(unknown))}")
    in_process = os.environ.get("QUEUE_IN_PROCESS")
    if in_process is not None and in_process.strip():
        settings["QUEUE_IN_PROCESS"] = _flag("QUEUE_IN_PROCESS", False)
    check_mail_and_queue(settings)
    for name in (*ROOM_LIMITS, *ROLL_LIMITS):
        settings[name] = _limit_setting(name)
    check_two_factor_roles(settings["TWO_FACTOR_REQUIRED_ROLES"])
    if settings["LOG_FORMAT"] not in {"text", "json"}:
        raise InsecureConfiguration(
            f"LOG_FORMAT must be text or json, got {settings['LOG_FORMAT']!r}")
    return settings


# The limits a meeting on one address meets first: settable from the environment.
ROOM_LIMITS = ("LIMIT_SIGN_IN", "LIMIT_SIGN_IN_FAILED", "LIMIT_SIGN_IN_FAILED_ACCOUNT",
               "LIMIT_REGISTER", "LIMIT_VOTE", "LIMIT_SIMILAR")
# Verification against the roll: attempts per account and per address (settable too).
ROLL_LIMITS = ("LIMIT_ROLL_VERIFY", "LIMIT_ROLL_VERIFY_ADDRESS")


def _limit_setting(name: str) -> str:
    """A `limits` string from the environment (or the default), refused at start if unreadable."""
    from limits import parse_many

    value = (os.environ.get(name) or "").strip() or DEFAULTS[name]
    try:
        parse_many(value)
    except ValueError:
        raise InsecureConfiguration(
            f"{name} must be a rate limit such as '60 per minute;600 per hour', got {value!r}"
        ) from None
    return value


def normalize_database_url(url: str) -> str:
    """Route plain `postgres://` and `postgresql://` URLs to psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def engine_options(database_url: str) -> dict[str, Any]:
    """Connection pool settings: pre-ping always; pool sizes for server databases only.

    Pre-ping tests each pooled connection before use, so after a database restart the first
    request gets a fresh connection instead of an error. SQLite keeps SQLAlchemy's own pool.
    """
    options: dict[str, Any] = {"pool_pre_ping": True}
    if database_url.startswith("sqlite"):
        return options
    options.update(
        pool_size=_int("DATABASE_POOL_SIZE", 10),
        max_overflow=_int("DATABASE_MAX_OVERFLOW", 20),
        pool_recycle=_int("DATABASE_POOL_RECYCLE", 1800),
        pool_timeout=_int("DATABASE_POOL_TIMEOUT", 10),
    )
    if database_url.startswith("postgresql"):
        # Without it a database host that drops packets holds a worker for minutes.
        options["connect_args"] = {"connect_timeout": _int("DATABASE_CONNECT_TIMEOUT", 5)}
    for name in ("pool_size", "pool_recycle", "pool_timeout"):
        if options[name] < 1:
            raise InsecureConfiguration(f"DATABASE_{name.upper()} must be at least 1")
    if options["max_overflow"] < 0:
        raise InsecureConfiguration("DATABASE_MAX_OVERFLOW must not be negative")
    return options


DEFAULTS: dict[str, Any] = {
    "ENV_NAME": "development",
    "SITE_TIMEZONE": "UTC",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SOCKETIO_ASYNC_MODE": "eventlet",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_DURATION": 60 * 60 * 24 * 30,
    "WTF_CSRF_TIME_LIMIT": None,
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_STRATEGY": "moving-window",
    # Per-actor limits; each is a `limits` string so operators can tune them.
    # A room on one address (a venue's Wi-Fi, a library's NAT): what one address may do is
    # generous, so a meeting of 300 signs in within minutes; guessing is stopped by counting
    # failed sign-ins, per address and, above all, per account.
    "LIMIT_SIGN_IN": "600 per minute;6000 per hour",
    "LIMIT_SIGN_IN_FAILED": "60 per minute;600 per hour",
    "LIMIT_SIGN_IN_FAILED_ACCOUNT": "5 per minute;20 per hour",
    "LIMIT_REGISTER": "60 per minute;600 per hour",
    "LIMIT_POST": "10 per minute;100 per hour",
    "LIMIT_FLAG": "20 per minute",
    "LIMIT_ASK": "5 per minute;30 per hour",
    "LIMIT_UPVOTE": "60 per minute",
    "LIMIT_VOTE": "30 per minute",
    # "Already asked?" look-ups by one account while it writes a question (the page asks at
    # most once per pause in typing).
    "LIMIT_SIMILAR": "60 per minute;600 per hour",
    # "Forgot the password" requests, per client address and per address asked for; each
    # account also gets at most 3 reset mails an hour, counted in the database.
    "LIMIT_PASSWORD_RESET": "5 per minute;20 per hour",
    # Verifying against the electoral roll (document id, date of birth, postcode): tries by one
    # account, and by one address (guessing someone's identity from many accounts).
    "LIMIT_ROLL_VERIFY": "5 per hour;10 per day",
    "LIMIT_ROLL_VERIFY_ADDRESS": "30 per hour;100 per day",
    # Rows of an uploaded or imported roll file: a line longer than this is refused as a whole.
    "ROLL_MAX_LINE": 4096,
    # The largest roll file the admin's upload page takes, in bytes (the command line has none).
    "ROLL_MAX_UPLOAD": 64 * 1024 * 1024,
    "SOCKET_MAX_PAYLOAD": 64 * 1024,
    # Connections the server's listening socket keeps waiting to be accepted (`serve`): a
    # meeting's start brings thousands at once. The system caps it (net.core.somaxconn).
    "SERVER_BACKLOG": 4096,
    "SOCKETIO_CHANNEL": "flask-socketio",
    "METRICS_TOKEN": None,
    "METRICS_ENABLED": False,
    "LOG_FORMAT": "text",
    # Seconds the numbers page, its charts and /api/v1/numbers keep a period's figures (0: none).
    "NUMBERS_CACHE_SECONDS": 60,
    # Flags from different residents that hide a forum post until a moderator reviews it.
    "FORUM_FLAG_THRESHOLD": 3,
    # What an account may do only once its address is confirmed: a comma list (`vote`), or empty.
    "CONFIRMED_EMAIL_REQUIRED_FOR": "vote",
    # Outgoing mail: no MAIL_URL writes each message under instance/mail/ (see participation/mail).
    "MAIL_URL": None,
    "MAIL_FROM": "Participation <participation@localhost>",
    # Seconds before the first retry of a message the SMTP server refused or could not take; each
    # later retry waits twice as long, up to MAIL_RETRY_MAX_DELAY, for MAIL_RETRY_FOR in all.
    "MAIL_RETRY_DELAY": 30,
    "MAIL_RETRY_MAX_DELAY": 30 * 60,
    "MAIL_RETRY_FOR": 24 * 60 * 60,
    # Seconds one consumer holds a message it is sending before another may try it.
    "MAIL_SEND_LEASE": 120,
    "MAIL_SMTP_TIMEOUT": 30,
    # The task queue (participation/jobs.py). QUEUE_URL None: a SQLite file in the instance folder.
    # QUEUE_IN_PROCESS None: on with the SQLite queue, off with Redis.
    "QUEUE_URL": None,
    "QUEUE_NAME": "participation",
    "QUEUE_IN_PROCESS": None,
    "QUEUE_WORKERS": 2,
    # None: Huey's immediate mode (tasks run at once, in the caller) when TESTING.
    "QUEUE_IMMEDIATE": None,
    # Roles that must pass a second factor (TOTP) to sign in; "" for none. Offered to everyone.
    "TWO_FACTOR_REQUIRED_ROLES": "admin,official",
    # Seconds a browser that gave the right password has to give its code.
    "TWO_FACTOR_PENDING_SECONDS": 300,
    # Codes tried at the second step, per address and per account (with a lock after ten misses).
    "LIMIT_TWO_FACTOR": "10 per minute;50 per hour",
}

ROLE_NAMES = ("resident", "moderator", "official", "admin")


def check_two_factor_roles(value: str) -> None:
    """`TWO_FACTOR_REQUIRED_ROLES` names only roles that exist (a typo would require nothing)."""
    unknown = [name.strip() for name in value.split(",")
               if name.strip() and name.strip().lower() not in ROLE_NAMES]
    if unknown:
        raise InsecureConfiguration(
            f"TWO_FACTOR_REQUIRED_ROLES names unknown roles {', '.join(unknown)}; use "
            f"{', '.join(ROLE_NAMES)} separated by commas, or nothing")


def check_mail_and_queue(settings: dict[str, Any]) -> None:
    """Refuse mail and queue URLs the application cannot use, saying which."""
    from email.utils import parseaddr
    from urllib.parse import urlsplit

    mail_url = settings.get("MAIL_URL")
    if mail_url and urlsplit(mail_url).scheme not in {"smtp", "smtp+starttls", "smtps"}:
        raise InsecureConfiguration(
            "MAIL_URL must start with smtp://, smtp+starttls:// or smtps://")
    sender = str(settings.get("MAIL_FROM") or "")
    if "\r" in sender or "\n" in sender or "@" not in parseaddr(sender)[1]:
        raise InsecureConfiguration("MAIL_FROM must be an address, as in Name <name@example.org>")
    queue_url = settings.get("QUEUE_URL")
    if queue_url and not str(queue_url).startswith(("sqlite:///", "redis://", "rediss://")):
        raise InsecureConfiguration("QUEUE_URL must start with sqlite:///, redis:// or rediss://")
    for name in ("MAIL_RETRY_DELAY", "MAIL_RETRY_MAX_DELAY", "MAIL_RETRY_FOR", "MAIL_SEND_LEASE",
                 "MAIL_SMTP_TIMEOUT", "QUEUE_WORKERS"):
        if name in settings and int(settings[name]) < 1:
            raise InsecureConfiguration(f"{name} must be at least 1")
    if int(settings.get("MAIL_SEND_LEASE", 120)) <= int(settings.get("MAIL_SMTP_TIMEOUT", 30)):
        # A consumer still talking to the server must not see its message taken by another.
        raise InsecureConfiguration("MAIL_SEND_LEASE must be longer than MAIL_SMTP_TIMEOUT")


def check_production(settings: dict[str, Any]) -> None:
    """Refuse to start production with settings that would be unsafe, saying which."""
    if settings.get("ENV_NAME") != "production":
        return
    problems = []
    key = settings.get("SECRET_KEY") or ""
    if len(key) < 32:
        problems.append("SECRET_KEY must be set to at least 32 random characters")
    roll_key = settings.get("ROLL_KEY") or ""
    if isinstance(roll_key, bytes):
        roll_key = roll_key.decode("utf-8", "replace")
    if len(roll_key) < 32:
        problems.append("ROLL_KEY must be set to at least 32 random characters (the key of the "
                        "electoral roll's hashes: keep it, and a copy of it, for as long as the "
                        "roll is used)")
    if settings.get("DEBUG"):
        problems.append("FLASK_DEBUG must be off")
    if not settings.get("SESSION_COOKIE_SECURE"):
        problems.append("SESSION_COOKIE_SECURE must be on (serve over HTTPS)")
    if not settings.get("PUBLIC_URL", "") or not str(settings["PUBLIC_URL"]).startswith("https://"):
        problems.append("PUBLIC_URL must be the site's https:// address")
    if problems:
        raise InsecureConfiguration(
            "Refusing to start in production: " + "; ".join(problems) + "."
        )
