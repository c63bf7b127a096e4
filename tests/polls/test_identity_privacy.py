"""One run of everything that handles an identity, then a search of what it left behind: the
database file (and its write-ahead log), the logs, the command line's output and every export a
visitor, resident or official can download hold none of the plain document ids used.

The run: the roll imported from the command line, a resident verified online, another at a
desk, a wrong attempt, paper ballots entered with identities (one accepted, one refused as
already voted online, one not on the roll), the poll closed and cited by a decision record.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from click.testing import CliRunner

from participation.accounts import services as accounts
from participation.cli import cli
from participation.decisions import services as decisions
from participation.extensions import db
from participation.polls import services
from participation.polls.models import Eligibility
from participation.security.permissions import Role
from tests.conftest import csrf_token

# Invented people: document id as a city's export writes it, date of birth, postcode, district.
PEOPLE = [("12345678-Z", "1981-02-17", "28001", "Centro"),
          ("X 1234567 L", "1990-01-05", "28001", "Centro"),
          ("87654321X", "1975-09-30", "28045", "Centro"),
          ("Y7654321B", "1968-04-22", "28045", "Centro")]
STRANGER = ("Z9999999Q", "1970-01-01", "28001")  # not on the roll


def _plain_forms(document_id: str) -> set[str]:
    """The document id as typed and as normalized: neither may be found anywhere."""
    normalized = "".join(c for c in document_id if c.isalnum()).upper()
    return {document_id, normalized}


def test_no_plain_document_id_in_the_database_the_logs_or_any_export(
        app, session, make_poll, make_user, client_as, official, caplog, tmp_path):
    roll_file = tmp_path / "roll.csv"
    roll_file.write_text("document_id,birth_date,postcode,district\n"
                         + "".join(",".join(p) + "\n" for p in PEOPLE), encoding="utf-8")
    texts: list[str] = []
    env = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "INSTANCE_PATH": app.instance_path, "SOCKETIO_ASYNC_MODE": "threading",
           "PARTICIPATION_ENV": "development", "ROLL_KEY": app.config["ROLL_KEY"]}
    with caplog.at_level(logging.DEBUG):
        imported = CliRunner().invoke(cli, ["roll", "import", str(roll_file)], env=env)
        assert imported.exit_code == 0, imported.output
        texts.append(imported.output)

        online = client_as(Role.RESIDENT)
        for typed in ({"document_id": PEOPLE[0][0], "birth_date": PEOPLE[0][1],
                       "postcode": "99999"},  # wrong: refused, and counted
                      dict(zip(("document_id", "birth_date", "postcode"), PEOPLE[0][:3],
                               strict=False))):
            answer = online.post("/account/verification", data={
                **typed, "csrf_token": csrf_token(online, "/account/verification")})
            texts.append(answer.get_data(as_text=True))
        at_desk = make_user(Role.RESIDENT)
        session.commit()
        desk = client_as(Role.MODERATOR)
        path = f"/roll/desk/{at_desk.id}"
        answer = desk.post(path, data={
            "document_id": PEOPLE[1][0], "birth_date": PEOPLE[1][1], "postcode": PEOPLE[1][2],
            "csrf_token": csrf_token(desk, path)}, follow_redirects=True)
        texts.append(answer.get_data(as_text=True))

        poll = make_poll()
        poll.eligibility = Eligibility.VERIFIED
        db.session.commit()
        for voter in (online, client_as(Role.RESIDENT, user=at_desk)):
            page = f"/polls/{poll.id}"
            answer = voter.post(page, data={
                "choice": str(poll.options[0].id), "csrf_token": csrf_token(voter, page)},
                follow_redirects=True)
            texts.append(answer.get_data(as_text=True))
        officer = client_as(Role.MODERATOR)
        form = f"/polls/{poll.id}/paper"
        for person in (PEOPLE[2], PEOPLE[0], STRANGER):  # accepted, voted online, unknown
            answer = officer.post(form, data={
                "choice": str(poll.options[1].id), "channel": "paper",
                "document_id": person[0], "birth_date": person[1], "postcode": person[2],
                "csrf_token": csrf_token(officer, form)}, follow_redirects=True)
            texts.append(answer.get_data(as_text=True))

        poll = db.session.get(type(poll), poll.id)
        services.close_poll(db.session, official, poll)
        db.session.commit()
        decisions.publish_decision(db.session, official, decisions.Draft(
            title="Where the playground goes", summary="The residents chose.",
            outcome="adopted", department="Parks", links=[("poll", poll.id)]))
        db.session.commit()

        visitor = app.test_client()
        admin = client_as(Role.ADMIN)
        for client, url in ((visitor, f"/polls/{poll.id}/ballots.json"),
                            (visitor, f"/polls/{poll.id}/ballots.csv"),
                            (visitor, f"/api/v1/polls/{poll.id}"),
                            (visitor, "/api/v1/decisions/export"),
                            (visitor, "/decisions/feed.atom"),
                            (visitor, f"/polls/{poll.id}"),
                            (online, "/account/data.json"),
                            (admin, "/admin/roll"), (admin, "/admin/audit"),
                            (officer, form)):
            answer = client.get(url)
            assert answer.status_code == 200, url
            texts.append(answer.get_data(as_text=True))
        texts.append(json.dumps(accounts.export_personal_data(db.session, at_desk)))
    exported = visitor.get(f"/polls/{poll.id}/ballots.json").get_json()
    (tmp_path / "ballots.json").write_text(json.dumps(exported), encoding="utf-8")
    recounted = CliRunner().invoke(cli, ["recount", str(tmp_path / "ballots.json")], env=env)
    assert recounted.exit_code == 0, recounted.output
    texts.append(recounted.output)
    texts.append("\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records))

    db.session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    stored = b""
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert stored
    everything = "\n".join(texts)
    # The run did what it says: two residents verified (online, at the desk) voted online, one
    # paper ballot was taken, the other two were refused.
    assert exported["channels"] == {"online": 2, "paper": 1, "phone": 0, "in_person": 0}
    for person in (*PEOPLE, STRANGER):
        for plain in _plain_forms(person[0]):
            assert plain.encode() not in stored, plain
            assert plain not in everything, plain
