"""The Flask-Login id of a signed-in browser or socket: "<account id>:<session token>".

Accounts write it (`User.get_id`); the page loader and the socket layer read it back here.
"""

from __future__ import annotations


def parse_login_id(value: object) -> tuple[int, str] | None:
    """(account id, session token) from a login id such as "12:Zx9…", or None."""
    if not isinstance(value, str) or ":" not in value:
        return None
    raw_id, _, token = value.partition(":")
    if not raw_id.isdigit() or not token:
        return None
    return int(raw_id), token
