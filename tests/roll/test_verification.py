"""Verifying an account against the roll: online, in person, one entry for one account."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from participation.accounts import services as accounts
from participation.accounts.models import AuditEntry, User
from participation.errors import Conflict, Forbidden, InvalidInput
from participation.roll import services
from participation.roll.models import Verification, VerificationAttempt
from tests.conftest import PASSWORD
from tests.roll.helpers import import_people, person


def _verify(app, session, user, row, **changes):
    fields = dict(zip(("document_id", "birth_date", "postcode"), row[:3], strict=False))
    fields.update(changes)
    return services.verify_online(session, user, key=services.roll_key(app.config), **fields)


def _outcomes(session) -> list[str]:
    return list(session.scalars(select(VerificationAttempt.outcome)
                                .order_by(VerificationAttempt.id)))


def test_a_match_verifies_the_account_with_its_district(app, session, make_user):
    row = person(1, "South")
    import_people(session, app, row)
    user = make_user()
    # Typed as a person would: lower case, spaces and dashes, a spaced postcode.
    outcome = _verify(app, session, user, row, document_id=" x-000 0001 a ",
                      postcode=row[2][:2] + " " + row[2][2:])
    assert outcome.refusal is None
    standing = services.standing_of(session, user)
    assert standing is not None and standing.district == "South"
    assert standing.method == "online" and standing.birth_year == int(row[1][:4])
    shown = services.account_standing(session, user)
    assert shown.verified and shown.district == "South" and shown.since is not None


@pytest.mark.parametrize("change", [
    {"document_id": "Z9999999Z"}, {"birth_date": "1901-01-01"}, {"postcode": "99999"}])
def test_a_wrong_field_fails_with_one_message_whichever_it_is(app, session, make_user, change):
    row = person(1)
    import_people(session, app, row)
    user = make_user()
    outcome = _verify(app, session, user, row, **change)
    assert outcome.verification is None
    assert outcome.refusal.field is None
    assert outcome.refusal.message == services._no_match().message
    assert _outcomes(session) == ["no_match"]
    assert services.standing_of(session, user) is None


def test_the_failure_message_is_the_same_for_every_wrong_field(app, session, make_user):
    row = person(1)
    import_people(session, app, row)
    user = make_user()
    messages = {_verify(app, session, user, row, **change).refusal.message for change in (
        {"document_id": "Z9999999Z"}, {"birth_date": "1901-01-01"}, {"postcode": "99999"})}
    assert len(messages) == 1


@pytest.mark.parametrize("change", [
    {"document_id": ""}, {"birth_date": "12/05/1980"}, {"birth_date": "1980-13-01"},
    {"postcode": ""}, {"document_id": "<script>"}, {"document_id": None}])
def test_malformed_details_are_refused_and_recorded_nowhere(app, session, make_user, change):
    row = person(1)
    import_people(session, app, row)
    user = make_user()
    with pytest.raises(InvalidInput) as refused:
        _verify(app, session, user, row, **change)
    assert "<script>" not in refused.value.message
    assert _outcomes(session) == [] and services.standing_of(session, user) is None


def test_a_second_account_with_the_same_identity_is_refused_and_counted(
        app, session, make_user):
    row = person(1)
    import_people(session, app, row)
    first, second = make_user(), make_user()
    assert _verify(app, session, first, row).verification is not None
    outcome = _verify(app, session, second, row)
    assert outcome.verification is None
    assert "service desk" in outcome.refusal.message
    assert _outcomes(session) == ["already_used"]
    assert services.standing_of(session, second) is None
    summary = services.summarize_roll(session, make_user("admin"))
    assert (summary.refused_already_used, summary.refused_no_match) == (1, 0)
    assert summary.verified_online == 1


def test_an_account_verified_once_is_not_verified_again(app, session, make_user):
    rows = person(1), person(2)
    import_people(session, app, *rows)
    user = make_user()
    _verify(app, session, user, rows[0])
    with pytest.raises(Conflict):
        _verify(app, session, user, rows[1])


def test_a_moderator_verifies_in_person_audited_without_the_identity(app, session, make_user):
    row = person(1, "East")
    import_people(session, app, row)
    moderator, resident = make_user("moderator"), make_user(name="Desk Visitor")
    assert services.find_accounts_for_desk(session, moderator, "desk vis") == [resident]
    services.verify_in_person(session, moderator, resident, key=services.roll_key(app.config),
                              document_id=row[0], birth_date=row[1], postcode=row[2])
    standing = services.standing_of(session, resident)
    assert standing.method == "in_person" and standing.district == "East"
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "roll.verify_in_person"))
    assert (audit.actor_id, audit.subject_id) == (moderator.id, resident.id)
    assert row[0] not in str(audit.detail) and row[1] not in str(audit.detail)


def test_residents_cannot_verify_others(app, session, make_user):
    row = person(1)
    import_people(session, app, row)
    with pytest.raises(Forbidden):
        services.verify_in_person(session, make_user(), make_user(),
                                  key=services.roll_key(app.config), document_id=row[0],
                                  birth_date=row[1], postcode=row[2])


def test_at_the_desk_a_verification_moves_only_when_asked(app, session, make_user):
    row = person(1)
    import_people(session, app, row)
    moderator, old, new = make_user("moderator"), make_user(), make_user()
    _verify(app, session, old, row)
    key = services.roll_key(app.config)
    fields = dict(document_id=row[0], birth_date=row[1], postcode=row[2])
    with pytest.raises(Conflict):
        services.verify_in_person(session, moderator, new, key=key, **fields)
    services.verify_in_person(session, moderator, new, key=key, move=True, **fields)
    assert services.standing_of(session, old) is None
    assert services.standing_of(session, new).method == "in_person"
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "roll.verify_in_person"))
    assert audit.detail["moved_from_account"] == old.id


def test_deleting_an_account_releases_its_verification(app, session, make_user):
    row = person(1)
    import_people(session, app, row)
    gone, again = make_user(), make_user()
    _verify(app, session, gone, row)
    accounts.delete_account(session, gone, password=PASSWORD)
    assert session.scalar(select(Verification).where(Verification.user_id == gone.id)) is None
    assert _verify(app, session, again, row).verification is not None


def test_download_my_data_says_whether_and_how_not_the_hash(app, session, make_user):
    row = person(1, "West")
    import_people(session, app, row)
    user = make_user()
    assert accounts.export_personal_data(session, user)["roll_verification"]["verified"] is False
    _verify(app, session, user, row)
    data = accounts.export_personal_data(session, user)["roll_verification"]
    assert data["verified"] and data["method"] == "online" and data["district"] == "West"
    entry_hash = session.scalar(select(Verification)).entry.identity_hash
    assert entry_hash not in str(data) and row[0] not in str(data)


def test_two_accounts_racing_for_one_identity_verify_one(app, session, make_user):
    from participation.extensions import db
    from tests.concurrency import at_once

    row = person(1)
    import_people(session, app, row)
    racers = iter([make_user().id, make_user().id])
    session.commit()
    lock = threading.Lock()

    def job():
        with lock:
            user_id = next(racers)
        user = db.session.get(User, user_id)
        outcome = services.verify_online(db.session, user, key=services.roll_key(app.config),
                                         document_id=row[0], birth_date=row[1],
                                         postcode=row[2])
        return outcome.refusal is None

    assert sorted(at_once(app, job)) == [False, True]
    session.rollback()
    assert len(session.scalars(select(Verification)).all()) == 1
    assert _outcomes(session) == ["already_used"]


def test_a_new_district_for_the_same_person_keeps_the_verification(app, session, make_user):
    row = person(1, "North")
    import_people(session, app, row)
    user = make_user()
    _verify(app, session, user, row)
    report = import_people(session, app, (*row[:3], "South"))
    assert (report.added, report.removed, report.unchanged) == (0, 0, 1)
    assert services.standing_of(session, user).district == "South"


def test_an_account_whose_row_left_the_roll_verifies_again_with_new_details(
        app, session, make_user):
    old, renewed = person(1), person(2)
    import_people(session, app, old)
    user = make_user()
    _verify(app, session, user, old)
    import_people(session, app, renewed)
    assert services.standing_of(session, user) is None
    assert _verify(app, session, user, renewed).verification is not None
    assert services.standing_of(session, user) is not None
    assert len(session.scalars(select(Verification)).all()) == 1
