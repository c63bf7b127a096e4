"""On the demo site in Debian's chromium: no page shows a raw ISO moment as text, the
commitments page at 360 px is a list of cards with nothing narrower than its content, and the
publish form's preview, evidence filter and commitment rows work in the browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.access.conftest import PAGE_TYPES

pytestmark = [pytest.mark.browser, pytest.mark.server]

NARROW = {"width": 360, "height": 740}
RAW_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

# The page's text as a reader sees it (attributes are not text), leaving out machine data shown
# as data: canonical JSON and code.
VISIBLE_TEXT_JS = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll("pre, code, script, template").forEach((node) => node.remove());
  document.body.after(copy);
  copy.hidden = false;
  const text = copy.innerText;
  copy.remove();
  return text;
}"""

# Every commitments cell and what is inside it: nothing wider than its box, no date or badge
# broken over lines, every row a card.
CRUSHED_JS = """() => {
  const problems = [];
  const cells = document.querySelectorAll(".commitments-table td, .commitments-table td *");
  for (const el of cells) {
    const style = getComputedStyle(el);
    if (style.display !== "inline" && el.clientWidth > 0 && el.scrollWidth > el.clientWidth) {
      problems.push(`${el.tagName}.${el.className} ${el.scrollWidth} > ${el.clientWidth}`);
    }
    const pieces = el.getClientRects().length;
    if ((el.tagName === "TIME" || el.classList.contains("badge")) && pieces !== 1) {
      problems.push(`${el.tagName} "${el.textContent}" broken over ${pieces} lines`);
    }
  }
  for (const row of document.querySelectorAll(".commitments-table tbody tr")) {
    if (getComputedStyle(row).display !== "block") { problems.push("a row is not a card"); }
  }
  return {problems, cells: cells.length, width: document.scrollingElement.scrollWidth};
}"""


@pytest.mark.parametrize("role", ["visitor", "official", "admin"])
def test_no_page_shows_a_raw_iso_moment(context_for, demo_site, role):
    page = context_for(role).new_page()
    shown = []
    for page_type in PAGE_TYPES:
        path = demo_site.resolve(page_type)
        page.goto(demo_site.url + path)
        for found in RAW_MOMENT.findall(page.evaluate(VISIBLE_TEXT_JS)):
            shown.append((path, found))
    assert not shown


def test_commitments_are_cards_at_360px_and_nothing_is_crushed(context_for, demo_site):
    page = context_for("official", viewport=NARROW).new_page()
    page.goto(demo_site.url + "/decisions/commitments")
    checked = page.evaluate(CRUSHED_JS)
    assert checked["cells"] >= 4, "the demo has commitments to lay out"
    assert checked["problems"] == []
    assert checked["width"] <= NARROW["width"]


def test_the_preview_is_where_the_page_goes_and_the_pickers_work(context_for, demo_site):
    page = context_for("official").new_page()
    page.goto(demo_site.url + "/decisions/new")
    boxes = page.locator("[data-evidence-kind=townhall] input[type=checkbox]")
    assert boxes.count() > 0
    title = page.locator("[data-evidence-kind=townhall] label").first.inner_text()
    # Typing in the filter hides what does not match, without sending the form.
    page.fill("#evidence_filter", "zzzz no such title")
    assert page.locator("[data-evidence-item]:visible").count() == 0
    page.fill("#evidence_filter", "")
    boxes.first.check()
    page.get_by_role("button", name="Add more rows").click()
    assert page.locator("[data-commitment-row]").count() == 4
    assert page.locator("#commitments-3-due").evaluate("el => el === document.activeElement")
    page.fill("#title", "Street trees are watered weekly")
    page.select_option("#outcome", "adopted")
    page.fill("#department", "Parks")
    page.fill("#summary", "The city waters **every new tree** once a week in summer.")
    page.fill("#commitments-3-due", "2099-06-30")
    page.fill("#commitments-3-promise", "Report how many trees survived")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_url(re.compile(r".*/decisions/new#preview$"))
    preview = page.locator(".preview")
    assert preview.locator(".preview-summary strong").inner_text() == "every new tree"
    assert "Report how many trees survived" in preview.inner_text()
    assert title.split(" (#")[0] in preview.inner_text()
    expect(page.locator("#preview")).to_be_focused()
    top = page.evaluate("document.getElementById('preview').getBoundingClientRect().top")
    # The browser scrolls to whole pixels: a box at a fractional offset may start a fraction of a
    # pixel above the top edge.
    assert -1 < top < page.viewport_size["height"]
