"""The declarative Base every model shares, and the SQLite settings the embedded database needs."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, extract, func
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored without zone and always read back as aware UTC.

    SQLite keeps no zone; PostgreSQL's `timestamp` neither. Storing naive UTC everywhere keeps the
    two databases identical, and reading back aware values keeps comparisons in code honest.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


# The largest id an integer primary key holds on every supported database (PostgreSQL `integer`).
MAX_ROW_ID = 2**31 - 1
_ROW_ID_DIGITS = re.compile(r"[0-9]{1,10}")


def row_id(value: object) -> int | None:
    """`value` (an int, or its digits as text) as an id a row can have; None when it cannot be
    one, so that no lookup sends the database driver a number it cannot bind."""
    if isinstance(value, str) and _ROW_ID_DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ROW_ID else None


def utcnow() -> datetime:
    """The server clock, which decides every open and close time."""
    return datetime.now(UTC)


# Aggregates the figures share, written once for both databases


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def month_of(session: Session, column: Any) -> Any:
    """The "YYYY-MM" of a moment (UTC), to group by month."""
    if dialect_of(session) == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def seconds_between(session: Session, start: Any, end: Any) -> Any:
    if dialect_of(session) == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return extract("epoch", end - start)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: object, connection_record: object) -> None:
    """WAL for concurrent readers, a busy timeout instead of instant lock errors, and real FKs.

    pysqlite's own transaction handling is switched off so that `_begin_immediately` decides how
    each transaction starts.
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# One lock per SQLite file in this process. Under eventlet, threading.Lock is patched into a
# green lock, so a request waiting for the database yields to the one holding it; SQLite's own
# busy wait would instead block the whole process, and the holder could never finish.
_sqlite_locks: dict[str, threading.Lock] = {}
_sqlite_locks_guard = threading.Lock()
_HELD = "participation_sqlite_lock"
LOCK_WAIT_SECONDS = 10


def _sqlite_lock(connection: Connection) -> threading.Lock:
    key = connection.engine.url.database or ":memory:"
    with _sqlite_locks_guard:
        return _sqlite_locks.setdefault(key, threading.Lock())


@event.listens_for(Engine, "begin")
def _begin_immediately(connection: Connection) -> None:
    """Take SQLite's write lock at BEGIN, queueing first on this process's lock.

    A deferred transaction that reads and then writes fails at once with "database is locked" when
    another writer got in between, ignoring the busy timeout; BEGIN IMMEDIATE makes writers queue
    instead. Other processes (the command line, a second server) still queue on the busy timeout.
    """
    if connection.dialect.name != "sqlite":
        return
    lock = _sqlite_lock(connection)
    # If the wait runs out, BEGIN IMMEDIATE still waits on SQLite's own busy timeout and raises
    # the usual OperationalError when that runs out too.
    if lock.acquire(timeout=LOCK_WAIT_SECONDS):
        connection.info[_HELD] = lock
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except Exception:
        _release(connection)
        raise


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _release(connection: Connection) -> None:
    lock = connection.info.pop(_HELD, None)
    if lock is not None:
        lock.release()


# Names of tables and indexes that a migration creates by hand because the models cannot describe
# them (full-text search structures). Domains add to it; schema comparison skips them.
UNMANAGED_SCHEMA_OBJECTS: set[str] = set()


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Alembic hook: leave the hand-made search structures out of model comparison."""
    return not (reflected and compare_to is None and name in UNMANAGED_SCHEMA_OBJECTS)
