"""In a real browser: a vote in a live town hall updates another page's tally without reload."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.watchers import create_accounts

LIVE_POLL = "Which should the budget fund first?"


@pytest.fixture
def tallies_sent_before_teardown() -> None:
    """This story's tallies are pushed by its own server process, on its own database: it needs
    no test app, so it runs once rather than once per database backend."""


@pytest.mark.server
@pytest.mark.browser
def test_a_vote_in_a_live_town_hall_updates_the_tally_on_another_page(live_server, browser):
    server = live_server()
    seeded = server.command("demo")
    assert seeded.returncode == 0, seeded.stderr
    create_accounts(server.env["DATABASE_URL"], resident="newcomer@example.test")
    server.start()
    polls = requests.get(f"{server.url}/api/v1/polls?per_page=100", timeout=10).json()["polls"]
    poll = next(p for p in polls if p["question"] == LIVE_POLL)
    before = poll["results"]["ballots"]
    library = next(o for o in poll["options"] if o["label"] == "Library hours")
    library_before = next(o["votes"] for o in poll["results"]["options"]
                          if o["id"] == library["id"])

    watcher_context = browser.new_context()
    voter_context = browser.new_context()
    try:
        watcher = watcher_context.new_page()
        watcher.goto(f"{server.url}/polls/{poll['id']}")
        watcher.wait_for_selector("#poll[data-connected='true']")
        assert watcher.inner_text(".ballot-count") == str(before)
        watcher.evaluate("window.notReloaded = true")

        voter = voter_context.new_page()
        voter.goto(f"{server.url}/login")
        voter.fill("input[name=email]", "newcomer@example.test")
        voter.fill("input[name=password]", PASSWORD)
        voter.click("form button[type=submit]:not(.link-button)")
        voter.goto(f"{server.url}/polls/{poll['id']}")
        voter.wait_for_selector("#poll[data-connected='true']")
        voter.check(f"input[name=choice][value='{library['id']}']")
        voter.click(".vote-form button[type=submit]")
        expect(voter.locator(".vote-status")).to_contain_text("receipt code")
        status = voter.inner_text(".vote-status")
        assert "Your vote is counted" in status
        assert re.search(r"[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}", status)

        expect(watcher.locator(".ballot-count")).to_have_text(str(before + 1), timeout=10_000)
        assert watcher.evaluate("window.notReloaded") is True
        figures = watcher.inner_text("#poll-results")
        votes = re.search(r"Library hours\n(\d+) votes? \(", figures)
        assert votes and int(votes.group(1)) == library_before + 1, figures
    finally:
        watcher_context.close()
        voter_context.close()
