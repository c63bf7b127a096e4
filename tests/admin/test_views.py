"""The admin's pages through the HTTP test client: search, roles, suspensions, the audit log."""

from __future__ import annotations

from participation.accounts.models import AuditEntry
from participation.security.permissions import Role
from tests.conftest import csrf_token, sign_in


def test_admin_lists_searches_and_changes_roles_with_audit(client_as, make_user, session):
    admin = client_as("admin")
    target = make_user(email="target@example.test", name="Target Person")
    page = admin.get("/admin/users?q=target").get_data(as_text=True)
    assert "Target Person" in page and "1 account." in page
    response = admin.post(f"/admin/users/{target.id}/role", data={
        "role": "moderator", "csrf_token": csrf_token(admin, f"/admin/users/{target.id}")})
    assert response.status_code == 302
    session.refresh(target)
    assert target.role is Role.MODERATOR
    audit = admin.get("/admin/audit").get_data(as_text=True)
    assert "role changed" in audit and "Target Person" in audit


def test_admin_suspension_signs_the_account_out_everywhere(app, client_as, make_user, session):
    admin = client_as("admin")
    victim_user = make_user()
    victim = client_as(user=victim_user)
    assert victim.get("/account").status_code == 200
    response = admin.post(f"/admin/users/{victim_user.id}/suspend", data={
        "reason": "Spam", "csrf_token": csrf_token(admin, f"/admin/users/{victim_user.id}")})
    assert response.status_code == 302
    assert victim.get("/account").status_code == 302
    assert sign_in(app.test_client(), victim_user.email).status_code == 400
    admin.post(f"/admin/users/{victim_user.id}/restore",
               data={"csrf_token": csrf_token(admin, f"/admin/users/{victim_user.id}")})
    assert sign_in(app.test_client(), victim_user.email).status_code == 302
    assert [e.action for e in session.query(AuditEntry).order_by(AuditEntry.id)] == [
        "suspended", "restored"]


def test_admin_forms_refuse_bad_input(client_as, make_user, session):
    admin = client_as("admin")
    target = make_user()
    token = csrf_token(admin, f"/admin/users/{target.id}")
    assert admin.post(f"/admin/users/{target.id}/role",
                      data={"role": "emperor", "csrf_token": token}).status_code == 400
    assert admin.post(f"/admin/users/{target.id}/suspend",
                      data={"reason": "", "csrf_token": token}).status_code == 400
    assert admin.get("/admin/users/999999").status_code == 404
    assert admin.post("/admin/users/999999/role",
                      data={"role": "admin", "csrf_token": token}).status_code == 404
    session.refresh(target)
    assert target.role is Role.RESIDENT and target.suspended_at is None
