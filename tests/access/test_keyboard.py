"""Taking part with the keyboard alone: asking, moderating and upvoting on the live town hall,
with the focus always visible and the changes announced through live regions. Also the live page
on long-polling when websockets are blocked."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.access.conftest import has_domain

pytestmark = [pytest.mark.browser, pytest.mark.server]

# Where the focus is, and whether it is on `selector`: one round trip to the page per Tab.
FOCUS_JS = """selector => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const style = getComputedStyle(el);
  return {id: el.id, text: (el.innerText || el.value || "").trim(), tag: el.tagName,
          outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
          shadow: style.boxShadow !== "none", matches: el.matches(selector)};
}"""


# A network that refuses websockets: every attempt fails the way a refused upgrade does.
BLOCK_WEBSOCKETS_JS = """
window.blockedSockets = 0;
window.WebSocket = class BlockedWebSocket extends EventTarget {
  constructor(url) {
    super();
    window.blockedSockets += 1;
    this.url = url;
    this.readyState = 0;
    setTimeout(() => {
      this.readyState = 3;
      if (this.onerror) { this.onerror(new Event("error")); }
      if (this.onclose) { this.onclose({code: 1006, reason: "", wasClean: false}); }
    }, 10);
  }
  send() { throw new Error("the websocket is closed"); }
  close() {}
};
"""


def tab_to(page, selector: str, limit: int = 150) -> dict:
    """Press Tab until `selector` has the focus; each stop must show where the focus is."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_JS, selector)
        if focus is None:
            continue
        assert focus["outline"] or focus["shadow"], f"no visible focus on {focus}"
        if focus.pop("matches"):
            return focus
    raise AssertionError(f"{selector} is not reachable with Tab")


def _live_path(demo_site) -> str:
    return demo_site.resolve("townhall_live")


def test_ask_moderate_and_upvote_with_the_keyboard_alone(context_for, demo_site):
    text = f"Could the library open on Sundays? ({uuid.uuid4().hex[:6]})"
    live = demo_site.url + _live_path(demo_site)

    asker = context_for("resident").new_page()
    asker.goto(live)
    expect(asker.locator("#connection")).to_have_text("Up to date")
    tab_to(asker, "#text")
    asker.keyboard.type(text)
    tab_to(asker, "#ask-form button[type=submit]")
    asker.keyboard.press("Enter")
    expect(asker.locator("#ask-message")).to_have_text(re.compile("awaiting moderation"))
    expect(asker.locator("#mine-list")).to_contain_text(text)

    moderator = context_for("moderator").new_page()
    moderator.goto(demo_site.url + demo_site.resolve("townhall_console"))
    item = moderator.locator("#console-live li.question", has_text=text)
    expect(item).to_be_visible()
    approve_id = item.locator("button", has_text="Approve").get_attribute("id")
    tab_to(moderator, f"#{approve_id}")
    moderator.keyboard.press("Enter")
    expect(moderator.locator("#console-live .console-approved")).to_contain_text(text)

    # The author's page learns of the approval over the socket and announces it.
    question = asker.locator("#question-list li.question", has_text=text)
    expect(question).to_be_visible()
    announcer = asker.locator("#announcer")
    assert announcer.get_attribute("aria-live") == "polite"
    expect(announcer).to_contain_text(text)

    voter = context_for("resident2").new_page()
    voter.goto(live)
    expect(voter.locator("#connection")).to_have_text("Up to date")
    button = voter.locator("#question-list li.question", has_text=text).locator("button.upvote")
    expect(button).to_have_attribute("aria-pressed", "false")
    question_id = voter.locator("#question-list li.question", has_text=text).get_attribute("id")
    tab_to(voter, f"#{question_id} button.upvote")
    voter.keyboard.press("Space")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(voter.locator(f"#{question_id} .count")).to_have_text("1")
    expect(voter.locator("#announcer")).to_have_text("Upvoted.")


def test_live_page_falls_back_to_long_polling_when_websockets_are_blocked(context_for,
                                                                          demo_site):
    text = f"Will the pool reopen this summer? ({uuid.uuid4().hex[:6]})"
    page = context_for("resident").new_page()
    page.add_init_script(BLOCK_WEBSOCKETS_JS)
    page.goto(demo_site.url + _live_path(demo_site))
    expect(page.locator("#connection")).to_have_text("Up to date", timeout=20_000)
    assert page.evaluate("() => window.blockedSockets") >= 1, "no websocket was tried"

    page.fill("#text", text)
    page.locator("#ask-form button[type=submit]").click()
    expect(page.locator("#mine-list")).to_contain_text(text)

    moderator = context_for("moderator").new_page()
    moderator.goto(demo_site.url + demo_site.resolve("townhall_console"))
    item = moderator.locator("#console-live li.question", has_text=text)
    item.locator("button", has_text="Approve").click()
    expect(moderator.locator("#console-live .console-approved")).to_contain_text(text)

    expect(page.locator("#question-list li.question", has_text=text)).to_be_visible()


def _poll_path(demo_site, question: str) -> str:
    for path in demo_site.links("/polls", r"/polls/\d+"):
        if question in requests.get(demo_site.url + path, timeout=10).text:
            return path
    raise AssertionError(f"no demo poll asks {question!r}")


@pytest.mark.skipif(not has_domain("polls"), reason="the polls domain is not in this build")
def test_vote_with_the_keyboard_alone_in_a_live_poll_and_a_plain_one(context_for, demo_site):
    page = context_for("resident2").new_page()

    page.goto(demo_site.url + _poll_path(demo_site, "Which should the budget fund first?"))
    expect(page.locator("#poll")).to_have_attribute("data-connected", "true")
    tab_to(page, ".vote-form input[type=radio]")
    page.keyboard.press("ArrowDown")  # arrows move the choice within the radio group
    chosen = page.evaluate("() => document.activeElement.value")
    assert page.locator(f".vote-form input[value='{chosen}']").is_checked()
    tab_to(page, ".vote-form button[type=submit]")
    page.keyboard.press("Enter")
    status = page.locator(".vote-status")
    assert status.get_attribute("aria-live") == "polite"
    expect(status).to_contain_text("Your receipt code is")

    page.goto(demo_site.url + _poll_path(demo_site, "Which features should the redesigned park"))
    tab_to(page, ".vote-form input[type=checkbox]")
    if not page.evaluate("() => document.activeElement.checked"):
        page.keyboard.press("Space")
    assert page.evaluate("() => document.activeElement.checked")
    tab_to(page, ".vote-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator(".flash--success")).to_contain_text("Your receipt code is")


def test_reduced_motion_turns_off_transitions_and_smooth_scrolling(context_for, demo_site):
    page = context_for("resident").new_page()
    page.emulate_media(reduced_motion="reduce")
    page.goto(demo_site.url + _live_path(demo_site))
    styles = page.evaluate("""() => {
      const button = getComputedStyle(document.querySelector(".button"));
      return [button.transitionDuration, button.animationDuration,
              getComputedStyle(document.documentElement).scrollBehavior];
    }""")
    durations = [float(value.rstrip("s")) for value in styles[:2]]
    assert all(d <= 0.0001 for d in durations), styles
    assert styles[2] == "auto"
