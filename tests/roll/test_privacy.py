"""No plain identity anywhere: the database file, the logs and the pages of a run of imports,
verifications (good, wrong and malformed) and desk work hold none of the document ids used."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from participation.accounts import services as accounts
from tests.conftest import csrf_token
from tests.roll.helpers import import_people, person


def test_no_document_id_in_the_database_the_logs_or_the_pages(
        app, session, client_as, make_user, caplog):
    rows = [person(n) for n in range(1, 6)]
    with caplog.at_level(logging.DEBUG):
        import_people(session, app, *rows)
        desk_person = make_user()
        session.commit()
        resident = client_as()
        pages = []
        for data in ({"document_id": rows[0][0], "birth_date": rows[0][1], "postcode": "00000"},
                     {"document_id": rows[1][0], "birth_date": "31/12/1999",
                      "postcode": rows[1][2]},
                     dict(zip(("document_id", "birth_date", "postcode"), rows[2][:3],
                              strict=False))):
            response = resident.post("/account/verification", data={
                **data, "csrf_token": csrf_token(resident, "/account/verification")})
            pages.append(response.get_data(as_text=True))
        pages.append(resident.get("/account").get_data(as_text=True))
        moderator = client_as("moderator")
        path = f"/roll/desk/{desk_person.id}"
        pages.append(moderator.post(path, data={
            "document_id": rows[3][0], "birth_date": rows[3][1], "postcode": rows[3][2],
            "csrf_token": csrf_token(moderator, path)}).get_data(as_text=True))
        pages.append(moderator.post(path, data={
            "document_id": rows[4][0], "birth_date": rows[4][1], "postcode": rows[4][2],
            "csrf_token": csrf_token(moderator, path)}).get_data(as_text=True))
        admin = client_as("admin")
        pages.append(admin.get("/admin/roll").get_data(as_text=True))
        pages.append(admin.get("/admin/audit").get_data(as_text=True))
        exported = json.dumps(accounts.export_personal_data(session, resident.user))
    session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    stored = b""
    if url.startswith("sqlite:///"):
        # The file and its write-ahead log, as they are on disk.
        database = Path(url.removeprefix("sqlite:///"))
        stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert stored
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for row in rows:
        assert row[0].encode() not in stored
        assert row[0] not in logged
        assert row[0] not in exported
        for page in pages:
            assert row[0] not in page
