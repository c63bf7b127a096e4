"""The decision story once in a real browser: an official publishes a record resting on the
demo's evidence, a visitor on a phone-sized screen reads it, downloads the chain and verifies it."""

from __future__ import annotations

import re

import pytest
import requests

from tests.two_factor import demo_two_factor_key, finish_browser_sign_in, remember

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_official_publishes_and_a_visitor_on_a_phone_verifies_the_download(browser, live_server,
                                                                            tmp_path):
    server = live_server()
    seeded = server.command("demo")
    assert seeded.returncode == 0, seeded.stderr
    password = re.search(r"password for all: (\S+)\)", seeded.stdout).group(1)
    remember("official@demo.participation.test", demo_two_factor_key(seeded.stdout))
    server.start()
    demo_record = requests.get(f"{server.url}/decisions/1", timeout=30)
    assert demo_record.status_code == 200 and "Amended by" in demo_record.text
    ended = [t for t in requests.get(f"{server.url}/api/v1/townhalls", timeout=30).json()["items"]
             if t["status"] == "ended"][0]

    official = browser.new_context()
    page = official.new_page()
    page.goto(f"{server.url}/login")
    page.fill("#email", "official@demo.participation.test")
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()
    finish_browser_sign_in(page, "official@demo.participation.test")
    page.wait_for_url(re.compile(r".*/$"))
    page.goto(f"{server.url}/decisions/new")
    page.fill("#title", "Main Street loading bays stay")
    page.select_option("#outcome", "adopted")
    page.fill("#department", "Transport")
    page.fill("#summary", "Deliveries keep **two loading bays** on the side streets.")
    page.check(f"#evidence-townhall-{ended['id']}")
    page.check("#evidence-thread-1")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator(".preview")
    assert "Preview: what will be frozen" in preview.inner_text()
    assert ended["title"] in preview.inner_text()
    page.get_by_role("button", name="Publish record").click()
    page.wait_for_url(re.compile(r".*/decisions/\d+$"))
    seq = int(page.url.rsplit("/", 1)[1])
    official.close()

    visitor = browser.new_context(viewport={"width": 360, "height": 740}, accept_downloads=True)
    phone = visitor.new_page()
    phone.goto(f"{server.url}/decisions/{seq}")
    assert phone.locator("h1").inner_text() == "Main Street loading bays stay"
    assert phone.locator(".prose strong").inner_text() == "two loading bays"
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 360
    assert phone.locator("meter, .transcript-question").count() > 0
    with phone.expect_download() as download:
        phone.get_by_role("link", name="the whole chain").click()
    path = tmp_path / "chain.json"
    download.value.save_as(path)
    visitor.close()
    verified = server.command("verify", str(path))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith(f"OK: {seq} records, head ")
    head = requests.get(f"{server.url}/api/v1/decisions", timeout=30).json()["head"]
    assert head in verified.stdout
    path.write_bytes(path.read_bytes().replace(b"loading bays", b"loading bay!", 1))
    refused = server.command("verify", str(path))
    assert refused.returncode == 1 and refused.stdout.startswith(f"FAILED at record {seq}:")
