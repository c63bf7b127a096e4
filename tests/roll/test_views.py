"""The roll's pages through the HTTP client: verifying on the account page, the service desk,
the admin's upload, and the limits on attempts."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from participation.accounts.models import AuditEntry
from participation.roll import services
from participation.roll.models import RollEntry, VerificationAttempt
from tests.conftest import csrf_token
from tests.roll.helpers import HEADER, import_people, person

VERIFY = "/account/verification"


def _fields(row, **changes):
    data = dict(zip(("document_id", "birth_date", "postcode"), row[:3], strict=False))
    data.update(changes)
    return data


def _post_verify(client, row, **changes):
    return client.post(VERIFY, data={**_fields(row, **changes),
                                     "csrf_token": csrf_token(client, VERIFY)})


def test_a_resident_verifies_on_the_account_page(app, session, client_as):
    row = person(1, "Harbour")
    import_people(session, app, row)
    session.commit()
    client = client_as()
    account = client.get("/account").get_data(as_text=True)
    assert VERIFY in account
    response = _post_verify(client, row)
    assert response.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "Verified resident (district Harbour), since" in page
    assert row[0] not in page


def test_verifying_from_a_poll_leads_back_to_it(app, session, client_as):
    row = person(1)
    import_people(session, app, row)
    session.commit()
    client = client_as()
    page = client.get(VERIFY + "?next=/polls/7").get_data(as_text=True)
    assert ('action="/account/verification?next=/polls/7"' in page
            or 'action="/account/verification?next=%2Fpolls%2F7"' in page)
    response = client.post(VERIFY + "?next=/polls/7", data={
        **_fields(row), "csrf_token": csrf_token(client, VERIFY)})
    assert response.status_code == 302 and response.headers["Location"] == "/polls/7"
    outside = _post_verify(client_as(), row)
    assert outside.status_code == 400
    assert client.post(VERIFY + "?next=https://evil.example", data={
        **_fields(person(2)), "csrf_token": csrf_token(client, VERIFY)}).status_code != 302


def test_a_failed_attempt_says_no_field_and_echoes_nothing(app, session, client_as):
    row = person(1)
    import_people(session, app, row)
    session.commit()
    client = client_as()
    messages = set()
    for change in ({"document_id": "Q7654321Q"}, {"birth_date": "1901-01-01"},
                   {"postcode": "99999"}):
        response = _post_verify(client, row, **change)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "Q7654321Q" not in page and row[0] not in page and "99999" not in page
        assert 'aria-invalid' not in page
        messages.add(page.split('flash--error">', 1)[1].split("<", 1)[0])
    assert len(messages) == 1
    assert session.scalar(select(func.count()).select_from(VerificationAttempt)) == 3


def test_a_malformed_date_is_shown_on_its_field_without_the_document(app, session, client_as):
    import_people(session, app, person(1))
    session.commit()
    client = client_as()
    response = _post_verify(client, person(1), birth_date="31/12/1980")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "YYYY-MM-DD" in page
    assert person(1)[0] not in page and "31/12/1980" not in page


def test_a_second_account_is_told_how_to_get_help(app, session, client_as):
    row = person(1)
    import_people(session, app, row)
    session.commit()
    assert _post_verify(client_as(), row).status_code == 302
    response = _post_verify(client_as(), row)
    assert response.status_code == 400
    assert "service desk" in response.get_data(as_text=True)
    assert session.scalar(select(VerificationAttempt.outcome)) == "already_used"


def test_attempts_are_limited_per_account(app, session, client_as):
    app.config["LIMIT_ROLL_VERIFY"] = "2 per hour"
    row = person(1)
    import_people(session, app, row)
    session.commit()
    client = client_as()
    for _ in range(2):
        assert _post_verify(client, row, postcode="11111").status_code == 400
    assert _post_verify(client, row).status_code == 429
    # Another account on the same address has its own budget.
    assert _post_verify(client_as(), row).status_code == 302


def test_attempts_are_limited_per_address(app, session, client_as):
    app.config["LIMIT_ROLL_VERIFY_ADDRESS"] = "3 per hour"
    row = person(1)
    import_people(session, app, row)
    session.commit()
    for _ in range(3):
        assert _post_verify(client_as(), row, postcode="11111").status_code == 400
    assert _post_verify(client_as(), row).status_code == 429


def test_a_moderator_verifies_at_the_desk(app, session, client_as, make_user):
    row = person(1, "Old Town")
    import_people(session, app, row)
    person_at_desk = make_user(name="Walk In", email="walk.in@example.test")
    session.commit()
    moderator = client_as("moderator")
    found = moderator.get("/roll/desk?q=walk.in").get_data(as_text=True)
    assert "Walk In" in found
    path = f"/roll/desk/{person_at_desk.id}"
    response = moderator.post(path, data={**_fields(row), "csrf_token": csrf_token(moderator,
                                                                                   path)})
    assert response.status_code == 302
    assert services.standing_of(session, person_at_desk).method == "in_person"
    audit = moderator.get("/admin/audit")
    assert audit.status_code == 403
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "roll.verify_in_person"))
    assert entry.actor_id == moderator.user.id and entry.subject_id == person_at_desk.id
    assert row[0] not in str(entry.detail)


def test_residents_cannot_use_the_desk(app, client_as, make_user):
    resident = client_as()
    assert resident.get("/roll/desk").status_code == 403
    assert resident.get(f"/roll/desk/{make_user().id}").status_code == 403


def _upload(client, content: bytes, **options):
    data = {"file": (io.BytesIO(content), "roll.csv"),
            "csrf_token": csrf_token(client, "/admin/roll"), **options}
    return client.post("/admin/roll", data=data, content_type="multipart/form-data")


def _file(*rows) -> bytes:
    return ("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n").encode()


def test_the_admin_uploads_a_roll_and_reads_the_report(app, session, client_as):
    admin = client_as("admin")
    assert "No roll has been imported yet" in admin.get("/admin/roll").get_data(as_text=True)
    response = _upload(admin, _file(person(1), person(2), ("BAD", "x", "1", "N")))
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Not imported" in page
    assert "<td>4</td>" in page and "BAD" not in page
    assert session.scalar(select(func.count()).select_from(RollEntry)) == 0
    response = _upload(admin, _file(person(1), person(2), ("BAD", "x", "1", "N")),
                       accept_rejections="y")
    assert response.status_code == 200 and "Import report" in response.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(RollEntry)) == 2
    page = admin.get("/admin/roll").get_data(as_text=True)
    assert "2 added, 0 removed, 0 unchanged, 1 rejected" in page
    # The last import's rejected lines stay on the page.
    assert "Rejected lines of the last import" in page and "<td>4</td>" in page


def test_the_upload_refuses_a_file_that_is_not_a_roll(app, session, client_as):
    admin = client_as("admin")
    response = _upload(admin, b"\x89PNG\r\n\x1a\n\x00\x00")
    assert response.status_code == 400 and "not a CSV" in response.get_data(as_text=True)
    assert _upload(admin, b"").status_code == 400


def test_the_upload_takes_a_roll_larger_than_other_posts(make_app):
    from participation.accounts import services as accounts
    from participation.extensions import db
    from participation.security.permissions import Role
    from tests.conftest import PASSWORD, sign_in

    app = make_app(MAX_CONTENT_LENGTH=2000, TWO_FACTOR_REQUIRED_ROLES="")
    with app.app_context():
        user = accounts.register_user(db.session, email="big@example.test", display_name="Big",
                                      password=PASSWORD, role=Role.ADMIN, confirmed=True)
        db.session.commit()
        client = app.test_client()
        assert sign_in(client, user.email).status_code == 302
        content = _file(*(person(n) for n in range(200)))
        assert len(content) > 2000
        assert _upload(client, content).status_code == 200
        # The upload's own form still checks its CSRF token.
        response = client.post("/admin/roll", data={"file": (io.BytesIO(content), "roll.csv")},
                               content_type="multipart/form-data")
        assert response.status_code == 400
        # Other form posts keep the site's limit.
        assert client.post("/account/name", data={"display_name": "x" * 3000}).status_code == 413


def test_only_admins_see_the_roll_page(client_as):
    assert client_as("moderator").get("/admin/roll").status_code == 403


def test_the_upload_report_and_the_refused_verification_are_valid_html(
        app, session, client_as, tmp_path):
    from tests.web.test_valid_html import nu_errors

    admin = client_as("admin")
    report = _upload(admin, _file(person(1), person(1), ("BAD", "x", "1", "N"), person(2)),
                     accept_rejections="y")
    refused = _upload(admin, _file(person(3), ("BAD", "x", "1", "N")))
    resident = client_as()
    failed = _post_verify(resident, person(1), postcode="11111")
    malformed = _post_verify(resident, person(1), birth_date="soon")
    files = []
    for name, response in (("report", report), ("refused", refused), ("failed", failed),
                           ("malformed", malformed)):
        path = tmp_path / f"{name}.html"
        path.write_bytes(response.get_data())
        files.append(path)
    assert nu_errors(files) == []


def test_the_admin_sees_how_an_account_is_verified(app, session, client_as, make_user):
    row = person(1, "Harbour")
    import_people(session, app, row)
    resident = make_user()
    services.verify_online(session, resident, key=services.roll_key(app.config),
                           document_id=row[0], birth_date=row[1], postcode=row[2])
    other = make_user()
    session.commit()
    admin = client_as("admin")
    page = admin.get(f"/admin/users/{resident.id}").get_data(as_text=True)
    assert "Verified resident (district Harbour)" in page and "Verified online." in page
    assert row[0] not in page
    assert "Not verified" in admin.get(f"/admin/users/{other.id}").get_data(as_text=True)
