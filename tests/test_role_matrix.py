"""Every route of the foundation, through every role: who is let in and who is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from participation.db import utcnow
from participation.decisions import services as decisions
from participation.extensions import db
from participation.security.permissions import Role
from participation.townhall import services as townhalls
from tests.conftest import csrf_token

ROLES = ["visitor", "resident", "moderator", "official", "admin"]
EVERYONE = set(ROLES)
SIGNED_IN = {"resident", "moderator", "official", "admin"}
ADMIN = {"admin"}
OFFICIALS = {"official", "admin"}
TOWNHALL_EDIT = {"title": "Matrix hall", "starts_at": "2027-01-10T18:00",
                 "ends_at": "2027-01-10T19:00", "question_max_length": "300"}

# (method, path, who may, form data). {other} is another account's id, {townhall} a scheduled
# town hall's, {seq} a decision record's with one commitment. The coverage check below is for
# the foundation's routes; other domains' routes are listed here when their access rule is worth
# checking through every role.
MATRIX = [
    ("GET", "/", EVERYONE, None),
    ("GET", "/healthz", EVERYONE, None),
    ("GET", "/register", EVERYONE, None),
    ("GET", "/login", EVERYONE, None),
    ("POST", "/register", EVERYONE, {"email": "matrix@example.test", "display_name": "M",
                                     "password": "correct horse battery staple"}),
    ("POST", "/login", EVERYONE, {"email": "nobody@example.test", "password": "x"}),
    ("GET", "/api/v1/openapi.json", EVERYONE, None),
    ("GET", "/account", SIGNED_IN, None),
    ("GET", "/account/data.json", SIGNED_IN, None),
    ("POST", "/account/name", SIGNED_IN, {"display_name": "Renamed"}),
    ("POST", "/account/password", SIGNED_IN, {"current_password": "x", "new_password": "y"}),
    ("POST", "/account/delete", SIGNED_IN, {"password": "wrong password"}),
    ("POST", "/account/email", SIGNED_IN, {"change-email": "new@example.test",
                                           "change-password": "wrong password"}),
    ("POST", "/account/confirm/resend", SIGNED_IN, {}),
    # A forged link: a clear page for everyone, not a refusal by role.
    ("GET", "/account/confirm/<token>", EVERYONE, None),
    ("POST", "/account/confirm/<token>", EVERYONE, {}),
    ("GET", "/password/forgot", EVERYONE, None),
    ("POST", "/password/forgot", EVERYONE, {"email": "nobody@example.test"}),
    ("GET", "/password/reset/<token>", EVERYONE, None),
    ("POST", "/password/reset/<token>", EVERYONE, {"new_password": "a new password, long"}),
    ("POST", "/logout", EVERYONE, {}),
    # The second step answers whoever comes (with no password given first: back to sign-in).
    ("GET", "/login/code", EVERYONE, None),
    ("POST", "/login/code", EVERYONE, {"code": "123456"}),
    ("GET", "/login/two-factor", EVERYONE, None),
    ("POST", "/login/two-factor", EVERYONE, {"code": "123456"}),
    ("GET", "/account/two-factor", SIGNED_IN, None),
    ("POST", "/account/two-factor", SIGNED_IN, {"code": "123456"}),
    # Officials and admins must keep it (TWO_FACTOR_REQUIRED_ROLES by default).
    ("POST", "/account/two-factor/off", {"resident", "moderator"},
     {"off-password": "x", "off-code": "123456"}),
    ("POST", "/account/two-factor/recovery-codes", SIGNED_IN,
     {"renew-password": "x", "renew-code": "123456"}),
    ("POST", "/admin/users/{other}/two-factor/reset", ADMIN, {}),
    ("GET", "/admin/users", ADMIN, None),
    ("GET", "/admin/users/{other}", ADMIN, None),
    ("GET", "/admin/audit", ADMIN, None),
    ("POST", "/admin/users/{other}/role", ADMIN, {"role": "moderator"}),
    ("POST", "/admin/users/{other}/suspend", ADMIN, {"reason": "Testing the matrix"}),
    ("POST", "/admin/users/{other}/restore", ADMIN, {}),
    ("GET", "/admin/roll", ADMIN, None),
    ("POST", "/admin/roll", ADMIN, {}),
    ("GET", "/account/verification", SIGNED_IN, None),
    ("POST", "/account/verification", SIGNED_IN, {"document_id": "X1", "birth_date": "x",
                                                  "postcode": "1"}),
    ("GET", "/roll/desk", {"moderator", "admin"}, None),
    ("GET", "/roll/desk/{other}", {"moderator", "admin"}, None),
    ("POST", "/roll/desk/{other}", {"moderator", "admin"}, {}),
    ("GET", "/townhalls/{townhall}/edit", OFFICIALS, None),
    ("POST", "/townhalls/{townhall}/edit", OFFICIALS, TOWNHALL_EDIT),
    ("POST", "/townhalls/{townhall}/remind", SIGNED_IN, {"remind": "0"}),
    # The Atom feeds are for everyone (and list only what everyone may see).
    ("GET", "/townhalls/feed.atom", EVERYONE, None),
    ("GET", "/polls/feed.atom", EVERYONE, None),
    ("GET", "/decisions/feed.atom", EVERYONE, None),
    # The officials' queue of forum threads awaiting an official response.
    ("GET", "/forums/awaiting", OFFICIALS, None),
    # The numbers are public, in every form.
    ("GET", "/numbers", EVERYONE, None),
    ("GET", "/numbers/charts/participants.svg", EVERYONE, None),
    ("GET", "/api/v1/numbers", EVERYONE, None),
    ("GET", "/api/v1/numbers.csv", EVERYONE, None),
    # A commitment's timeline is public; posting progress on it is for officials, by the form
    # and by the API (which answers a visitor 401).
    ("GET", "/decisions/{seq}/commitments/1", EVERYONE, None),
    ("POST", "/decisions/{seq}/commitments/1/updates", OFFICIALS,
     {"status": "on_track", "note": "Matrix progress", "department": "Matrix"}),
    ("GET", "/api/v1/decisions/{seq}/commitments/1/updates", EVERYONE, None),
    ("POST", "/api/v1/decisions/{seq}/commitments/1/updates", OFFICIALS, {}),
]

FOUNDATION_BLUEPRINTS = {"home", "accounts", "admin", "api"}


def test_matrix_covers_every_foundation_route(app):
    listed = {(method, path) for method, path, _, _ in MATRIX}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in FOUNDATION_BLUEPRINTS:
            continue
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi":
            continue  # each domain's API routes have their own tests
        path = rule.rule.replace("<int:user_id>", "{other}")
        missing += [(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}
                    if (m, path) not in listed]
    assert missing == []


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "allowed", "data"), MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_role_matrix(app, client_as, make_user, role, method, path, allowed, data):
    other = make_user(name="Other Person")
    client = app.test_client() if role == "visitor" else client_as(role)
    townhall_id = None
    if "{townhall}" in path:
        now = utcnow()
        townhall_id = townhalls.create_townhall(
            db.session, make_user(Role.OFFICIAL), title="Matrix hall", starts_at=now,
            ends_at=now + timedelta(hours=1)).id
        db.session.commit()
    seq = None
    if "{seq}" in path:
        seq = decisions.publish_decision(db.session, make_user(Role.OFFICIAL), decisions.Draft(
            title="Matrix record", summary="Decided.", outcome="adopted", department="Matrix",
            commitments=[(utcnow().date() + timedelta(days=30), "Answer in writing")])).seq
        db.session.commit()
    url = path.format(other=other.id, townhall=townhall_id, seq=seq)
    if method == "GET":
        response = client.get(url)
    else:
        token = csrf_token(client, "/register" if role == "visitor" else "/account")
        # Forms carry the token in a field, the API in a header.
        response = client.post(url, data={**(data or {}), "csrf_token": token},
                               headers={"X-CSRFToken": token})
    status = response.status_code
    # login_required sends visitors to the sign-in page with the page they wanted as next.
    sent_to_sign_in = status == 302 and "/login?next=" in response.headers.get("Location", "")
    if role in allowed:
        assert status not in (401, 403) and not sent_to_sign_in, (role, url, status)
        assert status < 500
    elif role == "visitor":
        assert sent_to_sign_in or status == 401, (role, url, status)
    else:
        assert status == 403, (role, url, status)
