"""In Debian's chromium: the moderator console never lies and never goes stale, and its dangerous
buttons look dangerous and ask first.

- Its ids are unique in every state (pending, approved, highlighted, answered, with a poll, with
  the "possibly the same as" hint, every panel open): axe-core's duplicate-id rules in the
  browser and the W3C checker on the pages; a click on the label "Written answer" only puts the
  cursor in its own box.
- New questions arrive while a panel is open and text is being typed in it, and the typing is
  kept; a refused action shows its reason and the true state.
- "End the town hall", "Cancel (end now)" and "Reject" are red and ask first; a cancelled town
  hall shows "Cancelled", not "Ended" under "Past".
- Each outcome of a question reaches its asker's notifications.
One server for the module.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer
from tests.townhall.test_browser import signed_in_page
from tests.watchers import (
    create_accounts,
    create_live_poll,
    form_token,
    open_live_townhall,
    post_form,
    signed_in_session,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]

OFFICIAL, MODERATOR, MODERATOR2, RESIDENT = (
    "official-c@example.test", "moderator-c@example.test", "moderator-c2@example.test",
    "resident-c@example.test")
DANGER = "rgb(161, 39, 27)"  # --danger in static/css/site.css

# axe-core's rules about ids (their names change between versions: all that exist are run).
AXE_DUPLICATE_IDS_JS = """async () => {
  const rules = axe.getRules().map(r => r.ruleId).filter(id => id.startsWith("duplicate-id"));
  const results = await axe.run(document, {runOnly: {type: "rule", values: rules}});
  return {rules: rules, violations: results.violations.map(v => ({
    id: v.id, nodes: v.nodes.map(n => n.html)}))};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite) -> Iterator[LiveServer]:
    # One resident asks every question here: the limit on asking is not what is tested.
    live = LiveServer(tmp_path_factory.mktemp("console"), {"RATELIMIT_ENABLED": "false"})
    shutil.copy(migrated_sqlite, live.env["DATABASE_URL"].removeprefix("sqlite:///"))
    live.start()
    create_accounts(live.env["DATABASE_URL"], official=OFFICIAL, moderator=MODERATOR,
                    resident=RESIDENT)
    create_accounts(live.env["DATABASE_URL"], moderator=MODERATOR2)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def http(server: LiveServer) -> dict[str, requests.Session]:
    return {email: signed_in_session(server.url, email)
            for email in (OFFICIAL, MODERATOR2, RESIDENT)}


@pytest.fixture
def moderator(browser, server) -> Iterator[tuple[object, list[str]]]:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # the machine may be busy; the page must get there
    errors: list[str] = []
    context, page = signed_in_page(browser, server, MODERATOR, errors)
    from axe_playwright_python.base import AXE_SCRIPT

    context.add_init_script(AXE_SCRIPT)
    try:
        yield page, errors
    finally:
        context.close()


def ask(server, resident: requests.Session, townhall_id: int, text: str) -> None:
    post_form(resident, server.url, f"/townhalls/{townhall_id}/questions",
              f"/townhalls/{townhall_id}", text=text, ask_anyway="1")


def question_id(server, moderator: requests.Session, townhall_id: int, text: str) -> int:
    part = moderator.get(f"{server.url}/townhalls/{townhall_id}/moderate?part=live",
                         timeout=10).text
    found = re.search(r'id="(?:queue|approved)-q(\d+)">\s*<p class="question-text">'
                      + re.escape(text) + "<", part)
    assert found, f"{text!r} is not on the console"
    return int(found.group(1))


def moderate(server, moderator: requests.Session, townhall_id: int, qid: int, action: str,
             **fields: str) -> None:
    post_form(moderator, server.url, f"/townhalls/{townhall_id}/questions/{qid}/moderate",
              f"/townhalls/{townhall_id}/moderate", action=action, **fields)


def asked(server, http, townhall_id: int, text: str, *, approved: bool = False) -> int:
    """A resident asks `text`; its id, as the console shows it (approved first if asked)."""
    ask(server, http[RESIDENT], townhall_id, text)
    qid = question_id(server, http[MODERATOR2], townhall_id, text)
    if approved:
        moderate(server, http[MODERATOR2], townhall_id, qid, "approve")
    return qid


def open_console(page, server, townhall_id: int) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/townhalls/{townhall_id}/moderate")
    expect(page.locator("#connection")).to_have_text("Up to date")


def test_console_ids_are_unique_in_every_state(server, http, moderator, tmp_path: Path):
    from tests.web.test_valid_html import nu_errors

    page, errors = moderator
    official, mod2, resident = http[OFFICIAL], http[MODERATOR2], http[RESIDENT]
    townhall_id = open_live_townhall(server.url, official, "Console states")
    saved: list[Path] = []

    def check(state: str) -> None:
        open_console(page, server, townhall_id)
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        found = page.evaluate(AXE_DUPLICATE_IDS_JS)
        assert found["rules"], "axe-core has no duplicate-id rule"
        assert found["violations"] == [], (state, found["violations"])
        file = tmp_path / f"console-{state}.html"
        file.write_text(mod2.get(f"{server.url}/townhalls/{townhall_id}/moderate",
                                 timeout=10).text)
        saved.append(file)

    ask(server, resident, townhall_id, "Will the library open on Sundays next year?")
    first = question_id(server, mod2, townhall_id, "Will the library open on Sundays next year?")
    check("pending")
    moderate(server, mod2, townhall_id, first, "approve")
    check("approved")
    ask(server, resident, townhall_id, "Is the library going to open on Sundays next year?")
    check("similar-hint")
    assert "Possibly the same as" in saved[-1].read_text()
    moderate(server, mod2, townhall_id, first, "highlight")
    check("highlighted")
    ask(server, resident, townhall_id, "How many new trees will the park get?")
    trees = question_id(server, mod2, townhall_id, "How many new trees will the park get?")
    moderate(server, mod2, townhall_id, trees, "approve")
    moderate(server, mod2, townhall_id, trees, "answer", answer="Forty, this autumn.")
    check("answered")
    create_live_poll(server.env["DATABASE_URL"], townhall_id, OFFICIAL)
    check("with-polls")
    assert 'id="console-poll-' in saved[-1].read_text()
    # The page that asks before the end is checked with them.
    asked = mod2.post(f"{server.url}/townhalls/{townhall_id}/status", timeout=10, data={
        "csrf_token": form_token(mod2, f"{server.url}/townhalls/{townhall_id}/moderate"),
        "status": "ended"})
    assert asked.status_code == 200 and "Yes, end the town hall" in asked.text
    (tmp_path / "confirm-end.html").write_text(asked.text)
    saved.append(tmp_path / "confirm-end.html")
    assert nu_errors(saved) == []
    assert errors == []


def test_the_written_answer_label_points_at_its_own_box(server, http, moderator):
    from playwright.sync_api import expect

    page, errors = moderator
    townhall_id = open_live_townhall(server.url, http[OFFICIAL], "Label hall")
    qid = asked(server, http, townhall_id, "Can the market stay open until eight?", approved=True)
    open_console(page, server, townhall_id)
    item = page.locator(f"#approved-q{qid}")
    item.get_by_text("Answer in writing").click()
    item.get_by_text("Written answer (markdown)").click()
    expect(page.locator(f"#written-answer-{qid}")).to_be_focused()
    expect(page.locator("#console-message")).to_have_text("")
    # Nothing was marked answered: the question is still waiting for its answer.
    expect(item).to_be_visible()
    public = requests.get(f"{server.url}/townhalls/{townhall_id}", timeout=10).text
    assert "Answered live" not in public
    assert errors == []


def test_new_questions_arrive_while_an_answer_is_being_typed(server, http, moderator):
    from playwright.sync_api import expect

    page, errors = moderator
    townhall_id = open_live_townhall(server.url, http[OFFICIAL], "Busy hall")
    qid = asked(server, http, townhall_id, "Will the pool be heated in May?", approved=True)
    open_console(page, server, townhall_id)
    expect(page.locator("#queue-heading")).to_have_text("Awaiting moderation (0)")
    page.locator(f"#approved-q{qid}").get_by_text("Answer in writing").click()
    box = page.locator(f"#written-answer-{qid}")
    box.click()
    box.press_sequentially("Yes, from the first")

    ask(server, http[RESIDENT], townhall_id, "Where do the new bus lines stop?")
    ask(server, http[RESIDENT], townhall_id, "Who cleans the river banks?")
    expect(page.locator("#queue-heading")).to_have_text("Awaiting moderation (2)")
    expect(page.locator("#console-live .console-queue li")).to_have_count(2)
    # The panel is still open, the text still there, the cursor still in the box.
    expect(page.locator(f"#write-more-{qid}")).to_have_attribute("open", "")
    expect(box).to_have_value("Yes, from the first")
    expect(box).to_be_focused()
    box.press_sequentially(" of May.")
    expect(box).to_have_value("Yes, from the first of May.")
    page.locator(f"#write-{qid}").click()
    expect(page.locator("#console-message")).to_have_text(f"Question {qid}: marked answered.")
    expect(page.locator(f"#approved-q{qid}")).to_have_count(0)
    public = requests.get(f"{server.url}/townhalls/{townhall_id}/transcript", timeout=10).text
    assert "Yes, from the first of May." in public
    assert errors == []


def test_a_refused_action_shows_why_and_the_true_state(server, http, moderator):
    from playwright.sync_api import expect

    page, errors = moderator
    townhall_id = open_live_townhall(server.url, http[OFFICIAL], "Stale hall")
    qid = asked(server, http, townhall_id, "Can the school yard open on weekends?")
    open_console(page, server, townhall_id)
    expect(page.locator(f"#queue-q{qid}")).to_have_count(1)
    # The console misses the update (its refresh fails) while another moderator approves.
    part = f"**/townhalls/{townhall_id}/moderate?part=live"
    page.route(part, lambda route: route.abort())
    moderate(server, http[MODERATOR2], townhall_id, qid, "approve")
    expect(page.locator("#connection")).to_have_text("Could not refresh; reload the page.")
    errors.clear()  # the aborted refresh, on purpose
    page.unroute(part)
    page.locator(f"#approve-{qid}").click()
    expect(page.locator("#console-message")).to_contain_text("already approved")
    expect(page.locator("#console-message")).to_have_class(re.compile("error"))
    expect(page.locator(f"#queue-q{qid}")).to_have_count(0)
    expect(page.locator(f"#approved-q{qid}")).to_have_count(1)
    assert [e for e in errors if "part=live" not in e] == []


def test_dangerous_buttons_are_red_and_ask_first(server, http, moderator, browser):
    from playwright.sync_api import expect

    page, errors = moderator
    townhall_id = open_live_townhall(server.url, http[OFFICIAL], "Danger hall")
    qid = asked(server, http, townhall_id, "Could the library lend tools too?")
    open_console(page, server, townhall_id)

    def background(locator) -> str:
        return locator.evaluate("b => getComputedStyle(b).backgroundColor")

    end = page.get_by_role("button", name="End the town hall")
    page.locator(f"#queue-more-{qid} summary").click()
    reject = page.locator(f"#reject-{qid}")
    assert background(end) == DANGER and background(reject) == DANGER
    assert background(page.locator(f"#approve-{qid}")) != DANGER

    # "Reject" without the box ticked does nothing; ticked, it rejects.
    reject.click()
    expect(page.locator(f"#reject-confirm-{qid}")).to_have_js_property("validity.valid", False)
    expect(page.locator(f"#queue-q{qid}")).to_have_count(1)
    page.locator(f"#reject-confirm-{qid}").check()
    reject.click()
    expect(page.locator(f"#queue-q{qid}")).to_have_count(0)

    # "End the town hall" leads to a page that asks; going back changes nothing.
    end.click()
    page.wait_for_url(f"**/townhalls/{townhall_id}/status")
    expect(page.locator("h1")).to_have_text("End “Danger hall”?")
    assert background(page.get_by_role("button", name="Yes, end the town hall")) == DANGER
    page.get_by_role("link", name="No, go back").click()
    expect(page.locator("[data-status-badge]")).to_have_text("Live now")
    page.get_by_role("button", name="End the town hall").click()
    page.get_by_role("button", name="Yes, end the town hall").click()
    expect(page.locator("[data-status-badge]")).to_have_text("Ended")

    # A scheduled town hall, cancelled: "Cancelled", and not under "Past".
    response = post_form(http[OFFICIAL], server.url, "/townhalls/new", "/townhalls/new",
                         title="Planned hall", starts_at="2029-06-01T10:00",
                         ends_at="2029-06-01T12:00", question_max_length="300",
                         is_public="y")
    planned = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    open_console(page, server, planned)
    cancel = page.get_by_role("button", name="Cancel (end now)")
    assert background(cancel) == DANGER
    cancel.click()
    expect(page.locator("h1")).to_have_text("Cancel “Planned hall”?")
    page.get_by_role("button", name="Yes, cancel the town hall").click()
    expect(page.locator("[data-status-badge]")).to_have_text("Cancelled")
    page.goto(f"{server.url}/townhalls")
    past = page.locator("section", has=page.locator("#past-heading"))
    cancelled = page.locator("section", has=page.locator("#cancelled-heading"))
    expect(cancelled).to_contain_text("Planned hall")
    expect(past).not_to_contain_text("Planned hall")
    assert errors == []


def test_without_scripts_ending_and_rejecting_still_ask_first(server, http, browser):
    from playwright.sync_api import expect

    from tests.townhall.test_browser_polls import signed_in

    expect.set_options(timeout=20_000)
    errors: list[str] = []
    context, page = signed_in(browser, server, MODERATOR, errors, javascript=False)
    try:
        townhall_id = open_live_townhall(server.url, http[OFFICIAL], "Plain hall")
        qid = asked(server, http, townhall_id, "Can the bike racks be covered?")
        page.goto(f"{server.url}/townhalls/{townhall_id}/moderate")
        page.locator(f"#queue-more-{qid} summary").click()
        page.locator(f"#reject-{qid}").click()  # the required box stops the form
        expect(page.locator(f"#queue-q{qid}")).to_have_count(1)
        page.locator(f"#reject-confirm-{qid}").check()
        page.locator(f"#reject-{qid}").click()
        expect(page.locator(".flash")).to_contain_text(f"Question {qid}: rejected.")
        expect(page.locator(f"#queue-q{qid}")).to_have_count(0)
        page.get_by_role("button", name="End the town hall").click()
        expect(page.locator("h1")).to_have_text("End “Plain hall”?")
        page.get_by_role("button", name="Yes, end the town hall").click()
        expect(page.locator("[data-status-badge]")).to_have_text("Ended")
        assert errors == []
    finally:
        context.close()


def test_merge_targets_are_picked_and_searched_not_typed(server, http, moderator):
    from playwright.sync_api import expect

    page, errors = moderator
    townhall_id = open_live_townhall(server.url, http[OFFICIAL], "Picker hall")
    for text in ("Will the library open on Sundays soon?", "Can the market move to the square?",
                 "Is the library going to open on Sundays soon?"):
        ask(server, http[RESIDENT], townhall_id, text)
    ids = {text: question_id(server, http[MODERATOR2], townhall_id, text) for text in (
        "Will the library open on Sundays soon?", "Can the market move to the square?",
        "Is the library going to open on Sundays soon?")}
    library, market, duplicate = ids.values()
    moderate(server, http[MODERATOR2], townhall_id, library, "approve")
    moderate(server, http[MODERATOR2], townhall_id, market, "approve")
    open_console(page, server, townhall_id)
    page.locator(f"#queue-more-{duplicate} summary").click()
    picker = page.locator(f"#into-{duplicate}")
    values = picker.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert values == ["", str(library), str(market)]  # the look-alike first
    find = page.locator(f"#into-find-{duplicate}")
    expect(page.locator(f'label[for="into-find-{duplicate}"]')).to_contain_text(
        "Find a question to merge into")
    expect(find).to_be_visible()
    find.fill("market")
    expect(picker).to_have_value(str(market))
    expect(picker.locator(f'option[value="{library}"]')).to_have_js_property("hidden", True)
    find.fill("sundays")
    expect(picker).to_have_value(str(library))
    page.locator(f"#merge-{duplicate}").click()
    expect(page.locator(f"#queue-q{duplicate}")).to_have_count(0)
    expect(page.locator("#console-message")).to_contain_text(str(duplicate))
    assert errors == []


def test_each_outcome_reaches_the_asker_in_their_notifications(server, http, moderator, browser):
    """What the moderator does in the console, the asker reads in their notifications: approved,
    answered with the answer, not accepted with the moderator's explanation for "Other", merged
    with a link to the question it joined."""
    from playwright.sync_api import expect

    page, errors = moderator
    townhall_id = open_live_townhall(server.url, http[OFFICIAL], "Outcome hall")
    answered = asked(server, http, townhall_id, "Will the swimming pool open in June?")
    declined = asked(server, http, townhall_id, "Can we rename the river?")
    merged = asked(server, http, townhall_id, "Is the swimming pool opening in June?")
    open_console(page, server, townhall_id)

    page.locator(f"#approve-{answered}").click()
    expect(page.locator(f"#approved-q{answered}")).to_have_count(1)
    page.locator(f"#approved-q{answered}").get_by_text("Answer in writing").click()
    page.locator(f"#written-answer-{answered}").fill("Yes, on the first of June.")
    page.locator(f"#write-{answered}").click()
    expect(page.locator("#console-message")).to_have_text(f"Question {answered}: marked answered.")

    page.locator(f"#queue-more-{declined} summary").click()
    page.locator(f"#reason-{declined}").select_option("other")
    page.locator(f"#explanation-{declined}").fill("Street and river names are the council's.")
    page.locator(f"#reject-confirm-{declined}").check()
    page.locator(f"#reject-{declined}").click()
    expect(page.locator(f"#queue-q{declined}")).to_have_count(0)

    page.locator(f"#queue-more-{merged} summary").click()
    page.locator(f"#into-{merged}").select_option(str(answered))
    page.locator(f"#merge-{merged}").click()
    expect(page.locator(f"#queue-q{merged}")).to_have_count(0)
    assert errors == []

    context, resident = signed_in_page(browser, server, RESIDENT, errors)
    try:
        resident.goto(f"{server.url}/notifications")
        notices = resident.locator("ol.notifications li")
        texts = notices.all_inner_texts()
        mine = [t for t in texts if "Outcome hall" in t]
        assert any("“Will the swimming pool open in June?” was approved" in t for t in mine)
        assert any("has a written answer: Yes, on the first of June." in t for t in mine)
        assert any("“Can we rename the river?” for “Outcome hall” was not accepted. The "
                   "moderator explains: Street and river names are the council's." in t
                   for t in mine)
        assert any("was merged into a similar one: “Will the swimming pool open in June?”" in t
                   for t in mine), mine
        assert len(mine) == 4, mine
        resident.locator("ol.notifications li",
                         has_text="for “Outcome hall” was merged into").get_by_role("link").click()
        resident.wait_for_url(f"**/townhalls/{townhall_id}#q{answered}")
        expect(resident.locator(f"#q{answered}")).to_contain_text(
            "Will the swimming pool open in June?")
        assert errors == []
    finally:
        context.close()
