"""Who may do what: the one place authorization is decided, for HTTP and Socket.IO alike.

`can(user, action, target)` answers; `require(...)` raises the domain error the caller turns into
a 401 or 403. Roles are checked against the user as loaded from the database for this request or
event, so a demotion takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from participation.errors import Forbidden, Unauthorized


class Role(StrEnum):
    RESIDENT = "resident"
    MODERATOR = "moderator"
    OFFICIAL = "official"
    ADMIN = "admin"


RANK = {Role.RESIDENT: 1, Role.MODERATOR: 2, Role.OFFICIAL: 3, Role.ADMIN: 4}

Rule = Callable[[Any, Any], bool]


def _active(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False)
                and getattr(user, "is_active", False))


def role_of(user: Any) -> Role | None:
    """The user's role, or None for visitors and inactive accounts."""
    if not _active(user):
        return None
    return Role(user.role)


def has_role(user: Any, *roles: Role) -> bool:
    role = role_of(user)
    if role is None:
        return False
    # Admins may do everything any other role may.
    return role in roles or role is Role.ADMIN


def signed_in(user: Any, target: Any) -> bool:
    return role_of(user) is not None


def roles(*allowed: Role) -> Rule:
    def rule(user: Any, target: Any) -> bool:
        return has_role(user, *allowed)

    return rule


def is_author(user: Any, target: Any) -> bool:
    return _active(user) and getattr(target, "author_id", None) == user.id


def townhall_visible(user: Any, townhall: Any) -> bool:
    """Private town halls are for signed-in accounts; visitors may watch public ones."""
    return townhall is None or bool(townhall.is_public) or signed_in(user, townhall)


def poll_visible(user: Any, poll: Any) -> bool:
    """A poll is as visible as the town hall it is held in; forum topics are public."""
    if poll.townhall_id is not None:
        return poll.townhall is not None and townhall_visible(user, poll.townhall)
    return poll.topic is not None


def thread_visible(user: Any, thread: Any) -> bool:
    """A thread hidden with its opening post is named to moderators only."""
    return not thread.hidden or has_role(user, Role.MODERATOR)


RULES: dict[str, Rule] = {
    # Accounts and administration
    "account.view": signed_in,
    "admin.users": roles(Role.ADMIN),
    "admin.change_role": roles(Role.ADMIN),
    "admin.reset_two_factor": roles(Role.ADMIN),
    "admin.suspend": lambda user, target: has_role(user, Role.ADMIN)
    and (target is None or target.id != user.id),
    # Forums, their moderation and notifications
    "forum.topic.create": roles(Role.OFFICIAL),
    "forum.topic.edit": roles(Role.OFFICIAL),
    "forum.post": signed_in,
    "forum.post.edit": is_author,
    "forum.post.delete": is_author,
    "forum.post.history": lambda user, target: is_author(user, target)
    or has_role(user, Role.MODERATOR),
    "forum.flag": lambda user, target: signed_in(user, target) and not is_author(user, target),
    "forum.follow": signed_in,
    "forum.moderate": roles(Role.MODERATOR),
    # Whether a page may name the thread (its title) to this user
    "forum.thread.view": thread_visible,
    "notifications.view": signed_in,
    # Town halls (target: the TownHall, or None). Every page that names or links a town hall,
    # or anything held in one, asks this rule (or "poll.view", which asks it in turn).
    "townhall.view": townhall_visible,
    "townhall.create": roles(Role.OFFICIAL),
    "townhall.edit": roles(Role.OFFICIAL),
    "townhall.set_status": roles(Role.OFFICIAL, Role.MODERATOR),
    "townhall.moderate": roles(Role.MODERATOR),
    "townhall.enter_question": roles(Role.MODERATOR),
    "townhall.ask": signed_in,
    "townhall.upvote": signed_in,
    # "Remind me" an hour before a town hall the person may see starts
    "townhall.remind": lambda user, townhall: signed_in(user, townhall)
    and townhall_visible(user, townhall),
    # Polls
    "poll.view": poll_visible,
    "poll.create": roles(Role.OFFICIAL),
    "poll.vote": signed_in,
    "poll.control": lambda user, poll: has_role(user, Role.OFFICIAL)
    or (has_role(user, Role.MODERATOR) and bool(getattr(poll, "in_live_townhall", False))),
    "poll.release_results": roles(Role.OFFICIAL),
    # Decision records
    "decisions.publish": roles(Role.OFFICIAL),
}


def can(user: Any, action: str, target: Any = None) -> bool:
    """Whether `user` (a User, or None/anonymous for visitors) may do `action` to `target`."""
    try:
        rule = RULES[action]
    except KeyError:
        raise KeyError(f"unknown permission {action!r}") from None
    return bool(rule(user, target))


def require(user: Any, action: str, target: Any = None) -> None:
    """Raise Unauthorized for visitors and Forbidden for others when `can` says no."""
    if can(user, action, target):
        return
    if role_of(user) is None:
        raise Unauthorized()
    raise Forbidden()
