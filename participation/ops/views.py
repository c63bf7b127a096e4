"""Health and readiness together: /healthz (the process answers) and /readyz (it can serve) for
the proxy and the orchestrator, and /metrics for Prometheus."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy import text

from participation.extensions import db
from participation.ops import metrics

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__)

CHECK_TIMEOUT_SECONDS = 2
RETRY_AFTER_SECONDS = 5


@bp.route("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """The process is alive (no dependencies checked)."""
    return {"status": "ok"}, 200


def check_database() -> None:
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
                                  socket_timeout=CHECK_TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()


def _is_redis(url: str | None) -> bool:
    return bool(url) and str(url).split("://", 1)[0] in {"redis", "rediss", "unix"}


def readiness_checks() -> dict[str, Any]:
    """What this worker needs to serve: the database, and the queues it was configured with."""
    checks: dict[str, Any] = {"database": check_database}
    queue = current_app.config.get("SOCKETIO_MESSAGE_QUEUE")
    if _is_redis(queue):
        checks["message_queue"] = lambda: check_redis(queue)
    limits = current_app.config.get("RATELIMIT_STORAGE_URI")
    if _is_redis(limits):
        checks["rate_limit_storage"] = lambda: check_redis(limits)
    return checks


@bp.route("/readyz")
def readyz() -> Response:
    """Ready to take traffic: 200 when every dependency answers, 503 naming those that do not."""
    results: dict[str, dict[str, Any]] = {}
    for name, check in readiness_checks().items():
        try:
            check()
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"
            # Only the exception's class: its text may hold a host name or credentials.
            log.warning("readiness check %s failed: %s", name, type(error).__name__)
            results[name] = {"ok": False, "error": type(error).__name__}
        else:
            results[name] = {"ok": True}
    ready = all(result["ok"] for result in results.values())
    failed = sorted(name for name, result in results.items() if not result["ok"])
    body: dict[str, Any] = {"status": "ok" if ready else "unavailable", "checks": results}
    if failed:
        body["failed"] = failed
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _metrics_allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                  str(token).encode())
    return bool(current_app.config.get("METRICS_ENABLED"))


@bp.route("/metrics")
def prometheus_metrics() -> Response:
    """This worker's metrics; hidden unless METRICS_TOKEN or METRICS_ENABLED is set."""
    if not current_app.config.get("METRICS_TOKEN") and not current_app.config.get(
            "METRICS_ENABLED"):
        abort(404)
    if not _metrics_allowed():
        response = jsonify({"error": "unauthorized", "message": "A valid bearer token is needed.",
                            "status": 401})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = Response(metrics.exposition(), mimetype=None, content_type=metrics.CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response
