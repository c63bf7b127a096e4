"""Account rules, tested directly with a session."""

from __future__ import annotations

import pytest

from participation.accounts import services
from participation.accounts.models import FORMER_PARTICIPANT, AuditEntry, User
from participation.errors import Conflict, Forbidden, InvalidInput
from participation.security.permissions import Role
from tests.conftest import PASSWORD


def test_register_stores_lowercased_email_and_argon2_hash(session):
    user = services.register_user(session, email="  Ana@Example.TEST ", display_name="Ana",
                                  password=PASSWORD)
    assert user is not None
    assert user.email == "ana@example.test"
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash
    assert user.role is Role.RESIDENT


def test_register_with_a_taken_email_returns_none_and_adds_nothing(session, make_user):
    existing = make_user(email="taken@example.test")
    result = services.register_user(session, email="TAKEN@example.test", display_name="Other",
                                    password=PASSWORD)
    assert result is None
    session.commit()
    assert session.query(User).count() == 1
    assert existing.display_name != "Other"


@pytest.mark.parametrize(
    ("email", "name", "password", "field"),
    [
        ("not-an-email", "Ana", PASSWORD, "email"),
        ("", "Ana", PASSWORD, "email"),
        ("a" * 250 + "@x.test", "Ana", PASSWORD, "email"),
        ("ana@example.test", "", PASSWORD, "display_name"),
        ("ana@example.test", "x" * 81, PASSWORD, "display_name"),
        ("ana@example.test", "Former participant", PASSWORD, "display_name"),
        ("ana@example.test", "Ana", "short", "password"),
        ("ana@example.test", "Ana", "x" * 2000, "password"),
    ],
)
def test_register_rejects_bad_input_by_field(session, email, name, password, field):
    with pytest.raises(InvalidInput) as error:
        services.register_user(session, email=email, display_name=name, password=password)
    assert error.value.field == field
    assert session.query(User).count() == 0


def test_display_names_lose_control_and_direction_override_characters(session):
    user = services.register_user(session, email="r@example.test",
                                  display_name="Ro\u202esa\x00 Lee", password=PASSWORD)
    assert user.display_name == "Rosa Lee"


def test_authenticate_checks_password_and_standing(session, make_user):
    user = make_user()
    assert services.authenticate(session, email=user.email.upper(), password=PASSWORD) == user
    assert services.authenticate(session, email=user.email, password="wrong password!!") is None
    assert services.authenticate(session, email="nobody@example.test", password=PASSWORD) is None
    assert services.authenticate(session, email="not an email", password=PASSWORD) is None
    user.suspended_at = user.created_at
    assert services.authenticate(session, email=user.email, password=PASSWORD) is None


def test_end_all_sessions_rotates_the_token(session, make_user):
    user = make_user()
    before = user.get_id()
    services.end_all_sessions(session, user)
    assert user.get_id() != before
    assert user.get_id().startswith(f"{user.id}:")


def test_change_password_needs_the_current_one_and_rotates_sessions(session, make_user):
    user = make_user()
    token = user.session_token
    with pytest.raises(InvalidInput) as error:
        services.change_password(session, user, current="wrong wrong wrong", new="a" * 12)
    assert error.value.field == "current_password"
    assert user.session_token == token
    services.change_password(session, user, current=PASSWORD, new="a brand new passphrase")
    assert user.session_token != token
    assert services.authenticate(session, email=user.email, password="a brand new passphrase")


def test_delete_account_keeps_the_row_but_removes_identity(session, make_user):
    user = make_user(email="gone@example.test", name="Gone Soon")
    with pytest.raises(InvalidInput):
        services.delete_account(session, user, password="not my password")
    services.delete_account(session, user, password=PASSWORD)
    session.commit()
    assert user.public_name == FORMER_PARTICIPANT
    assert "gone@example.test" not in user.email
    assert user.password_hash is None
    assert not user.is_active
    assert services.authenticate(session, email="gone@example.test", password=PASSWORD) is None
    # the address can be used for a new account afterwards
    assert services.register_user(session, email="gone@example.test", display_name="New",
                                  password=PASSWORD) is not None


def test_export_personal_data_holds_the_account(session, make_user):
    user = make_user(email="me@example.test")
    data = services.export_personal_data(session, user)
    assert data["account"]["email"] == "me@example.test"
    assert "password_hash" not in str(data) and user.password_hash not in str(data)


def test_set_role_is_audited_and_admin_only(session, make_user):
    admin, resident, moderator = make_user(Role.ADMIN), make_user(), make_user(Role.MODERATOR)
    with pytest.raises(Forbidden):
        services.set_role(session, moderator, resident, "official")
    services.set_role(session, admin, resident, "official")
    session.commit()
    assert resident.role is Role.OFFICIAL
    entry = session.query(AuditEntry).one()
    assert (entry.actor_id, entry.subject_id, entry.action) == (admin.id, resident.id,
                                                                 "role_changed")
    assert entry.detail == {"old": "resident", "new": "official"}
    with pytest.raises(InvalidInput):
        services.set_role(session, admin, resident, "emperor")


def test_admin_cannot_demote_themselves(session, make_user):
    admin = make_user(Role.ADMIN)
    with pytest.raises(Forbidden):
        services.set_role(session, admin, admin, "resident")
    assert admin.role is Role.ADMIN


def test_suspend_and_restore(session, make_user):
    admin, resident = make_user(Role.ADMIN), make_user()
    token = resident.session_token
    with pytest.raises(InvalidInput):
        services.suspend_user(session, admin, resident, reason="   ")
    services.suspend_user(session, admin, resident, reason="Repeated abuse")
    assert not resident.is_active and resident.session_token != token
    with pytest.raises(Conflict):
        services.suspend_user(session, admin, resident, reason="again")
    with pytest.raises(Forbidden):
        services.suspend_user(session, admin, admin, reason="oops")
    services.restore_user(session, admin, resident)
    session.commit()
    assert resident.is_active
    actions = [e.action for e in session.query(AuditEntry).order_by(AuditEntry.id)]
    assert actions == ["suspended", "restored"]


def test_search_users_by_name_email_and_role(session, make_user):
    admin = make_user(Role.ADMIN, name="Alex Admin")
    make_user(email="rosa@example.test", name="Rosa Resident")
    make_user(Role.MODERATOR, name="Morgan")
    users, total = services.search_users(session, admin, query="ROSA")
    assert [u.email for u in users] == ["rosa@example.test"] and total == 1
    users, total = services.search_users(session, admin, role="moderator")
    assert [u.display_name for u in users] == ["Morgan"]
    with pytest.raises(InvalidInput):
        services.search_users(session, admin, role="nope")
    users, total = services.search_users(session, admin, query="%")
    assert total == 3
