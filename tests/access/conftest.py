"""One seeded demo site per test process for the browser checks, and a signed-in state per role.

The demo (`participation demo`) has something on every page, so each page type is checked with
real content. Signing in happens once per role; each test gets a fresh context from its state.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer
from tests.two_factor import demo_two_factor_key, finish_browser_sign_in, remember

ROLES = ("visitor", "resident", "moderator", "official", "admin")
DEMO_EMAILS = {
    "resident": "resident@demo.participation.test",
    "resident2": "sam@demo.participation.test",
    "moderator": "moderator@demo.participation.test",
    "official": "official@demo.participation.test",
    "admin": "admin@demo.participation.test",
}


def has_domain(name: str) -> bool:
    return importlib.util.find_spec(f"participation.{name}") is not None


# Every page type: (name, how to find its path on the demo site).
PAGE_TYPES = [
    "home", "register", "login", "forgot_password", "account", "admin_users", "admin_user",
    "admin_audit", "topics", "topic", "thread", "flag_queue", "notifications",
    "notification_preferences", "search",
    "townhalls", "townhall_live", "townhall_console", "townhall_projector", "townhall_transcript",
    "townhall_edit", "townhall_upcoming", "forum_awaiting", "numbers",
]
if has_domain("polls"):
    PAGE_TYPES += ["polls", "poll"]
if has_domain("decisions"):
    PAGE_TYPES += ["decisions", "decision", "decision_commitments", "decision_publish"]


@dataclass
class DemoSite:
    server: LiveServer
    password: str
    paths: dict[str, str] = field(default_factory=dict)
    states: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def links(self, path: str, pattern: str) -> list[str]:
        page = requests.get(self.url + path, timeout=10).text
        return re.findall(r'href="(' + pattern + r')"', page)

    def first_link(self, path: str, pattern: str) -> str:
        found = self.links(path, pattern)
        assert found, f"no link matching {pattern} on {path}"
        return found[0]

    def resolve(self, name: str) -> str:
        if name not in self.paths:
            self.paths[name] = self._find(name)
        return self.paths[name]

    def _find(self, name: str) -> str:
        fixed = {
            "home": "/", "register": "/register", "login": "/login", "account": "/account",
            "forgot_password": "/password/forgot",
            "admin_users": "/admin/users", "admin_audit": "/admin/audit", "topics": "/topics",
            "flag_queue": "/moderation/flags", "notifications": "/notifications",
            "notification_preferences": "/account/notifications",
            "search": "/search?q=shade", "townhalls": "/townhalls", "polls": "/polls",
            "decisions": "/decisions", "decision_commitments": "/decisions/commitments",
            "decision_publish": "/decisions/new", "forum_awaiting": "/forums/awaiting",
            "numbers": "/numbers",
        }
        if name in fixed:
            return fixed[name]
        if name == "admin_user":
            return "/admin/users/4"  # the demo's first resident (accounts are seeded in order)
        if name == "topic":
            return self.first_link("/topics", r"/topics/\d+")
        if name == "thread":
            for topic in self.links("/topics", r"/topics/\d+"):
                threads = self.links(topic, r"/threads/\d+")
                if threads:
                    return threads[0]
            raise AssertionError("no thread on the demo site")
        townhalls = requests.get(self.url + "/api/v1/townhalls", timeout=10).json()
        items = townhalls.get("items", townhalls) if isinstance(townhalls, dict) else townhalls
        by_status = {t["status"]: t["id"] for t in items}
        if name == "townhall_live":
            return f"/townhalls/{by_status['live']}"
        if name == "townhall_upcoming":
            return f"/townhalls/{by_status['scheduled']}"
        if name == "townhall_console":
            return f"/townhalls/{by_status['live']}/moderate"
        if name == "townhall_edit":
            return f"/townhalls/{by_status['live']}/edit"
        if name == "townhall_projector":
            return f"/townhalls/{by_status['live']}/projector"
        if name == "townhall_transcript":
            return f"/townhalls/{by_status['ended']}/transcript"
        if name == "poll":
            return self.first_link("/polls", r"/polls/\d+")
        if name == "decision":
            # The oldest record listed: in the demo, the one resting on a poll, a town hall and a
            # thread, with commitments and an amendment.
            records = self.links("/decisions", r"/decisions/\d+")
            assert records, "no decision record on the demo site"
            return min(records, key=lambda path: int(path.rsplit("/", 1)[1]))
        raise KeyError(name)


def seed_demo_site(folder: Path, schema: Path) -> DemoSite:
    """`participation demo` on a copy of the migrated `schema`, then the server."""
    server = LiveServer(folder)
    shutil.copy(schema, server.env["DATABASE_URL"].removeprefix("sqlite:///"))
    result = server.command("demo")
    assert result.returncode == 0, result.stderr
    password = re.search(r"password for all: (\S+?)\)", result.stdout)
    assert password, result.stdout
    key = demo_two_factor_key(result.stdout)
    for role in ("official", "admin"):
        remember(DEMO_EMAILS[role], key)
    return DemoSite(server=server.start(), password=password.group(1))


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory,
              migrated_sqlite: Path) -> Iterator[DemoSite]:
    site = seed_demo_site(tmp_path_factory.mktemp("demo-site"), migrated_sqlite)
    yield site
    site.server.stop()


def sign_in_page(page: Any, site: DemoSite, role: str) -> None:
    page.goto(f"{site.url}/login")
    page.fill("#email", DEMO_EMAILS[role])
    page.fill("#password", site.password)
    page.locator("main form button[type=submit]").click()
    finish_browser_sign_in(page, DEMO_EMAILS[role])
    page.wait_for_url(re.compile(r".*/$"))


def role_state(browser: Any, site: DemoSite, role: str) -> Any:
    """The cookies of a signed-in session for `role` (None for a visitor)."""
    if role == "visitor":
        return None
    if role not in site.states:
        context = browser.new_context()
        page = context.new_page()
        sign_in_page(page, site, role)
        site.states[role] = context.storage_state()
        context.close()
    return site.states[role]


@pytest.fixture
def context_for(browser: Any, demo_site: DemoSite) -> Iterator[Any]:
    """A fresh browser context (empty cache) signed in as `role`."""
    made: list[Any] = []

    def factory(role: str, **options: Any) -> Any:
        context = browser.new_context(storage_state=role_state(browser, demo_site, role),
                                      **options)
        made.append(context)
        return context

    yield factory
    for context in made:
        context.close()
