"""Every page type, for every role, in Debian's chromium: axe-core finds no serious or critical
violations, nothing scrolls sideways at 360 px, and no page weighs over 300 KB on first load.

Each worker keeps one tab per role for the whole run rather than a new browser context per
page: the tab's HTTP cache is turned off (as DevTools' "Disable cache" does), so every load is
still a first load with an empty cache, and its cookies go back to the signed-in state before
each page, so no page sees what an earlier one left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Error as PlaywrightError

from tests.access.conftest import PAGE_TYPES, ROLES, DemoSite, role_state

pytestmark = [pytest.mark.browser, pytest.mark.server]

BLOCKING = {"serious", "critical"}
PAGE_WEIGHT_LIMIT = 300 * 1024
NARROW = {"width": 360, "height": 740}
WIDE = {"width": 1280, "height": 900}

# Bytes of the document, its style sheets and scripts as the browser received them.
PAGE_WEIGHT_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  let total = nav.decodedBodySize;
  for (const r of performance.getEntriesByType("resource")) {
    if (["link", "script", "css"].includes(r.initiatorType) || /\\.(css|js)(\\?|$)/.test(r.name)) {
      total += r.decodedBodySize;
    }
  }
  return total;
}"""

# All of axe-core's rules on the whole document; only the counts of passes come back, as proof
# that it ran, beside the violations themselves.
AXE_RUN_JS = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return {passes: results.passes.length, violations: results.violations};
}"""


class RoleTab:
    """A tab signed in as one role, its HTTP cache disabled, axe-core loaded into every page."""

    def __init__(self, browser: Any, site: DemoSite, role: str) -> None:
        state = role_state(browser, site, role)
        self.cookies = state["cookies"] if state else []
        self.context = browser.new_context(storage_state=state, viewport=NARROW)
        # Compiled by the browser with each new document, instead of sent over for every page.
        self.context.add_init_script(AXE_SCRIPT)
        self.page = self.context.new_page()
        devtools = self.context.new_cdp_session(self.page)
        devtools.send("Network.enable")
        devtools.send("Network.setCacheDisabled", {"cacheDisabled": True})

    def fresh(self) -> Any:
        """The tab as a new context would be: signed-in cookies only, 360 px wide."""
        self.context.clear_cookies()
        if self.cookies:
            self.context.add_cookies(self.cookies)
        self.page.set_viewport_size(NARROW)
        return self.page


@pytest.fixture(scope="session")
def tab_as(browser: Any, demo_site: DemoSite) -> Iterator[Callable[[str], RoleTab]]:
    tabs: dict[str, RoleTab] = {}

    def get(role: str) -> RoleTab:
        if role not in tabs or tabs[role].page.is_closed():
            tabs[role] = RoleTab(browser, demo_site, role)
        return tabs[role]

    yield get
    for tab in tabs.values():
        tab.context.close()


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(node["target"]) for node in v["nodes"][:5]]
        lines.append(f"{v['impact']}: {v['id']} ({v['help']}) at {targets}")
    return "\n".join(lines)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page_type", PAGE_TYPES)
def test_page_is_accessible_fits_360px_and_is_light(tab_as, demo_site, page_type, role):
    """First load at 360 px (page weight, sideways scrolling), then axe-core at desktop width."""
    tab = tab_as(role)
    try:
        page = tab.fresh()
        page.goto(demo_site.url + demo_site.resolve(page_type))
        page.wait_for_load_state("load")
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        weight = page.evaluate(PAGE_WEIGHT_JS)
        page.set_viewport_size(WIDE)
        results = page.evaluate(AXE_RUN_JS)
    except PlaywrightError:
        tab.context.close()  # the next test of this role starts a new tab
        raise

    where = f"{page_type} as {role} ({page.url})"
    problems = []
    if width[0] > width[1]:
        problems.append(f"scrolls sideways at 360 px: {width}")
    if not 0 < weight <= PAGE_WEIGHT_LIMIT:
        problems.append(f"weighs {weight} bytes on first load")
    if not results["passes"]:
        problems.append("axe-core did not run")
    blocking = [v for v in results["violations"] if v["impact"] in BLOCKING]
    if blocking:
        problems.append(_describe(blocking))
    assert not problems, f"{where}:\n" + "\n".join(problems)
