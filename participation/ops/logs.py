"""Log records as text or one JSON object a line, never carrying residents' secrets.

Every record passes through `redact` before it is written: passwords, tokens, cookies,
credentials in URLs and email addresses are replaced, in the message, in the formatted
exception and in every extra field. The filter sits on the handler, so it also covers records
from libraries (SQLAlchemy, Socket.IO, eventlet) that propagate to the root logger.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

REDACTED = "[redacted]"

SENSITIVE_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[_-]?key|authori[sz]ation|cookie|session|csrf|"
    r"credential|e-?mail",
    re.IGNORECASE,
)

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]+@",
                              re.IGNORECASE)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_COOKIE_HEADER = re.compile(r"\b(Set-Cookie|Cookie)\s*:\s*[^\r\n]+", re.IGNORECASE)
_KEY_VALUE = re.compile(
    r"(?P<key>[\"']?\b[\w-]*(?:pass(?:word|wd|phrase)?|secret|token|api[_-]?key|"
    r"authori[sz]ation|cookie|session|csrf|credential)[\w-]*[\"']?)"
    r"(?P<sep>\s*[=:]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;&}\])]+)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact(text: str) -> str:
    """Replace secrets and email addresses in free text."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    text = _COOKIE_HEADER.sub(lambda m: f"{m[1]}: {REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m[1]} {REDACTED}", text)
    text = _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    return _EMAIL.sub("[email]", text)


def redact_value(key: str, value: Any) -> Any:
    """An extra field's value with secrets removed; sensitive keys lose their value entirely."""
    if SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact_value("", v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(repr(value))


class RedactingFilter(logging.Filter):
    """Rewrite each record in place so that no formatter can see a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call must still be logged, not lost
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        # The traceback is now text; dropping exc_info keeps formatters from rebuilding it.
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key in list(vars(record)):
            if key not in _STANDARD_ATTRIBUTES:
                setattr(record, key, redact_value(key, getattr(record, key)))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, process, and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key not in entry:
                entry[key] = value
        return json.dumps(entry, default=repr, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"


def install_log_handler(log_format: str = "text", stream: IO[str] | None = None,
                        level: int = logging.INFO) -> logging.Handler:
    """Send the root logger's records to `stream` (stderr), redacted, as text or JSON.

    Calling it again replaces the handler it installed before instead of adding a second one.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_participation", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._participation = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
