"""In Debian's chromium: a resident asks in one browser, a moderator approves in another, and
the question appears on the resident's page without a reload."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import CSRF_RE, PASSWORD
from tests.two_factor import finish_browser_sign_in
from tests.watchers import create_accounts, signed_in_session

pytestmark = [pytest.mark.browser, pytest.mark.server]


def _token(http: requests.Session, url: str) -> str:
    match = CSRF_RE.search(http.get(url, timeout=10).text)
    return match.group(1) or match.group(2)


def live_townhall(server) -> int:
    create_accounts(server.env["DATABASE_URL"], official="official@example.test")
    http = signed_in_session(server.url, "official@example.test")
    response = http.post(server.url + "/townhalls/new", timeout=10, allow_redirects=False, data={
        "csrf_token": _token(http, server.url + "/townhalls/new"), "title": "Browser hall",
        "starts_at": "2026-01-01T10:00", "ends_at": "2030-01-01T10:00",
        "question_max_length": "300", "is_public": "y", "allow_anonymous": "y"})
    townhall_id = int(response.headers["Location"].rsplit("/", 1)[1])
    http.post(f"{server.url}/townhalls/{townhall_id}/status", timeout=10, data={
        "csrf_token": _token(http, f"{server.url}/townhalls/{townhall_id}"), "status": "live"})
    return townhall_id


def signed_in_page(browser, server, email: str, errors: list[str]):
    context = browser.new_context()
    page = context.new_page()
    # Chromium asks for /favicon.ico on its own; any other failed request is a fault.
    page.on("response", lambda response: response.status >= 400
            and not response.url.endswith("/favicon.ico")
            and errors.append(f"{response.status} {response.url}"))
    page.on("console", lambda message: message.type == "error"
            and "Failed to load resource" not in message.text and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")  # the header holds the language form
    finish_browser_sign_in(page, email)
    page.wait_for_url(server.url + "/")
    return context, page


def test_a_question_approved_in_one_browser_appears_in_another_without_reload(
        live_server, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # the machine may be busy; the page must get there
    server = live_server().start()
    townhall_id = live_townhall(server)
    create_accounts(server.env["DATABASE_URL"], resident="resident@example.test",
                    moderator="moderator@example.test")
    errors: list[str] = []
    resident_context, resident = signed_in_page(browser, server, "resident@example.test", errors)
    moderator_context, moderator = signed_in_page(browser, server, "moderator@example.test",
                                                  errors)
    try:
        resident.goto(f"{server.url}/townhalls/{townhall_id}")
        expect(resident.locator("#connection")).to_have_text("Up to date")
        moderator.goto(f"{server.url}/townhalls/{townhall_id}/moderate")
        expect(moderator.locator("#connection")).to_have_text("Up to date")

        resident.fill("#text", "Will the library open on Sundays?")
        resident.click("#ask-form button[type=submit]")
        expect(resident.locator("#mine-list")).to_contain_text("Awaiting moderation")
        expect(resident.locator("#ask-message")).to_contain_text("awaiting moderation")

        queued = moderator.locator("#console-live .console-queue li",
                                   has_text="Will the library open on Sundays?")
        expect(queued).to_have_count(1)
        queued.get_by_role("button", name="Approve").click()

        approved = resident.locator("#question-list li",
                                    has_text="Will the library open on Sundays?")
        expect(approved).to_have_count(1)
        expect(resident.locator("#mine-list li")).to_have_count(0)
        expect(resident.locator("#announcer")).to_contain_text("New question")
        expect(moderator.locator("#console-live .console-queue li")).to_have_count(0)
        assert errors == []
    finally:
        resident_context.close()
        moderator_context.close()
