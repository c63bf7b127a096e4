"""In Debian's chromium: an official corrects a live town hall and a moderator enters the head
count from the console; the live page, the projector and the console show both without a
reload."""

from __future__ import annotations

import pytest

from tests.townhall.test_browser import _token, signed_in_page
from tests.watchers import create_accounts, signed_in_session

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_edits_and_the_head_count_reach_open_pages_without_reload(live_server, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # the machine may be busy; the page must get there
    server = live_server().start()
    create_accounts(server.env["DATABASE_URL"], official="official@example.test",
                    moderator="moderator@example.test")
    official = signed_in_session(server.url, "official@example.test")
    created = official.post(server.url + "/townhalls/new", timeout=10, allow_redirects=False,
                            data={"csrf_token": _token(official, server.url + "/townhalls/new"),
                                  "title": "Browser hall", "description": "First words.",
                                  "starts_at": "2026-01-01T10:00", "ends_at": "2030-01-01T10:00",
                                  "question_max_length": "300", "is_public": "y",
                                  "allow_anonymous": "y"})
    townhall_id = int(created.headers["Location"].rsplit("/", 1)[1])
    base = f"{server.url}/townhalls/{townhall_id}"
    official.post(base + "/status", timeout=10,
                  data={"csrf_token": _token(official, base), "status": "live"})

    errors: list[str] = []
    moderator_context, console = signed_in_page(browser, server, "moderator@example.test",
                                                errors)
    visitor_context = browser.new_context()
    live = visitor_context.new_page()
    projector = visitor_context.new_page()
    for page in (live, projector):
        page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        live.goto(base)
        projector.goto(base + "/projector")
        console.goto(base + "/moderate")
        for page in (live, projector, console):
            expect(page.locator("#connection")).to_have_text("Up to date")
        expect(live.locator("#in-room")).to_be_hidden()

        response = official.post(base + "/edit", timeout=10, allow_redirects=False, data={
            "csrf_token": _token(official, base + "/edit"), "title": "Browser hall, room 2",
            "description": "Moved to **room 2**.", "starts_at": "2026-01-01T10:30",
            "ends_at": "2030-01-01T10:00", "question_max_length": "300",
            "livestream_url": "https://player.vimeo.com/video/76979871",
            "allow_anonymous": "y"})
        assert response.status_code == 302

        expect(live.locator("h1")).to_have_text("Browser hall, room 2")
        expect(live.locator("#townhall-description strong")).to_have_text("room 2")
        expect(live.locator("[data-when] [data-starts]")).to_have_attribute(
            "datetime", "2026-01-01T10:30:00Z")
        expect(live.locator("[data-when] [data-starts]")).to_contain_text("10:30")
        expect(live).to_have_title("Browser hall, room 2 · Participation")
        expect(live.locator("#announcer")).to_contain_text("details were updated")
        expect(live.locator("#livestream iframe")).to_have_attribute(
            "src", "https://player.vimeo.com/video/76979871")
        expect(projector.locator("h1")).to_have_text("Browser hall, room 2")
        expect(console.locator("h1")).to_have_text("Moderate: Browser hall, room 2")

        console.fill("#count", "57")
        console.click("#head-count-form button[type=submit]")
        expect(console.locator("#console-message")).to_contain_text("57")
        expect(live.locator("#in-room-count")).to_have_text("57")
        expect(live.locator("#in-room")).to_be_visible()
        expect(projector.locator(".projector-attendance")).to_have_text("In the room: 57")
        expect(console.locator("#console-live .ledger")).to_contain_text("57")

        console.fill("#count", "-3")
        console.click("#head-count-form button[type=submit]")
        expect(console.locator("#console-message")).to_contain_text("between 0 and")
        expect(live.locator("#in-room-count")).to_have_text("57")

        live.reload()
        expect(live.locator("h1")).to_have_text("Browser hall, room 2")
        expect(live.locator("#in-room-count")).to_have_text("57")
        assert errors == []
    finally:
        moderator_context.close()
        visitor_context.close()
