"""The second step's pages in chromium, as the page checks see every other page: the code page of
a half-signed-in admin and a resident's set-up page pass axe-core and fit 360 px."""

from __future__ import annotations

import pytest
from axe_playwright_python.base import AXE_SCRIPT

from tests.access.conftest import DEMO_EMAILS
from tests.access.test_pages import AXE_RUN_JS, BLOCKING, NARROW, WIDE, _describe

pytestmark = [pytest.mark.browser, pytest.mark.server]


def _check(page) -> list[str]:
    page.wait_for_load_state("load")
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    page.set_viewport_size(WIDE)
    results = page.evaluate(AXE_RUN_JS)
    problems = [f"scrolls sideways at 360 px: {width}"] if width[0] > width[1] else []
    if not results["passes"]:
        problems.append("axe-core did not run")
    blocking = [v for v in results["violations"] if v["impact"] in BLOCKING]
    if blocking:
        problems.append(_describe(blocking))
    return problems


@pytest.mark.parametrize("role", ["admin", "resident"])
def test_the_second_step_pages_are_accessible_and_fit_360px(browser, demo_site, role):
    context = browser.new_context(viewport=NARROW)
    context.add_init_script(AXE_SCRIPT)
    try:
        page = context.new_page()
        page.goto(f"{demo_site.url}/login")
        page.fill("#email", DEMO_EMAILS[role])
        page.fill("#password", demo_site.password)
        page.locator("main form button[type=submit]").click()
        if role == "admin":
            page.wait_for_url("**/login/code")  # half signed in: the code page
        else:
            page.wait_for_url(f"{demo_site.url}/")
            page.goto(f"{demo_site.url}/account/two-factor")
            assert page.locator(".qr svg").count() == 1
        problems = _check(page)
        assert not problems, f"{page.url}:\n" + "\n".join(problems)
    finally:
        context.close()
