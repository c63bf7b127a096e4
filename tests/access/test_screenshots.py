"""The README's screenshots, taken from the demo site: wide and at 360 px, where nothing may scroll
sideways. They are written to docs/screenshots/ when UPDATE_SCREENSHOTS=1, otherwise to a
temporary folder, so an ordinary test run leaves the work tree alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.access.conftest import has_domain

pytestmark = [pytest.mark.browser, pytest.mark.server]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SHOTS = [("townhall_live", "resident"), ("townhall_console", "moderator")]
if has_domain("decisions"):
    SHOTS.append(("decision", "visitor"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        return DOCS
    return tmp_path


@pytest.mark.parametrize(("page_type", "role"), SHOTS)
def test_screenshot_wide_and_at_360px(context_for, demo_site, folder, page_type, role):
    for name, viewport in (("wide", {"width": 1280, "height": 900}),
                           ("360px", {"width": 360, "height": 780})):
        page = context_for(role, viewport=viewport).new_page()
        page.emulate_media(reduced_motion="reduce")
        page.goto(demo_site.url + demo_site.resolve(page_type))
        if page_type.startswith("townhall"):
            expect(page.locator("#connection")).to_have_text("Up to date")
        scroll, inner = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{page_type} at {name} scrolls sideways"
        path = folder / f"{page_type.replace('_', '-')}-{name}.png"
        page.screenshot(path=str(path), full_page=name == "360px")
        assert path.stat().st_size > 10_000
