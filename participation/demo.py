"""Demo content for a new database: accounts for every role and something in every feature.

Each domain adds its part as a function in its own `demo.py`, listed in DEMO_STEPS; they run in
that order after the accounts exist, inside one transaction the caller commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from participation.accounts.models import TwoFactor, User
from participation.accounts.services import register_user
from participation.accounts.two_factor import new_secret, seal_secret
from participation.db import utcnow
from participation.security.permissions import Role


class DatabaseNotEmpty(RuntimeError):
    """Demo content goes only into a database that has no accounts yet."""


@dataclass
class DemoAccounts:
    password: str
    users: dict[str, User] = field(default_factory=dict)
    # The authenticator key of the demo's accounts whose role requires a second factor (one key
    # for all of them, like the password), and those accounts' keys in `users`.
    two_factor_key: str | None = None
    two_factor_accounts: list[str] = field(default_factory=list)
    # The roll key the demo roll is hashed under (the app's ROLL_KEY); None seeds no roll.
    roll_key: bytes | None = None

    @property
    def emails(self) -> list[tuple[str, str]]:
        return [(key, user.email) for key, user in self.users.items()]


DemoStep = Callable[[Session, DemoAccounts], None]

# Each domain's seeding function, in order: later domains link to what earlier ones created.
DEMO_STEPS: tuple[str, ...] = ()
DEMO_STEPS += ("participation.forums.demo:seed_forums",)
DEMO_STEPS += ("participation.townhall.demo:seed_townhalls",)
# Before the polls: a poll for verified residents needs verified residents.
DEMO_STEPS += ("participation.roll.demo:seed_roll",)
DEMO_STEPS += ("participation.polls.demo:seed_polls",)


def _resolve(path: str) -> DemoStep:
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


DEMO_PEOPLE = (
    ("admin", "admin@demo.participation.test", "Alex Admin", Role.ADMIN),
    ("official", "official@demo.participation.test", "Olivia Official", Role.OFFICIAL),
    ("moderator", "moderator@demo.participation.test", "Morgan Moderator", Role.MODERATOR),
    ("resident", "resident@demo.participation.test", "Rosa Resident", Role.RESIDENT),
    ("resident2", "sam@demo.participation.test", "Sam Okafor", Role.RESIDENT),
    ("resident3", "lee@demo.participation.test", "Lee Chen", Role.RESIDENT),
    ("resident4", "noor@demo.participation.test", "Noor Haddad", Role.RESIDENT),
)

# How long ago each demo account was opened: every one before its first post in the demo.
JOINED_DAYS_AGO = {"admin": 240, "official": 240, "moderator": 235, "resident": 230,
                   "resident3": 210, "resident4": 205, "resident2": 155}


def seed_demo(session: Session, password: str | None = None, *,
              two_factor_roles: Collection[str] = ("admin", "official"),
              two_factor_key: str | None = None,
              roll_key: bytes | None = None) -> DemoAccounts:
    """Demo accounts and content. Accounts whose role is in `two_factor_roles` get a second
    factor with `two_factor_key` (a new random key when None), so they can sign in. The demo
    roll is hashed under `roll_key`, by default the app's ROLL_KEY."""
    if session.scalar(select(func.count()).select_from(User)):
        raise DatabaseNotEmpty()
    if roll_key is None and has_app_context() and current_app.config.get("ROLL_KEY"):
        key = current_app.config["ROLL_KEY"]
        roll_key = key if isinstance(key, bytes) else str(key).encode("utf-8")
    accounts = DemoAccounts(password=password or secrets.token_urlsafe(9), roll_key=roll_key)
    for key, email, name, role in DEMO_PEOPLE:
        user = register_user(session, email=email, display_name=name,
                             password=accounts.password, role=role, confirmed=True)
        assert user is not None  # noqa: S101 - the database was checked empty above
        accounts.users[key] = user
        if str(role) in two_factor_roles:
            accounts.two_factor_key = accounts.two_factor_key or two_factor_key or new_secret()
            # Enrolled as if its owner had scanned the key: the demo prints it.
            user.two_factor = TwoFactor(secret=seal_secret(accounts.two_factor_key))
            accounts.two_factor_accounts.append(key)
    # The demo's people joined over the last months, so the numbers page has a history.
    joined = utcnow()
    for key, days_ago in JOINED_DAYS_AGO.items():
        accounts.users[key].created_at = joined - timedelta(days=days_ago)
    for path in DEMO_STEPS:
        _resolve(path)(session, accounts)
    session.flush()
    return accounts


DEMO_STEPS += ("participation.decisions.demo:seed_decisions",)
