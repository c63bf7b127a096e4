"""In Debian's chromium: while a resident writes a question, the live page shows "Already
asked?" with the public question it looks like; the resident upvotes it there, and can still
ask their own."""

from __future__ import annotations

import pytest

from participation import create_app
from participation.extensions import db
from tests.conftest import base_config
from tests.townhall.test_browser import live_townhall, signed_in_page
from tests.watchers import create_accounts

pytestmark = [pytest.mark.browser, pytest.mark.server]

PUBLIC = "When will the number 12 bus run on Sundays?"


def enter_public_question(url: str, townhall_id: int, moderator_email: str, text: str) -> int:
    """A question a moderator took by phone: public at once."""
    from participation.accounts.models import User
    from participation.townhall import services

    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        moderator = db.session.scalar(db.select(User).where(User.email == moderator_email))
        townhall = services.get_townhall(db.session, moderator, townhall_id)
        question = services.enter_question(db.session, moderator, townhall, text=text,
                                           channel="phone")
        db.session.commit()
        question_id = question.id
        db.session.remove()
        db.engine.dispose()
    return question_id


def test_already_asked_shows_while_typing_and_upvotes_there(live_server, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # the machine may be busy; the page must get there
    server = live_server().start()
    townhall_id = live_townhall(server)
    create_accounts(server.env["DATABASE_URL"], resident="resident@example.test",
                    moderator="moderator@example.test")
    question_id = enter_public_question(server.env["DATABASE_URL"], townhall_id,
                                        "moderator@example.test", PUBLIC)
    errors: list[str] = []
    context, page = signed_in_page(browser, server, "resident@example.test", errors)
    try:
        page.goto(f"{server.url}/townhalls/{townhall_id}")
        expect(page.locator("#connection")).to_have_text("Up to date")
        suggestions = page.locator("#similar")
        expect(suggestions).to_be_hidden()

        page.locator("#text").press_sequentially("Is the 12 bus going to run on sundays")
        match = page.locator(f"#similar-q{question_id}")
        expect(suggestions).to_be_visible()
        expect(suggestions).to_contain_text("Already asked?")
        expect(match).to_contain_text(PUBLIC)
        expect(page.locator("#similar-list li")).to_have_count(1)

        match.get_by_role("button", name="Upvote").click()
        expect(match.locator(".upvote")).to_have_attribute("aria-pressed", "true")
        expect(match.locator(".count")).to_have_text("1")
        expect(page.locator(f"#q{question_id} .count")).to_have_text("1")

        page.fill("#text", "Why is the library closed on Mondays?")
        expect(suggestions).to_be_hidden()
        page.fill("#text", "When will the number 12 bus run on Sundays again?")
        expect(suggestions).to_be_visible()
        # Asking over the socket is not held back by the suggestions.
        page.click("#ask-form button[type=submit]")
        expect(page.locator("#mine-list")).to_contain_text("Awaiting moderation")
        expect(suggestions).to_be_hidden()
        assert errors == []
    finally:
        context.close()
