"""In Debian's chromium: a poll inside a live town hall, from preparation to the final result.

An official prepares the poll, a moderator opens it from the console, a resident's live page
shows it without a reload and votes there, the projector shows the tally, the moderator closes
it and both pages show the final result. Then the same journey with JavaScript turned off, by
the plain forms. One server for the module.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD, LiveServer
from tests.townhall.test_browser import live_townhall
from tests.two_factor import finish_browser_sign_in
from tests.watchers import create_accounts

pytestmark = [pytest.mark.browser, pytest.mark.server]

RECEIPT = re.compile(r"[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("polls-in-townhall"))
    shutil.copy(migrated_sqlite, live.env["DATABASE_URL"].removeprefix("sqlite:///"))
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def townhall_id(server: LiveServer) -> int:
    return live_townhall(server)


def signed_in(browser, server, email: str, errors: list[str], *, javascript: bool = True):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.on("response", lambda response: response.status >= 400
            and not response.url.endswith("/favicon.ico")
            and errors.append(f"{response.status} {response.url}"))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    finish_browser_sign_in(page, email)
    page.wait_for_url(server.url + "/")
    return context, page


def prepare_poll(official, server, townhall_id: int, question: str,
                 secrecy: str = "verifiable") -> int:
    """The official follows "Prepare a poll" from the town hall's page and fills the form."""
    official.goto(f"{server.url}/townhalls/{townhall_id}")
    official.get_by_role("link", name="Prepare a poll").click()
    assert official.input_value("#parent") == f"townhall:{townhall_id}"
    official.fill("#question", question)
    official.fill("#options", "Evenings\nSundays\nMornings")
    official.check("input[name=results_mode][value=live]")
    official.check(f"input[name=ballot_secrecy][value={secrecy}]")
    official.click("main form.poll-form button[type=submit]")
    official.wait_for_url(re.compile(r".*/polls/\d+$"))
    return int(official.url.rsplit("/", 1)[1])


def test_a_poll_runs_inside_the_town_hall_live(server, townhall_id, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    create_accounts(server.env["DATABASE_URL"], official="official-js@example.test",
                    moderator="moderator-js@example.test", resident="resident-js@example.test")
    errors: list[str] = []
    contexts = []
    try:
        for email in ("official-js@example.test", "moderator-js@example.test",
                      "resident-js@example.test"):
            contexts.append(signed_in(browser, server, email, errors))
        (_, official), (_, moderator), (_, resident) = contexts
        projector_context = browser.new_context()
        contexts.append((projector_context, None))
        projector = projector_context.new_page()

        poll_id = prepare_poll(official, server, townhall_id, "Which library hours first?",
                               secrecy="secret")

        resident.goto(f"{server.url}/townhalls/{townhall_id}")
        expect(resident.locator("#connection")).to_have_text("Up to date")
        expect(resident.locator("#townhall-polls")).to_be_hidden()
        resident.evaluate("window.notReloaded = true")
        projector.goto(f"{server.url}/townhalls/{townhall_id}/projector")
        expect(projector.locator("#connection")).to_have_text("Up to date")
        moderator.goto(f"{server.url}/townhalls/{townhall_id}/moderate")
        expect(moderator.locator("#connection")).to_have_text("Up to date")

        moderator.click(f"#poll-open-{poll_id}")
        expect(moderator.locator("#console-message")).to_have_text("The poll is open for voting.")
        expect(moderator.locator(f"#console-poll-{poll_id}")).to_contain_text("Open")

        card = resident.locator(f"#poll-{poll_id}")
        expect(card).to_contain_text("Which library hours first?")
        # The card the `poll` event built says what a receipt reveals in this secret poll.
        expect(card.locator(".poll-secrecy[data-secrecy=secret]")).to_contain_text(
            "reveals nothing of how it was cast")
        resident.locator(f"#poll-{poll_id} label", has_text="Sundays").click()
        card.get_by_role("button", name="Cast my vote").click()
        expect(card.locator(".vote-status")).to_contain_text("receipt code")
        code = card.locator(".poll-receipt .receipt").inner_text()
        assert RECEIPT.search(code)
        expect(card.locator(".ballot-count")).to_have_text("1")
        assert resident.evaluate("window.notReloaded") is True
        check = projector_context.new_page()
        check.goto(f"{server.url}/polls/receipt?code={code}")
        expect(check.locator(".receipt-result")).to_contain_text("This ballot is in the count")
        assert "Sundays" not in check.inner_text("main")
        check.close()

        on_screen = projector.locator(f"#projector-poll-{poll_id}")
        expect(on_screen.locator(".ballot-count")).to_have_text("1")
        expect(on_screen).to_contain_text("Sundays")

        moderator.click(f"#poll-close-{poll_id}")
        expect(card).to_contain_text("Final result")
        expect(card).to_contain_text("Voting has closed.")
        expect(card.locator(".ballot-count")).to_have_text("1")
        expect(projector.locator("#projector-polls")).to_contain_text("Poll result")
        expect(projector.locator(f"#projector-poll-{poll_id}")).to_contain_text("Closed")
        assert resident.evaluate("window.notReloaded") is True
        assert errors == []
    finally:
        for context, _page in contexts:
            context.close()


def test_the_same_journey_without_javascript(server, townhall_id, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    create_accounts(server.env["DATABASE_URL"], official="official-plain@example.test",
                    moderator="moderator-plain@example.test",
                    resident="resident-plain@example.test")
    errors: list[str] = []
    contexts = []
    try:
        for email in ("official-plain@example.test", "moderator-plain@example.test",
                      "resident-plain@example.test"):
            contexts.append(signed_in(browser, server, email, errors, javascript=False))
        (_, official), (_, moderator), (_, resident) = contexts
        live_url = f"{server.url}/townhalls/{townhall_id}"

        poll_id = prepare_poll(official, server, townhall_id, "Plain poll: which hours?")

        moderator.goto(f"{live_url}/moderate")
        moderator.click(f"#poll-open-{poll_id}")
        moderator.wait_for_url(f"{live_url}/moderate")
        expect(moderator.locator(".flashes")).to_contain_text("The poll is open for voting.")

        resident.goto(live_url)
        card = resident.locator(f"#poll-{poll_id}")
        expect(card.locator(".poll-secrecy[data-secrecy=verifiable]")).to_contain_text(
            "anyone who holds the code can see that vote")
        resident.locator(f"#poll-{poll_id} label", has_text="Evenings").click()
        card.get_by_role("button", name="Cast my vote").click()
        resident.wait_for_url(f"{live_url}#poll-{poll_id}")
        expect(resident.locator(".flashes")).to_contain_text("receipt code")
        assert RECEIPT.search(card.locator(".poll-receipt .receipt").inner_text())
        expect(card.locator(".ballot-count")).to_have_text("1")

        resident.goto(f"{live_url}/projector")
        expect(resident.locator(f"#projector-poll-{poll_id} .ballot-count")).to_have_text("1")

        moderator.goto(f"{live_url}/moderate")
        moderator.click(f"#poll-close-{poll_id}")
        moderator.wait_for_url(f"{live_url}/moderate")
        resident.goto(live_url)
        expect(card).to_contain_text("Final result")
        expect(card.get_by_role("button", name="Cast my vote")).to_have_count(0)
        resident.goto(f"{live_url}/projector")
        expect(resident.locator("#projector-polls")).to_contain_text("Poll result")
        assert errors == []
    finally:
        for context, _page in contexts:
            context.close()
