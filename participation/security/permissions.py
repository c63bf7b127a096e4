"""Who may do what: the one place authorization is decided, for HTTP and Socket.IO alike.

`can(user, action, target)` answers; `require(...)` raises the domain error the caller turns into
a 401 or 403. Roles are checked against the user as loaded from the database for this request or
event, so a demotion takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from flask import current_app, has_app_context
from flask_babel import lazy_gettext

from participation.config import CONFIRMABLE_ACTIVITIES, DEFAULTS
from participation.errors import EmailNotConfirmed, Forbidden, Unauthorized
from participation.i18n import N_


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


def confirmed_email_required(activity: str) -> bool:
    """Whether the setting CONFIRMED_EMAIL_REQUIRED_FOR names `activity` (`vote`, `ask`, ...)."""
    setting = (current_app.config.get("CONFIRMED_EMAIL_REQUIRED_FOR")
               if has_app_context() else None)
    if setting is None:
        setting = DEFAULTS["CONFIRMED_EMAIL_REQUIRED_FOR"]
    return activity in {part.strip() for part in str(setting).split(",")}


def held_back_by_email(user: Any, activity: str) -> bool:
    """Whether this active account may not do `activity` only because its address is not
    confirmed yet: what a page checks to say so and offer the link again."""
    return (_active(user) and confirmed_email_required(activity)
            and getattr(user, "email_confirmed_at", None) is None)


class NeedsConfirmedEmail:
    """A rule that also asks for a confirmed address when the setting names `activity`."""

    def __init__(self, activity: str, rule: Rule) -> None:
        if activity not in CONFIRMABLE_ACTIVITIES:
            raise ValueError(f"unknown activity {activity!r}")
        self.activity = activity
        self.rule = rule

    def __call__(self, user: Any, target: Any) -> bool:
        return self.rule(user, target) and not held_back_by_email(user, self.activity)

    def refusal(self, user: Any, target: Any) -> EmailNotConfirmed | None:
        """The error to raise when the address is all that stands in the way."""
        if self.rule(user, target) and held_back_by_email(user, self.activity):
            return EmailNotConfirmed(lazy_gettext(EMAIL_NEEDED[self.activity]))
        return None


EMAIL_NEEDED = {
    "vote": N_("Confirm your email address before you vote: follow the link we mailed you, or "
               "send it again from your account page."),
    "ask": N_("Confirm your email address before you ask: follow the link we mailed you, or "
              "send it again from your account page."),
    "upvote": N_("Confirm your email address before you upvote: follow the link we mailed you, "
                 "or send it again from your account page."),
    "post": N_("Confirm your email address before you post: follow the link we mailed you, or "
               "send it again from your account page."),
    "flag": N_("Confirm your email address before you flag a post: follow the link we mailed "
               "you, or send it again from your account page."),
}


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
    "forum.post": NeedsConfirmedEmail("post", signed_in),
    "forum.post.edit": is_author,
    "forum.post.delete": is_author,
    # An official response's earlier versions are for every signed-in reader.
    "forum.post.history": lambda user, target: is_author(user, target)
    or has_role(user, Role.MODERATOR)
    or (signed_in(user, target) and getattr(target, "official_department", None) is not None),
    "forum.flag": NeedsConfirmedEmail(
        "flag", lambda user, target: signed_in(user, target) and not is_author(user, target)),
    "forum.follow": signed_in,
    "forum.moderate": roles(Role.MODERATOR),
    # Post the city's answer in a thread, and see the threads still waiting for one
    "forum.respond": roles(Role.OFFICIAL),
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
    "townhall.ask": NeedsConfirmedEmail("ask", signed_in),
    "townhall.upvote": NeedsConfirmedEmail("upvote", signed_in),
    # "Remind me" an hour before a town hall the person may see starts
    "townhall.remind": lambda user, townhall: signed_in(user, townhall)
    and townhall_visible(user, townhall),
    # Polls
    "poll.view": poll_visible,
    "poll.create": roles(Role.OFFICIAL),
    # Every ballot, by form or socket, passes polls.services._check_request, which asks this.
    "poll.vote": NeedsConfirmedEmail("vote", signed_in),
    "poll.control": lambda user, poll: has_role(user, Role.OFFICIAL)
    or (has_role(user, Role.MODERATOR) and bool(getattr(poll, "in_live_townhall", False))),
    "poll.release_results": roles(Role.OFFICIAL),
    # Poll officers enter ballots taken on paper, by phone or in person (polls.paper).
    "poll.enter_ballot": roles(Role.MODERATOR, Role.OFFICIAL),
    # Decision records
    "decisions.publish": roles(Role.OFFICIAL),
    # The electoral roll (participation/roll)
    "roll.import": roles(Role.ADMIN),
    "roll.verify": signed_in,
    "roll.verify_in_person": roles(Role.MODERATOR),
}


def can(user: Any, action: str, target: Any = None) -> bool:
    """Whether `user` (a User, or None/anonymous for visitors) may do `action` to `target`."""
    try:
        rule = RULES[action]
    except KeyError:
        raise KeyError(f"unknown permission {action!r}") from None
    return bool(rule(user, target))


def require(user: Any, action: str, target: Any = None) -> None:
    """Raise Unauthorized for visitors and Forbidden for others when `can` says no
    (EmailNotConfirmed, a Forbidden, when only an unconfirmed address stands in the way)."""
    if can(user, action, target):
        return
    rule = RULES[action]
    if isinstance(rule, NeedsConfirmedEmail) and (refusal := rule.refusal(user, target)):
        raise refusal
    if role_of(user) is None:
        raise Unauthorized()
    raise Forbidden()
