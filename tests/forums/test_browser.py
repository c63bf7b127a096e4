"""The forum story once in a real browser: Debian's chromium driven by Playwright. Deleting a
post asks first."""

from __future__ import annotations

import re

import pytest

from participation import create_app
from participation.accounts import services as account_services
from participation.extensions import db
from participation.security.permissions import Role
from tests.conftest import PASSWORD, base_config
from tests.two_factor import finish_browser_sign_in, forget

pytestmark = [pytest.mark.browser, pytest.mark.server]


def _create_people(server, people: dict[str, str]) -> None:
    """The story's accounts (name: role) in the live server's database, from this process and
    at the suite's hashing cost: one command-line run each, hashing at full cost, took a third
    of the test's time. The command line has its own tests (tests/test_cli.py)."""
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=server.env["DATABASE_URL"],
                                 INSTANCE_PATH=str(server.cwd)))
    forget(*(f"{name}@example.test" for name in people))
    with app.app_context():
        for name, role in people.items():
            user = account_services.register_user(
                db.session, email=f"{name}@example.test", display_name=name.capitalize(),
                password=PASSWORD, role=Role(role))
            assert user is not None, name
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _signed_in(browser, server, email):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    finish_browser_sign_in(page, email)
    page.wait_for_url(re.compile(r".*/$"))
    return context, page


def test_thread_replies_flags_hide_restore_and_notifications(browser, live_server):
    server = live_server().start()
    people = {
        "official": "official", "author": "resident", "replier": "resident",
        "flagger1": "resident", "flagger2": "resident", "moderator": "moderator",
    }
    _create_people(server, people)
    contexts = []

    context, page = _signed_in(browser, server, "official@example.test")
    contexts.append(context)
    page.goto(f"{server.url}/topics/new")
    page.fill("#title", "Bus shelter on Elm Street")
    page.fill("#description", "Where should the new shelter go?")
    page.get_by_role("button", name="Open topic").click()
    page.wait_for_url(re.compile(r".*/topics/\d+$"))
    topic_url = page.url

    context, author = _signed_in(browser, server, "author@example.test")
    contexts.append(context)
    author.goto(topic_url)
    author.fill("#title", "Put it by the library")
    author.fill("#body", "The library entrance has **room** for a shelter.")
    author.get_by_role("button", name="Start thread").click()
    author.wait_for_url(re.compile(r".*/threads/\d+$"))
    thread_url = author.url
    assert author.locator("article.post--opening .prose strong").inner_text() == "room"

    context, replier = _signed_in(browser, server, "replier@example.test")
    contexts.append(context)
    replier.goto(thread_url)
    replier.fill("#body", "Good idea, it is out of the wind there.")
    replier.get_by_role("button", name="Post reply").click()
    replier.wait_for_load_state()
    assert replier.get_by_text("Good idea, it is out of the wind there.").is_visible()

    flaggers = [replier]
    for n in (1, 2):
        context, page = _signed_in(browser, server, f"flagger{n}@example.test")
        contexts.append(context)
        flaggers.append(page)
    for flagger in flaggers:
        flagger.goto(thread_url)
        flagger.locator("article.post--opening").get_by_role("link", name="Flag").click()
        flagger.get_by_label("Abusive").check()
        flagger.get_by_role("button", name="Flag post").click()
        flagger.wait_for_load_state()
        assert flagger.get_by_text("A moderator will look at the post").is_visible()
    flagger.goto(thread_url)
    assert flagger.get_by_role("heading", level=1).inner_text() == "Hidden thread"
    assert flagger.get_by_text("Hidden pending review by a moderator.").is_visible()

    context, moderator = _signed_in(browser, server, "moderator@example.test")
    contexts.append(context)
    moderator.goto(f"{server.url}/moderation/flags")
    assert moderator.get_by_text("3 open flags").is_visible()
    moderator.get_by_role("button", name="Restore post").click()
    moderator.wait_for_load_state()
    assert moderator.get_by_text("Nothing to review").is_visible()

    flagger.goto(thread_url)
    assert flagger.get_by_role("heading", level=1).inner_text() == "Put it by the library"

    author.goto(topic_url)
    notifications_link = author.get_by_role("link", name=re.compile("Notifications"))
    assert "3 unread" in notifications_link.inner_text()
    notifications_link.click()
    author.wait_for_url(re.compile(r".*/notifications$"))
    text = author.locator("main").inner_text()
    assert "Replier replied in “Put it by the library”" in text
    assert "hidden until a moderator reviews it" in text
    assert "A moderator restored your post" in text

    # Deleting one's own post asks first, with a red button, and "No" keeps it.
    reply = replier.locator("article.post", has_text="Good idea, it is out of the wind there.")
    replier.goto(thread_url)
    reply.get_by_role("link", name="Delete").click()
    replier.wait_for_url(re.compile(r".*/posts/\d+/delete$"))
    assert replier.get_by_role("heading", level=1).inner_text() == "Delete your post?"
    yes = replier.get_by_role("button", name="Yes, delete my post")
    assert yes.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(161, 39, 27)"
    replier.get_by_role("link", name="No, keep it").click()
    replier.wait_for_load_state()
    assert replier.get_by_text("Good idea, it is out of the wind there.").is_visible()
    replier.goto(thread_url)
    reply.get_by_role("link", name="Delete").click()
    replier.get_by_role("button", name="Yes, delete my post").click()
    replier.wait_for_load_state()
    assert replier.get_by_text("Your post is deleted. Replies to it stay.").is_visible()
    assert replier.get_by_text("Deleted by the author.").is_visible()
    assert replier.get_by_text("Good idea, it is out of the wind there.").count() == 0
    for context in contexts:
        context.close()
