"""In Debian's chromium: the "Verify" buttons check the chain in the page with the browser's own
SHA-256, and give the verdict `participation verify` gives, on the genuine export downloaded
from the site and on every tampered export the command's tests use (tests/decisions/tampering.py),
records and commitment updates alike, served to the page in place of the site's. One server for
the module.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from participation.decisions.verify import UnreadableExport, load_export, verify_export
from tests.conftest import LiveServer
from tests.decisions import tampering

pytestmark = [pytest.mark.browser, pytest.mark.server]

EXPORT_PATH = "/api/v1/decisions/export"
# Text that canonical JSON must write exactly as Python does: non-ASCII as itself, control
# characters escaped, "/" unescaped, keys sorted by code point (U+FFFF before U+1F600, which
# UTF-16 order would reverse).
AWKWARD = "Tab\there, “quotes” \"too\", back\\slash, </script>, é, 😀, \u2028, \u007f, \u0001."


def seed_chain(url: str) -> int:
    """The five records of test_verify's `export` (evidence, an amendment, a commitment closed
    later), published in the live site's database with a test-only poll provider, and a sixth
    resting on a real ended town hall that left a question unanswered; its id. The fifth record
    makes a commitment that three updates follow: on track, delayed, done."""
    from participation import create_app
    from participation.accounts import services as accounts
    from participation.db import utcnow
    from participation.decisions import services
    from participation.decisions.providers import PROVIDERS
    from participation.extensions import db
    from participation.security.permissions import Role
    from participation.townhall import services as townhalls
    from participation.townhall.models import Status
    from tests.conftest import PASSWORD, base_config
    from tests.decisions.conftest import FakeItems, draft

    fake = FakeItems()
    fake.add("poll", 1, title="Evening hours?", snapshot={
        "question": "Which evenings?", "turnout": 41, "tally": [{"label": "Tue", "votes": 30}],
        "note": AWKWARD, "\uffff": 1, "😀": 2, "é": 3, "e": 4})
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url))
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        patch.setitem(PROVIDERS, "poll", fake.provider("poll"))
        official = accounts.register_user(db.session, email="official@example.test",
                                          display_name="Olivia Official", password=PASSWORD,
                                          role=Role.OFFICIAL, confirmed=True)

        def publish(**fields: Any) -> Any:
            record = services.publish_decision(db.session, official, draft(**fields))
            db.session.commit()
            return record

        first = publish(links=[("poll", 1)], summary=AWKWARD,
                        commitments=[(utcnow().date(), "Reply on parking")])
        publish(title="Second", outcome="rejected")
        publish(title="Correction", amends=first.seq)
        publish(title="Parking reply", closes=[first.commitments[0].id])
        fifth = publish(title="Fifth", outcome="deferred",
                        commitments=[(utcnow().date() + timedelta(days=30), "Report back")])
        for status, note, percent in (("on_track", "Work has started", 10),
                                      ("delayed", AWKWARD, None),
                                      ("done", "Answered in writing", 100)):
            services.post_commitment_update(db.session, official, fifth.commitments[0].id,
                                            status=status, note=note, percent=percent,
                                            department="Libraries")
            db.session.commit()

        now = utcnow()
        resident = accounts.register_user(db.session, email="resident@example.test",
                                          display_name="Rosa", password=PASSWORD,
                                          role=Role.RESIDENT, confirmed=True)
        townhall = townhalls.create_townhall(db.session, official, title="Parking on Elm St",
                                             starts_at=now - timedelta(hours=2),
                                             ends_at=now - timedelta(hours=1))
        townhalls.set_status(db.session, official, townhall, Status.LIVE)
        question = townhalls.ask_question(db.session, resident, townhall,
                                          text="Who decides about the parking permits?")
        moderator = accounts.register_user(db.session, email="moderator@example.test",
                                           display_name="Mo", password=PASSWORD,
                                           role=Role.MODERATOR, confirmed=True)
        townhalls.approve_question(db.session, moderator, question)
        townhalls.set_status(db.session, official, townhall, Status.ENDED)
        db.session.commit()
        publish(title="Permits decided by the council", links=[("townhall", townhall.id)])
        townhall_id = townhall.id
        db.session.remove()
        db.engine.dispose()
    return townhall_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("verify-in-browser"))
    shutil.copy(migrated_sqlite, live.env["DATABASE_URL"].removeprefix("sqlite:///"))
    live.townhall_id = seed_chain(live.env["DATABASE_URL"])
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def genuine(site: LiveServer) -> bytes:
    response = requests.get(site.url + EXPORT_PATH, timeout=30)
    assert response.status_code == 200
    return response.content


@pytest.fixture(scope="module")
def page(browser: Any, site: LiveServer) -> Iterator[Any]:
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == []


def command_verdict(content: bytes, expect_head: str | None, folder: Path) -> dict[str, str]:
    """What `participation verify` decides, from the same functions the command calls."""
    path = folder / "chain.json"
    path.write_bytes(content)
    try:
        data = load_export(path)
    except UnreadableExport as error:
        return {"ok": "unreadable", "message": str(error)}
    outcome = verify_export(data, expect_head)
    verdict = {"ok": str(outcome.ok).lower(), "count": str(outcome.count), "head": outcome.head,
               "updates": str(outcome.updates)}
    if not outcome.ok:
        verdict["message"] = outcome.problem
    if outcome.bad_seq is not None:
        verdict["badSeq"] = str(outcome.bad_seq)
    if outcome.bad_update is not None:
        verdict["badUpdate"] = str(outcome.bad_update)
    return verdict


def page_verdict(page: Any, site: LiveServer, content: bytes, *, path: str = "/decisions",
                 button: str = "Verify the whole chain",
                 expect_head: str | None = None) -> dict[str, str]:
    """Serve `content` as the site's export, press the button and read the page's answer."""
    page.unroute("**" + EXPORT_PATH)
    page.route("**" + EXPORT_PATH, lambda route: route.fulfill(
        status=200, content_type="application/json", body=content))
    page.goto(site.url + path)
    if expect_head:
        page.fill("#verify-expected-head", expect_head)
    page.get_by_role("button", name=button).click()
    result = page.locator("#verify-result")
    # Waiting on the locator, not on a script: the site's CSP forbids evaluating strings.
    expect(result).to_have_attribute("data-state", re.compile(r"^(ok|fail|warn)$"))
    verdict = {name: result.get_attribute(f"data-{attribute}")
               for name, attribute in (("ok", "ok"), ("count", "count"), ("head", "head"),
                                       ("badSeq", "bad-seq"), ("updates", "updates"),
                                       ("badUpdate", "bad-update"))}
    return {**{k: v for k, v in verdict.items() if v is not None},
            "text": result.inner_text(), "state": result.get_attribute("data-state")}


def assert_same(command: dict[str, str], shown: dict[str, str]) -> None:
    for key in ("ok", "count", "head", "badSeq", "updates", "badUpdate"):
        assert shown.get(key) == command.get(key), (key, command, shown)
    if command["ok"] == "true":
        assert shown["text"].startswith(
            f"Intact: {command['count']} records, head {command['head']}."), shown["text"]
    elif "badUpdate" in command:
        assert shown["text"].startswith(
            f"Commitment update {command['badUpdate']} fails: {command['message']}. The first "
            f"{command['updates']} commitment updates are intact. The {command['count']} records "
            f"are intact, up to the hash {command['head']}."), shown["text"]
    elif command["ok"] == "false":
        # The same reason, word for word, and the last good head to compare.
        assert f"Record {command['badSeq']} fails: {command['message']}." in shown["text"]
        assert command["head"] in shown["text"]


def test_the_genuine_export_is_intact_in_the_browser_as_on_the_command_line(page, site, genuine,
                                                                           tmp_path):
    command = command_verdict(genuine, None, tmp_path)
    assert command["ok"] == "true" and command["count"] == "6"
    page.goto(site.url + "/decisions")  # the real download this time, not a routed one
    page.unroute("**" + EXPORT_PATH)
    page.get_by_role("button", name="Verify the whole chain").click()
    result = page.locator("#verify-result")
    expect(result).to_have_attribute("data-state", "ok")
    assert command["updates"] == "3"
    assert result.inner_text().startswith(f"Intact: 6 records, head {command['head']}. The 3 "
                                          "commitment updates are intact too.")
    assert result.get_attribute("data-updates") == "3"
    assert "copy kept elsewhere" in result.inner_text()
    assert result.get_attribute("data-head") == requests.get(
        site.url + "/api/v1/decisions", timeout=30).json()["head"]
    # The canonical JSON of every record is byte for byte Python's.
    from participation.decisions.chain import canonical_json

    export = json.loads(genuine)
    shown = [entry["record"] for entry in export["records"]]
    shown += [entry["update"] for entry in export["updates"]]
    for value in shown:
        text = json.dumps(value, ensure_ascii=False)
        assert page.evaluate("text => window.participationVerify.canonicalJSON(text)",
                             text) == canonical_json(value)


@pytest.mark.parametrize("name", list(tampering.TAMPERS))
def test_every_tampered_export_gets_the_commands_verdict(page, site, genuine, tmp_path, name):
    data, expect_head = tampering.TAMPERS[name](copy.deepcopy(json.loads(genuine)))
    content = tampering.as_bytes(data)
    command = command_verdict(content, expect_head, tmp_path)
    shown = page_verdict(page, site, content, expect_head=expect_head)
    assert_same(command, shown)
    if name != "rewrite_tail_unpinned":
        assert command["ok"] == "false" and shown["state"] == "fail"


@pytest.mark.parametrize("name", list(tampering.UPDATE_TAMPERS))
def test_tampered_updates_are_caught_by_the_browser_where_the_command_catches_them(
        page, site, genuine, tmp_path, name):
    data, expect_head = tampering.UPDATE_TAMPERS[name](copy.deepcopy(json.loads(genuine)))
    content = tampering.as_bytes(data)
    command = command_verdict(content, expect_head, tmp_path)
    assert command["ok"] == "false" and "badUpdate" in command and "badSeq" not in command
    shown = page_verdict(page, site, content, expect_head=expect_head)
    assert shown["state"] == "fail"
    assert_same(command, shown)


def test_in_spanish_the_verdict_on_the_updates_is_spanish(browser, site, genuine):
    context = browser.new_context(locale="es-ES")
    try:
        tab = context.new_page()
        tab.goto(site.url + "/decisions")
        tab.locator("#verify-tool button").click()
        result = tab.locator("#verify-result")
        expect(result).to_have_attribute("data-state", "ok")
        assert "Las 3 actualizaciones de compromisos también están íntegras." in \
            result.inner_text()

        data, _ = tampering.update_percent(copy.deepcopy(json.loads(genuine)))
        tab.route("**" + EXPORT_PATH, lambda route: route.fulfill(
            status=200, content_type="application/json", body=tampering.as_bytes(data)))
        tab.reload()
        tab.locator("#verify-tool button").click()
        expect(result).to_have_attribute("data-state", "fail")
        assert result.inner_text().startswith("La actualización de compromiso 3 falla: ")
        assert "Las primeras 2 actualizaciones de compromisos están íntegras." in \
            result.inner_text()
        assert "Los 6 registros están íntegros, hasta el hash " in result.inner_text()
    finally:
        context.close()


def test_a_version_1_export_without_updates_still_verifies_in_the_browser(page, site, genuine,
                                                                         tmp_path):
    data = json.loads(genuine)
    for key in ("updates", "updates_count", "updates_head"):
        del data[key]
    data["version"] = 1
    content = tampering.as_bytes(data)
    command = command_verdict(content, None, tmp_path)
    assert command["ok"] == "true" and command["updates"] == "0"
    shown = page_verdict(page, site, content)
    assert_same(command, shown)
    assert "commitment updates" not in shown["text"]


@pytest.mark.parametrize(("content", "message"), tampering.MALFORMED,
                         ids=[message for _, message in tampering.MALFORMED])
def test_files_that_are_no_export_are_unreadable_for_both(page, site, tmp_path, content, message):
    command = command_verdict(content, None, tmp_path)
    assert command["ok"] == "unreadable" and message in command["message"]
    shown = page_verdict(page, site, content)
    assert shown["ok"] == "unreadable"
    assert "not a readable chain export" in shown["text"] and message in shown["text"]


def test_verify_this_record_names_the_record_that_breaks_it(page, site, genuine, tmp_path):
    export = json.loads(genuine)
    intact = page_verdict(page, site, genuine, path="/decisions/3", button="Verify this record")
    assert intact["state"] == "ok"
    assert intact["text"].startswith(
        f"Record 3 is intact: its hash {export['records'][2]['hash']} follows from the first "
        "record. The whole chain is intact: 6 records, head ")

    data, _ = tampering.alter_and_rehash(copy.deepcopy(export))  # record 2 altered
    content = tampering.as_bytes(data)
    command = command_verdict(content, None, tmp_path)
    broken = page_verdict(page, site, content, path="/decisions/3", button="Verify this record")
    assert broken["state"] == "fail" and broken["badSeq"] == command["badSeq"] == "2"
    assert broken["text"].startswith(
        f"Record 3 cannot be confirmed: record 2 fails: {command['message']}.")

    data, _ = tampering.alter_title(copy.deepcopy(export))  # record 3 altered, 1 still good
    later = page_verdict(page, site, tampering.as_bytes(data), path="/decisions/1",
                         button="Verify this record")
    assert later["state"] == "warn" and later["text"].startswith("Record 1 is intact")
    assert "But a later record fails: record 3: " in later["text"]

    # A bad commitment update leaves every record confirmed, and is named.
    data, _ = tampering.update_status(copy.deepcopy(export))
    content = tampering.as_bytes(data)
    command = command_verdict(content, None, tmp_path)
    updated = page_verdict(page, site, content, path="/decisions/5", button="Verify this record")
    assert updated["state"] == "warn" and updated["badUpdate"] == command["badUpdate"] == "2"
    assert updated["text"] == (f"Record 5 is intact: its hash {export['records'][4]['hash']} "
                               "follows from the first record. But the commitment updates fail: "
                               f"update 2: {command['message']}.")

    # A rewritten tail is consistent in itself, but not with the hash this page shows.
    data, _ = tampering.rewrite_tail(copy.deepcopy(export))
    forged = page_verdict(page, site, tampering.as_bytes(data), path="/decisions/5",
                          button="Verify this record")
    assert forged["state"] == "fail"
    assert forged["text"] == (f"The downloaded chain's record 5 has the hash "
                              f"{data['records'][4]['hash']}, but this page shows "
                              f"{export['records'][4]['hash']}.")


def test_without_javascript_the_buttons_are_hidden_and_the_command_is_explained(browser, site):
    context = browser.new_context(java_script_enabled=False)
    try:
        tab = context.new_page()
        for path, button in (("/decisions", "Verify the whole chain"),
                             ("/decisions/2", "Verify this record")):
            tab.goto(site.url + path)
            assert tab.get_by_role("button", name=button).count() == 0
            assert not tab.locator("#verify-tool").is_visible()
            assert "participation verify" in tab.locator("main").inner_text()
            assert "prints OK with the chain's head" in tab.locator("main").inner_text()
    finally:
        context.close()


def test_on_plain_http_elsewhere_the_page_says_web_crypto_is_unavailable(browser, site):
    """http://verify.example is not a secure context (127.0.0.1 is): no SHA-256 there."""
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.route("http://verify.example/**", lambda route: route.fulfill(
            response=route.fetch(url=route.request.url.replace("http://verify.example",
                                                               site.url))))
        tab.goto("http://verify.example/decisions")
        assert tab.evaluate("window.isSecureContext") is False
        result = tab.locator("#verify-result")
        expect(result).to_have_attribute("data-state", "warn")
        assert "only on https or on this computer's own address (127.0.0.1)" in result.inner_text()
        assert tab.get_by_role("button", name="Verify the whole chain").is_disabled()
    finally:
        context.close()


def test_an_unanswered_question_in_the_transcript_leads_to_the_record_that_took_it_up(page, site):
    page.unroute("**" + EXPORT_PATH)
    page.goto(f"{site.url}/townhalls/{site.townhall_id}/transcript")
    cited = page.get_by_role("region", name="Decision records that cite this town hall")
    assert cited.get_by_role("link").all_inner_texts() == [
        "Record 6: Permits decided by the council"]
    question = page.locator("li.question", has_text="Who decides about the parking permits?")
    assert "not answered" in question.inner_text()
    question.get_by_role("link", name="decision record 6: Permits decided by the council").click()
    page.wait_for_url(f"{site.url}/decisions/6")
    assert page.locator("h1").inner_text() == "Permits decided by the council"
    assert "Who decides about the parking permits?" in page.locator("main").inner_text()


def random_exports(count: int, seed: int = 7) -> list[bytes]:
    """Small chains of awkward records (astral and lone-surrogate strings, 2**53, nesting),
    each broken at random, and re-hashed onward half the time as a forger would."""
    from participation.decisions.chain import GENESIS_HASH, canonical_json, record_hash

    rng = random.Random(seed)
    letters = ["a", "Z", "é", "😀", "\uffff", "\u2028", "\x01", "\x7f", "\\", '"', "/", "'",
               " ", "\ud800"]

    def text() -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(0, 5)))

    def value(depth: int = 0) -> Any:
        roll = rng.random()
        if depth > 2 or roll < 0.3:
            return rng.choice([None, True, False, rng.randint(-5, 5), 2**53, -(2**53 - 1), text()])
        if roll < 0.6:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {text(): value(depth + 1) for _ in range(rng.randint(0, 3))}

    def rehash(records: list, start: int) -> str:
        prev = GENESIS_HASH if start == 0 else records[start - 1].get("hash")
        for entry in records[start:]:
            try:
                entry["prev_hash"] = prev
                entry["hash"] = prev = record_hash(prev, canonical_json(entry["record"]))
            except (TypeError, ValueError):
                break
        return prev

    made = []
    for _ in range(count):
        records = []
        for seq in range(1, rng.randint(2, 5) + 1):
            record = {"seq": seq, "title": "t", "x": 1, "commitments": [{"number": 1}],
                      "closes": [{"record": seq - 1, "commitment": 1}] if seq > 2 else [],
                      "amends": None}
            records.append({"seq": seq, "record": record})
        export = {"format": "participation-decision-chain", "count": len(records),
                  "head": rehash(records, 0), "records": records}
        at = rng.randrange(len(records))
        entry, record = records[at], records[at]["record"]
        change = rng.randrange(7)
        if change == 0:
            record["x"] = value()
        elif change == 1:
            record[rng.choice(["amends", "closes", "commitments", "seq"])] = value()
        elif change == 2:
            entry["seq"] = value()
        elif change == 3:
            export["count"] = value()
        elif change == 4:
            export["head"] = value()
        elif change == 5:
            del records[at]
        else:
            entry[rng.choice(["hash", "prev_hash"])] = value()
        if rng.random() < 0.6 and at < len(records) and isinstance(records[at], dict):
            head = rehash(records, at)
            if rng.random() < 0.5:
                export["head"] = head
        made.append(json.dumps(export, ensure_ascii=rng.random() < 0.5)
                    .encode("utf-8", "surrogatepass"))
    return made


def test_random_broken_exports_get_the_commands_verdict_word_for_word(page, site, tmp_path):
    page.unroute("**" + EXPORT_PATH)
    page.goto(site.url + "/decisions")
    exports = random_exports(200)
    shown = page.evaluate("""async blobs => {
        const out = [];
        for (const blob of blobs) {
            const bytes = Uint8Array.from(atob(blob), c => c.charCodeAt(0));
            const r = await window.participationVerify.verifyBytes(bytes, null);
            out.push(r.unreadable !== undefined ? {unreadable: true}
                     : {ok: r.ok, count: r.count, head: r.head, bad: r.badSeq, problem: r.problem});
        }
        return out;
    }""", [base64.b64encode(blob).decode() for blob in exports])
    kinds = set()
    for blob, answer in zip(exports, shown, strict=True):
        path = tmp_path / "chain.json"
        path.write_bytes(blob)
        try:
            outcome = verify_export(load_export(path))
        except UnreadableExport:
            expected: dict[str, Any] = {"unreadable": True}
        else:
            expected = {"ok": outcome.ok, "count": outcome.count, "head": outcome.head,
                        "bad": outcome.bad_seq, "problem": outcome.problem}
        assert answer == expected, blob[:400]
        kinds.add("unreadable" if "unreadable" in expected else expected["problem"][:12])
    assert len(kinds) >= 8  # intact, unreadable and many kinds of failure among them


def random_update_exports(count: int, seed: int = 11) -> list[bytes]:
    """Intact records making commitments, followed by chains of updates on them, each broken at
    random (odd statuses, percents and commitments, numbering, hashes, the stated count and
    head, an update removed) and re-hashed onward half the time as a forger would."""
    from participation.decisions.chain import GENESIS_HASH, canonical_json, record_hash

    rng = random.Random(seed)

    def odd() -> Any:
        return rng.choice([None, True, False, -1, 0, 100, 101, 2**53, "done", "Done", "",
                           "\ud800", "😀", [1], {"record": 1}, {"record": 1, "number": True},
                           {"record": [1], "number": 1}, {"record": 9, "number": 1}])

    def chain(entries: list, key: str, start: int) -> str:
        prev = GENESIS_HASH if start == 0 else entries[start - 1].get("hash")
        for entry in entries[start:]:
            try:
                entry["prev_hash"] = prev
                entry["hash"] = prev = record_hash(prev, canonical_json(entry[key]))
            except (TypeError, ValueError):
                break
        return prev

    made = []
    for _ in range(count):
        promises = [{"number": 1}, {"number": 2}]
        records = [{"seq": seq, "record": {"seq": seq, "commitments": promises, "closes": [],
                                           "amends": None}}
                   for seq in (1, 2)]
        updates = []
        for n in range(1, rng.randint(1, 6) + 1):
            updates.append({"n": n, "update": {
                "kind": "commitment_update", "n": n,
                "commitment": {"record": rng.randint(1, 2), "number": rng.randint(1, 2)},
                "status": rng.choice(["on_track", "delayed"] * 4 + ["done", "dropped"]),
                "note": rng.choice(["x", "é 😀", "\u2028"]),
                "percent": rng.choice([None, 0, 40, 100]),
                "department": "Libraries", "posted_at": "2026-12-04T12:00:00Z"}})
        export = {"format": "participation-decision-chain", "version": rng.choice([1, 2, True]),
                  "count": 2, "head": chain(records, "record", 0), "records": records,
                  "updates_count": len(updates), "updates_head": chain(updates, "update", 0),
                  "updates": updates}
        at = rng.randrange(len(updates))
        entry, update = updates[at], updates[at]["update"]
        change = rng.randrange(8)
        if change == 0:
            update[rng.choice(["status", "percent", "commitment", "n", "note"])] = odd()
        elif change == 1:
            entry["n"] = odd()
        elif change == 2:
            export["updates_count"] = odd()
        elif change == 3:
            export["updates_head"] = odd()
        elif change == 4:
            del updates[at]
        elif change == 5:
            entry[rng.choice(["hash", "prev_hash"])] = odd()
        elif change == 6:
            del entry[rng.choice(["n", "hash", "prev_hash", "update"])]
        else:
            entry[rng.choice(["hash", "prev_hash"])] = rng.choice([GENESIS_HASH, "a" * 64])
        if rng.random() < 0.6 and at < len(updates) and "update" in updates[at]:
            head = chain(updates, "update", at)
            if rng.random() < 0.5:
                export["updates_head"] = head
        made.append(json.dumps(export, ensure_ascii=rng.random() < 0.5)
                    .encode("utf-8", "surrogatepass"))
    return made


def test_random_broken_updates_get_the_commands_verdict_word_for_word(page, site, tmp_path):
    page.unroute("**" + EXPORT_PATH)
    page.goto(site.url + "/decisions")
    exports = random_update_exports(200)
    shown = page.evaluate("""async blobs => {
        const out = [];
        for (const blob of blobs) {
            const bytes = Uint8Array.from(atob(blob), c => c.charCodeAt(0));
            const r = await window.participationVerify.verifyBytes(bytes, null);
            out.push(r.unreadable !== undefined ? {unreadable: true}
                     : {ok: r.ok, count: r.count, head: r.head, bad: r.badSeq, problem: r.problem,
                        updates: r.updates, badUpdate: r.badUpdate});
        }
        return out;
    }""", [base64.b64encode(blob).decode() for blob in exports])
    kinds = set()
    for blob, answer in zip(exports, shown, strict=True):
        path = tmp_path / "chain.json"
        path.write_bytes(blob)
        try:
            outcome = verify_export(load_export(path))
        except UnreadableExport:
            expected: dict[str, Any] = {"unreadable": True}
        else:
            expected = {"ok": outcome.ok, "count": outcome.count, "head": outcome.head,
                        "bad": outcome.bad_seq, "problem": outcome.problem,
                        "updates": outcome.updates, "badUpdate": outcome.bad_update}
        assert answer == expected, blob[:600]
        kinds.add("unreadable" if "unreadable" in expected else expected["problem"][:12])
    assert len(kinds) >= 8  # intact, unreadable and many kinds of failure among them
