"""Importing the roll: counts, line numbers, bad files, and the old roll kept until a file
imports whole."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from participation.roll import services
from participation.roll.models import RollEntry, RollImport, Verification
from participation.roll.roll_file import UnreadableRoll
from tests.roll.helpers import HEADER, import_people, person, roll_csv


def _entries(session) -> dict[str, tuple[str | None, bool]]:
    return {h: (d, a) for h, d, a in session.execute(
        select(RollEntry.identity_hash, RollEntry.district, RollEntry.active))}


def _hash(app, row) -> str:
    return services.parse_identity(*row[:3]).hash(services.roll_key(app.config))


def test_first_import_adds_every_row_as_a_keyed_hash(app, session):
    rows = [person(n) for n in range(5)]
    report = import_people(session, app, *rows)
    assert (report.added, report.removed, report.unchanged, report.rejected) == (5, 0, 0, 0)
    assert report.applied
    stored = _entries(session)
    assert set(stored) == {_hash(app, row) for row in rows}
    assert all(len(h) == 64 and row[0] not in h for h, row in zip(stored, rows, strict=False))
    record = session.get(RollImport, report.import_id)
    assert (record.added, record.source) == (5, "command line")


def test_a_new_import_reports_added_removed_unchanged_and_keeps_verifications(
        app, session, make_user):
    key = services.roll_key(app.config)
    kept, gone = person(1), person(2)
    import_people(session, app, kept, gone, person(3))
    stays, leaves = make_user(), make_user()
    for user, row in ((stays, kept), (leaves, gone)):
        outcome = services.verify_online(session, user, key=key, document_id=row[0],
                                         birth_date=row[1], postcode=row[2])
        assert outcome.verification is not None
    report = import_people(session, app, kept, person(3), person(4))
    assert (report.added, report.removed, report.unchanged) == (1, 1, 2)
    assert services.standing_of(session, stays) is not None
    assert services.standing_of(session, leaves) is None
    assert services.account_standing(session, leaves).lapsed
    # The removed person's entry stays inactive; a later roll that has them again restores it.
    assert _entries(session)[_hash(app, gone)][1] is False
    # One comes back while another leaves, in the same import.
    again = import_people(session, app, kept, gone, person(3))
    assert (again.added, again.removed, again.unchanged) == (1, 1, 2)
    assert services.standing_of(session, leaves) is not None
    assert _entries(session)[_hash(app, person(4))][1] is False
    assert session.scalar(select(func.count()).select_from(RollEntry)) == 4
    assert session.scalar(select(func.count()).select_from(RollEntry).where(
        RollEntry.import_id == again.import_id)) == 4


def test_rejections_name_their_line_and_leave_the_roll_untouched(app, session):
    import_people(session, app, person(1), person(2))
    before = _entries(session)
    stream = roll_csv(person(1), ("", "1980-01-01", "28001", "North"),
                      ("Y1", "1980-02-30", "28001", "North"), ("Y2", "1980-01-01"),
                      ("Y3", "1980-01-01", "28 001", "x" * 81), person(5))
    report = services.import_roll(session, None, stream, key=services.roll_key(app.config))
    assert not report.applied and report.refused_for_rejections
    assert report.rejected == 4
    assert [r.line for r in report.rejections] == [3, 4, 5, 6]
    assert "document_id" in report.rejections[0].reason
    assert "birth_date" in report.rejections[1].reason
    assert "fields" in report.rejections[2].reason
    assert "district" in report.rejections[3].reason
    assert not any("Y1" in r.reason for r in report.rejections)
    assert (report.added, report.removed, report.unchanged) == (1, 1, 1)
    assert _entries(session) == before
    assert session.scalar(select(func.count()).select_from(RollImport)) == 1


def test_rejections_may_be_accepted_on_purpose(app, session):
    stream = roll_csv(person(1), ("Y1", "not a date", "28001", "North"))
    report = services.import_roll(session, None, stream, key=services.roll_key(app.config),
                                  accept_rejections=True)
    assert report.applied and report.added == 1 and report.rejected == 1


def test_dry_run_counts_without_changing_anything(app, session):
    report = import_people(session, app, person(1), dry_run=True)
    assert report.added == 1 and not report.applied
    assert not _entries(session)


def test_duplicates_blank_lines_bom_semicolons_and_crlf(app, session):
    body = ("\ufeff" + HEADER.replace(",", ";") + "\r\n\r\n"
            + ";".join(person(1)) + "\r\n" + "  \r\n" + ";".join(person(1)) + "\r\n"
            + ";".join(person(2)) + "\r\n" + ";;;\r\n")
    report = services.import_roll(session, None, io.BytesIO(body.encode()),
                                  key=services.roll_key(app.config))
    assert report.applied and report.added == 2 and report.rejected == 0
    assert report.duplicates == 1 and report.repeated == [(5, 3)]
    assert report.blank_lines == 3


def test_the_same_person_with_two_districts_is_rejected(app, session):
    one = person(1, "North")
    report = import_people(session, app, one, (*one[:3], "South"))
    assert report.rejected == 1 and report.rejections[0].line == 3
    assert "line 2" in report.rejections[0].reason


def test_latin1_lines_are_read_and_counted(app, session):
    stream = roll_csv(person(1, "Peñarroya"), person(2, "Œste"), encoding="cp1252")
    report = services.import_roll(session, None, stream, key=services.roll_key(app.config))
    assert report.applied and report.latin1_lines == 2
    assert sorted(_entries(session).values()) == [("Peñarroya", True), ("Œste", True)]


def test_a_huge_field_is_rejected_without_being_held(app, session):
    big = ("X" * 1_000_000, "1980-01-01", "28001", "North")
    report = import_people(session, app, person(1), big, person(2), accept_rejections=True)
    assert report.rejected == 1 and report.rejections[0].line == 3
    assert "longer than" in report.rejections[0].reason
    assert report.added == 2


@pytest.mark.parametrize(("content", "says"), [
    (b"", "empty"),
    (b"\n\n", "empty"),
    (b"name,email\nAda,ada@example.test\n", "missing: document_id, birth_date, postcode"),
    (b"document_id,postcode\nX1,28001\n", "missing: birth_date"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV"),
    ("document_id,birth_date,postcode\n".encode("utf-16"), "UTF-16"),
    (b"document_id,birth_date,postcode\n,,\n", "No row"),
    (b"A" * 10_000, "longer than"),
])
def test_a_file_that_is_not_a_roll_is_refused_whole(app, session, content, says):
    import_people(session, app, person(1))
    before = _entries(session)
    with pytest.raises(UnreadableRoll, match=says):
        services.import_roll(session, None, io.BytesIO(content),
                             key=services.roll_key(app.config))
    assert _entries(session) == before


def test_an_import_with_another_key_matches_nothing_and_says_so(app, session):
    import_people(session, app, person(1))
    report = services.import_roll(session, None, roll_csv(person(1)), key=b"another key",
                                  dry_run=True)
    assert report.matched_nothing and report.removed == 1 and report.added == 1


def test_only_admins_import(app, session, make_user):
    from participation.errors import Forbidden

    with pytest.raises(Forbidden):
        services.import_roll(session, make_user("moderator"), roll_csv(person(1)),
                             key=services.roll_key(app.config))
    report = services.import_roll(session, make_user("admin"), roll_csv(person(1)),
                                  key=services.roll_key(app.config), source="upload")
    assert report.applied
    assert session.scalar(select(Verification)) is None
