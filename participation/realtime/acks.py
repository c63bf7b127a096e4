"""Every client-to-server event is answered through its acknowledgement.

`acknowledged` wraps a handler so that success is `{"ok": true, ...}` and any failure is
`{"ok": false, "error": code, "message": text}`: bad payloads, domain errors, rate limits, an
unreachable database, and bugs alike. The socket and the server stay up either way, and nothing
half-done is kept: the session is rolled back on every failure.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from participation.errors import DomainError, InvalidInput, ServiceUnavailable
from participation.extensions import db
from participation.ops import metrics

log = logging.getLogger(__name__)

Ack = dict[str, Any]


def error_ack(error: DomainError) -> Ack:
    return {"ok": False, "error": error.code, "message": error.message}


def _check_payload(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput(_("The message must be a JSON object."))
    limit = current_app.config["SOCKET_MAX_PAYLOAD"]
    try:
        size = len(json.dumps(payload, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        raise InvalidInput(_("The message could not be read.")) from None
    if size > limit:
        raise InvalidInput(_('The message is larger than %(value)s KiB.', value=limit // 1024))
    return payload


def acknowledged(handler: Callable[[dict[str, Any]], Ack | None]) -> Callable[..., Ack]:
    @functools.wraps(handler)
    def wrapper(payload: Any = None, *extra: Any) -> Ack:
        started = time.perf_counter()
        ack = _answer(handler, payload)
        metrics.socket_event_handled(handler.__name__, "ok" if ack["ok"] else ack["error"],
                                     time.perf_counter() - started)
        return ack

    return wrapper


def _answer(handler: Callable[[dict[str, Any]], Ack | None], payload: Any) -> Ack:
    try:
        result = handler(_check_payload(payload))
    except DomainError as error:
        db.session.rollback()
        if error.code in ("unauthorized", "forbidden"):
            log.warning("refused socket event %s: %s", handler.__name__, error.message)
        return error_ack(error)
    except (OperationalError, PoolTimeout) as error:
        log.warning("database unavailable during %s: %s", handler.__name__,
                    type(error).__name__)
        metrics.database_error("socket")
        rollback_quietly()
        return error_ack(ServiceUnavailable())
    except Exception:
        log.exception("unhandled error in socket event %s", handler.__name__)
        rollback_quietly()
        return {"ok": False, "error": "internal",
                "message": _("Something went wrong on our side; please try again.")}
    return {"ok": True, **(result or {})}


def rollback_quietly() -> None:
    """Roll back; with the database gone, the rollback itself may fail and must not escape."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001
        log.warning("rollback failed; the connection is discarded")
        db.session.remove()


def require_fields(payload: dict[str, Any], **types: type | tuple[type, ...]) -> None:
    """Raise InvalidInput unless every named field is present with the given type."""
    for name, expected in types.items():
        value = payload.get(name)
        if value is None:
            raise InvalidInput(_("'%(name)s' is required.", name=name))
        # bool is an int subclass; an id or count given as true/false is a mistake.
        if isinstance(value, bool) and expected in (int, (int,)):
            raise InvalidInput(_("'%(name)s' must be a whole number.", name=name))
        if not isinstance(value, expected):
            raise InvalidInput(_("'%(name)s' has the wrong type.", name=name))
