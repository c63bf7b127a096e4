"""In Debian's chromium: a resident asks in one browser, a moderator approves in another, and
the question appears on the resident's page without a reload; a phone reads the projector's QR
code and its link leads to the live page."""

from __future__ import annotations

import struct
import zlib

import pytest
import requests

from tests.conftest import CSRF_RE, PASSWORD
from tests.two_factor import finish_browser_sign_in
from tests.watchers import create_accounts, signed_in_session

pytestmark = [pytest.mark.browser, pytest.mark.server]


def _token(http: requests.Session, url: str) -> str:
    match = CSRF_RE.search(http.get(url, timeout=10).text)
    return match.group(1) or match.group(2)


def live_townhall(server) -> int:
    create_accounts(server.env["DATABASE_URL"], official="official@example.test")
    http = signed_in_session(server.url, "official@example.test")
    response = http.post(server.url + "/townhalls/new", timeout=10, allow_redirects=False, data={
        "csrf_token": _token(http, server.url + "/townhalls/new"), "title": "Browser hall",
        "starts_at": "2026-01-01T10:00", "ends_at": "2030-01-01T10:00",
        "question_max_length": "300", "is_public": "y", "allow_anonymous": "y"})
    townhall_id = int(response.headers["Location"].rsplit("/", 1)[1])
    http.post(f"{server.url}/townhalls/{townhall_id}/status", timeout=10, data={
        "csrf_token": _token(http, f"{server.url}/townhalls/{townhall_id}"), "status": "live"})
    return townhall_id


def signed_in_page(browser, server, email: str, errors: list[str]):
    context = browser.new_context()
    page = context.new_page()
    # Chromium asks for /favicon.ico on its own; any other failed request is a fault.
    page.on("response", lambda response: response.status >= 400
            and not response.url.endswith("/favicon.ico")
            and errors.append(f"{response.status} {response.url}"))
    page.on("console", lambda message: message.type == "error"
            and "Failed to load resource" not in message.text and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")  # the header holds the language form
    finish_browser_sign_in(page, email)
    page.wait_for_url(server.url + "/")
    return context, page


def test_a_question_approved_in_one_browser_appears_in_another_without_reload(
        live_server, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # the machine may be busy; the page must get there
    server = live_server().start()
    townhall_id = live_townhall(server)
    create_accounts(server.env["DATABASE_URL"], resident="resident@example.test",
                    moderator="moderator@example.test")
    errors: list[str] = []
    resident_context, resident = signed_in_page(browser, server, "resident@example.test", errors)
    moderator_context, moderator = signed_in_page(browser, server, "moderator@example.test",
                                                  errors)
    try:
        resident.goto(f"{server.url}/townhalls/{townhall_id}")
        expect(resident.locator("#connection")).to_have_text("Up to date")
        moderator.goto(f"{server.url}/townhalls/{townhall_id}/moderate")
        expect(moderator.locator("#connection")).to_have_text("Up to date")

        resident.fill("#text", "Will the library open on Sundays?")
        resident.click("#ask-form button[type=submit]")
        expect(resident.locator("#mine-list")).to_contain_text("Awaiting moderation")
        expect(resident.locator("#ask-message")).to_contain_text("awaiting moderation")

        queued = moderator.locator("#console-live .console-queue li",
                                   has_text="Will the library open on Sundays?")
        expect(queued).to_have_count(1)
        queued.get_by_role("button", name="Approve").click()

        approved = resident.locator("#question-list li",
                                    has_text="Will the library open on Sundays?")
        expect(approved).to_have_count(1)
        expect(resident.locator("#mine-list li")).to_have_count(0)
        expect(resident.locator("#announcer")).to_contain_text("New question")
        expect(moderator.locator("#console-live .console-queue li")).to_have_count(0)
        assert errors == []
    finally:
        resident_context.close()
        moderator_context.close()


def grey_pixels(png: bytes) -> memoryview:
    """The pixels of an 8-bit PNG (chromium's screenshots) as a grey (height, width) buffer,
    what zxing-cpp reads; the standard library only."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        chunks.setdefault(kind, []).append(png[at + 8:at + 8 + length])
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    assert depth == 8 and interlace == 0, (depth, interlace)
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    stride = width * channels
    previous = bytearray(stride)
    grey = bytearray()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                nearest = min((abs(guess - left), 0, left), (abs(guess - up), 1, up),
                              (abs(guess - corner), 2, corner))[2]
                line[x] = (line[x] + nearest) & 0xFF
        previous = line
        for x in range(0, stride, channels):
            grey.append(line[x] if channels < 3 else
                        (line[x] * 299 + line[x + 1] * 587 + line[x + 2] * 114) // 1000)
    return memoryview(bytes(grey)).cast("B", (height, width))


def test_a_phone_reads_the_projectors_qr_code_and_its_link_leads_to_the_live_page(
        live_server, browser):
    """What the projector serves, drawn by chromium and read by zxing-cpp as a phone would."""
    import zxingcpp
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    server = live_server().start()
    townhall_id = live_townhall(server)
    code = requests.get(f"{server.url}/api/v1/townhalls/{townhall_id}", timeout=10).json()[
        "join_code"]
    link = f"{server.url}/j/{code}"
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        page.goto(f"{server.url}/townhalls/{townhall_id}/projector")
        expect(page.locator(".join-url")).to_have_text(link)
        expect(page.locator(".join-code")).to_have_text(code)
        qr = page.locator("svg.join-qr")
        expect(qr).to_have_attribute("aria-label", f"QR code of the join link {link}")
        box = qr.bounding_box()
        assert box and box["width"] >= 200  # large enough to scan from the room
        found = zxingcpp.read_barcodes(grey_pixels(qr.screenshot()))
        assert [(b.format, b.text) for b in found] == [(zxingcpp.BarcodeFormat.QRCode, link)]
        page.goto(found[0].text)
        page.wait_for_url(f"{server.url}/townhalls/{townhall_id}")
        expect(page.locator("h1")).to_contain_text("Browser hall")
    finally:
        context.close()
