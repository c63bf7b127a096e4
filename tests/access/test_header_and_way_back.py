"""In Debian's chromium, on the demo site: the header folds into a menu at 360 px (at most 80 px
tall folded, in English and Spanish, for a visitor and a signed-in resident), the menu opens and
closes from the keyboard, and without scripts its links stay in view; and a visitor who
registers from a town hall's ask box signs in with the address already filled and is back on
the town hall."""

from __future__ import annotations

import re

import pytest

from tests.access.conftest import DemoSite
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.server]

NARROW = {"width": 360, "height": 740}
WIDE = {"width": 1280, "height": 900}
FOLDED_HEIGHT_MAX = 80


def _header_height(page) -> float:
    return page.locator(".site-header").evaluate("node => node.getBoundingClientRect().height")


@pytest.mark.parametrize("locale", ["en-GB", "es-ES"])
@pytest.mark.parametrize("role", ["visitor", "resident"])
def test_the_header_folds_into_a_menu_at_360_px(context_for, demo_site: DemoSite, role, locale):
    from playwright.sync_api import expect

    page = context_for(role, viewport=NARROW, locale=locale).new_page()
    page.goto(demo_site.url + "/townhalls")
    assert page.locator("html").get_attribute("lang") == locale[:2]
    menu = page.locator("details.site-menu")
    expect(menu).not_to_have_attribute("open", re.compile(".*"))
    assert _header_height(page) <= FOLDED_HEIGHT_MAX, _header_height(page)
    links = page.locator(".site-menu-body a")
    expect(links.first).to_be_hidden()
    # The menu button by keyboard: after the skip link and the site's name.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("summary.site-menu-button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(links.first).to_be_visible()
    page.keyboard.press("Tab")
    expect(links.first).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")
    expect(links.first).to_be_hidden()


def test_on_a_wide_screen_the_links_show_and_the_menu_button_does_not(context_for, demo_site):
    page = context_for("visitor", viewport=WIDE).new_page()
    page.goto(demo_site.url + "/townhalls")
    assert page.locator("summary.site-menu-button").is_hidden()
    assert page.locator(".site-menu-body a").first.is_visible()
    assert _header_height(page) <= FOLDED_HEIGHT_MAX


def test_without_scripts_the_header_links_stay_visible_at_360_px(context_for, demo_site):
    page = context_for("visitor", viewport=NARROW, java_script_enabled=False).new_page()
    page.goto(demo_site.url + "/townhalls")
    for name in ("Sign in", "Register"):
        assert page.get_by_role("link", name=name, exact=True).is_visible()


def test_registering_from_the_ask_box_leads_back_to_the_town_hall(context_for, demo_site):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    live = demo_site.resolve("townhall_live")
    page = context_for("visitor", viewport=WIDE).new_page()
    page.goto(demo_site.url + live)
    page.locator("section.ask").get_by_role("link", name="register").click()
    page.wait_for_url(re.compile(r".*/register\?next="))
    email = "way.back@example.test"
    page.fill("#email", email)
    page.fill("#display_name", "Way Back")
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/login\?next="))
    assert email not in page.url
    expect(page.locator("#email")).to_have_value(email)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(demo_site.url + live)
    expect(page.locator("#ask-form")).to_be_visible()
    expect(page.locator(".account-nav")).to_contain_text("Way Back")
