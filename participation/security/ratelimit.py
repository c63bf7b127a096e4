"""Rate limits for Socket.IO events, sharing Flask-Limiter's storage (memory, or Redis)."""

from __future__ import annotations

from flask import current_app
from limits import parse_many

from participation.errors import RateLimited
from participation.extensions import limiter


def hit_limit(setting: str, actor_key: str) -> None:
    """Count one action against the limits named by config `setting`; raise when over.

    `actor_key` identifies who acts (normally "user:<id>"), so each resident has their own budget
    and a flood from one cannot slow the others.
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    strategy = limiter.limiter
    for item in parse_many(current_app.config[setting]):
        if not strategy.hit(item, prefix, "socket", setting, actor_key):
            raise RateLimited()
