"""Every page type, for every role, in Debian's chromium: axe-core finds no serious or critical
violations, nothing scrolls sideways at 360 px, and no page weighs over 300 KB on first load."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.access.conftest import PAGE_TYPES, ROLES

pytestmark = [pytest.mark.browser, pytest.mark.server]

AXE = Axe()
BLOCKING = {"serious", "critical"}
PAGE_WEIGHT_LIMIT = 300 * 1024

# Bytes of the document, its style sheets and scripts as the browser received them.
PAGE_WEIGHT_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  let total = nav.decodedBodySize;
  for (const r of performance.getEntriesByType("resource")) {
    if (["link", "script", "css"].includes(r.initiatorType) || /\\.(css|js)(\\?|$)/.test(r.name)) {
      total += r.decodedBodySize;
    }
  }
  return total;
}"""


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(node["target"]) for node in v["nodes"][:5]]
        lines.append(f"{v['impact']}: {v['id']} ({v['help']}) at {targets}")
    return "\n".join(lines)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page_type", PAGE_TYPES)
def test_page_is_accessible_fits_360px_and_is_light(context_for, demo_site, page_type, role):
    """First load at 360 px (page weight, sideways scrolling), then axe-core at desktop width."""
    page = context_for(role, viewport={"width": 360, "height": 740}).new_page()
    page.goto(demo_site.url + demo_site.resolve(page_type))
    page.wait_for_load_state("load")
    where = f"{page_type} as {role} ({page.url})"
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{where} scrolls sideways at 360 px: {width}"
    weight = page.evaluate(PAGE_WEIGHT_JS)
    assert 0 < weight <= PAGE_WEIGHT_LIMIT, f"{where} weighs {weight} bytes on first load"

    page.set_viewport_size({"width": 1280, "height": 900})
    results = AXE.run(page).response
    assert results["passes"], f"axe-core did not run on {where}"
    blocking = [v for v in results["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"{where}:\n{_describe(blocking)}"
