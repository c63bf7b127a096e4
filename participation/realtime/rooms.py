"""Socket.IO namespace and room names: the only place they are spelled."""

from __future__ import annotations

NAMESPACE = "/townhall"


def townhall_room(townhall_id: int) -> str:
    """Everyone watching a town hall."""
    return f"townhall:{int(townhall_id)}"


def moderators_room(townhall_id: int) -> str:
    """Moderators of a town hall: pending questions go only here."""
    return f"townhall:{int(townhall_id)}:mod"


def user_room(user_id: int) -> str:
    """Every socket of one account: private notices such as "your question was rejected"."""
    return f"user:{int(user_id)}"
