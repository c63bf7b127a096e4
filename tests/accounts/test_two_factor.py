"""Two-factor sign-in: the second step after the password, set-up, recovery codes, replays,
drift, guessing, turning it off, the admin's reset, sockets and the data export."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from participation.accounts import services, two_factor
from participation.accounts.models import AuditEntry, RecoveryCode, TwoFactor
from participation.db import utcnow
from participation.extensions import db
from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role
from tests.conftest import PASSWORD, csrf_token, sign_in
from tests.two_factor import code_for, enroll


def password_step(client, email, password=PASSWORD, **extra):
    data = {"email": email, "password": password, "csrf_token": csrf_token(client, "/login"),
            **extra}
    return client.post("/login", data=data)


def send_code(client, code, path="/login/code"):
    return client.post(path, data={"code": code, "csrf_token": csrf_token(client, path)})


def is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def secret_of(user) -> str:
    db.session.expire_all()
    return two_factor.open_secret(db.session.get(TwoFactor, user.id).secret)


def code_at_offset(user, offset: int) -> str:
    return two_factor.code_at(secret_of(user), two_factor.current_step() + offset)


def test_an_admin_cannot_sign_in_without_the_second_factor(app, make_user):
    admin = make_user(Role.ADMIN)
    client = app.test_client()
    answer = password_step(client, admin.email)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/code")
    # Half signed in: every page sees a visitor.
    assert not is_signed_in(client)
    assert client.get("/admin/users").status_code in (302, 401)
    assert send_code(client, "000000" if code_at_offset(admin, 0) != "000000"
                     else "111111").status_code == 400
    assert not is_signed_in(client)
    assert send_code(client, code_for(app, admin.email)).status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_the_second_step_keeps_the_next_page_and_keep_me_signed_in(app, make_user):
    official = make_user(Role.OFFICIAL)
    client = app.test_client()
    password_step(client, official.email, remember="y", next="/notifications")
    assert client.get_cookie("remember_token") is None
    answer = send_code(client, code_for(app, official.email))
    assert answer.headers["Location"] == "/notifications"
    assert client.get_cookie("remember_token") is not None


def test_the_half_signed_in_state_expires(make_app, make_user):
    app = make_app(TWO_FACTOR_PENDING_SECONDS=-1)
    with app.app_context():
        admin = make_user(Role.ADMIN)
        client = app.test_client()
        password_step(client, admin.email)
        assert client.get("/login/code").headers["Location"].endswith("/login")
        answer = client.post("/login/code", data={"code": code_for(app, admin.email),
                                                  "csrf_token": csrf_token(client, "/login")})
        assert answer.headers["Location"].endswith("/login")
        assert not is_signed_in(client)


def test_a_required_account_without_a_factor_sets_one_up_before_anything_else(app):
    admin = services.register_user(db.session, email="new-admin@example.test",
                                   display_name="New admin", password=PASSWORD, role=Role.ADMIN)
    db.session.commit()
    client = app.test_client()
    answer = password_step(client, admin.email, next="/admin/audit")
    assert answer.headers["Location"].endswith("/login/two-factor")
    assert not is_signed_in(client)
    assert client.get("/admin/users").status_code in (302, 401)
    assert client.get("/login/code").headers["Location"].endswith("/login/two-factor")
    page = client.get("/login/two-factor").get_data(as_text=True)
    # The QR code is inline SVG made by the server, and the key is there in text.
    assert "<svg" in page and "<img" not in page and "http://" not in page.split("<svg")[1][:200]
    key = re.search(r'<code class="secret-key">([A-Z2-7 ]+)</code>', page).group(1)
    secret = key.replace(" ", "")
    assert send_code(client, "12345x", "/login/two-factor").status_code == 400
    assert not is_signed_in(client)
    done = send_code(client, pyotp.TOTP(secret).now(), "/login/two-factor")
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<li><code>([a-z2-9-]+)</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'href="/admin/audit"' in done.get_data(as_text=True)
    assert client.get("/admin/users").status_code == 200
    # Stored encrypted, and the codes only as hashes.
    row = db.session.get(TwoFactor, admin.id)
    assert secret not in row.secret and two_factor.open_secret(row.secret) == secret
    hashes = set(db.session.scalars(select(RecoveryCode.code_hash)
                                    .where(RecoveryCode.user_id == admin.id)))
    assert len(hashes) == 10 and not hashes & set(codes)


def test_a_session_of_staff_without_a_factor_counts_as_signed_out(app, client_as, socket_client,
                                                                  make_user):
    """A resident made official while signed in is a visitor until the factor is set up."""
    client = client_as(Role.RESIDENT)
    assert is_signed_in(client)
    services.set_role(db.session, None, client.user, "official")
    db.session.commit()
    assert not is_signed_in(client)


def test_a_recovery_code_works_once(app, make_user):
    resident = make_user(Role.RESIDENT)
    secret = pyotp.random_base32(32)
    codes = services.enable_two_factor(db.session, resident, secret=secret,
                                       code=pyotp.TOTP(secret).now())
    db.session.commit()
    first = app.test_client()
    password_step(first, resident.email)
    answer = send_code(first, codes[3].upper().replace("-", " "))
    assert answer.status_code == 302 and is_signed_in(first)
    again = app.test_client()
    password_step(again, resident.email)
    assert send_code(again, codes[3]).status_code == 400
    assert not is_signed_in(again)
    assert services.recovery_codes_left(db.session, resident) == 9


def test_a_replayed_code_is_refused(app, make_user):
    official = make_user(Role.OFFICIAL)
    code = code_for(app, official.email)
    first = app.test_client()
    password_step(first, official.email)
    assert send_code(first, code).status_code == 302
    replay = app.test_client()
    password_step(replay, official.email)
    answer = send_code(replay, code)
    assert answer.status_code == 400 and "used already" in answer.get_data(as_text=True)
    assert not is_signed_in(replay)


@pytest.mark.parametrize(("offset", "accepted"), [(-1, True), (1, True), (-2, False),
                                                  (2, False), (10, False)])
def test_a_code_one_step_off_is_accepted_and_more_is_refused(app, make_user, offset, accepted):
    admin = make_user(Role.ADMIN)
    outcome = services.pass_second_step(db.session, admin, code_at_offset(admin, offset))
    assert outcome.passed is accepted


def test_an_older_code_is_refused_after_a_newer_one(app, make_user):
    admin = make_user(Role.ADMIN)
    assert services.pass_second_step(db.session, admin, code_at_offset(admin, 1)).passed
    assert not services.pass_second_step(db.session, admin, code_at_offset(admin, 0)).passed


def test_a_thousand_guesses_do_not_get_in(app, make_user):
    """The account's own counter stops guessing whatever the address limits: after ten misses
    the step is locked, the right code included."""
    admin = make_user(Role.ADMIN)
    secret = secret_of(admin)
    passed = []
    for guess in range(1000):
        code = pyotp.TOTP(secret).now() if guess == 500 else f"{guess:06d}"
        passed.append(services.pass_second_step(db.session, admin, code).passed)
    db.session.commit()
    assert not any(passed)
    assert db.session.get(TwoFactor, admin.id).locked_until > utcnow()


def test_guessing_through_the_form_locks_the_step_across_new_sign_ins(make_app, make_user):
    app = make_app(LIMIT_TWO_FACTOR="1000 per minute")  # the account's counter alone
    with app.app_context():
        admin = make_user(Role.ADMIN)
        secret = secret_of(admin)
        attacker = app.test_client()
        password_step(attacker, admin.email)
        token = csrf_token(attacker, "/login/code")
        statuses = [attacker.post("/login/code", data={"code": f"{guess:06d}x",
                                                       "csrf_token": token}).status_code
                    for guess in range(services.TWO_FACTOR_MAX_MISSES)]
        assert statuses == [400] * (services.TWO_FACTOR_MAX_MISSES - 1) + [429]
        right = attacker.post("/login/code", data={"code": pyotp.TOTP(secret).now(),
                                                   "csrf_token": token})
        assert right.status_code == 429 and "locked" in right.get_data(as_text=True)
        fresh = app.test_client()
        password_step(fresh, admin.email)
        assert send_code(fresh, pyotp.TOTP(secret).now()).status_code == 429
        assert not is_signed_in(attacker) and not is_signed_in(fresh)


def test_the_lock_lifts_after_its_time(app, make_user):
    admin = make_user(Role.ADMIN)
    for _ in range(services.TWO_FACTOR_MAX_MISSES):
        services.pass_second_step(db.session, admin, "not a code")
    assert isinstance(services.pass_second_step(db.session, admin, code_at_offset(admin, 0))
                      .error, services.RateLimited)
    later = utcnow() + services.TWO_FACTOR_LOCK + timedelta(seconds=1)
    assert services.pass_second_step(db.session, admin, two_factor.code_at(
        secret_of(admin), two_factor.current_step(later.timestamp())), now=later).passed


def test_the_second_step_is_rate_limited_per_address_and_per_account(make_app, make_user):
    app = make_app(LIMIT_TWO_FACTOR="3 per minute")
    with app.app_context():
        admin, official = make_user(Role.ADMIN), make_user(Role.OFFICIAL)

        def guesses(email, address, count):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = address
            password_step(client, email)
            token = csrf_token(client, "/login/code")
            return [client.post("/login/code", data={"code": "x", "csrf_token": token})
                    .status_code for _ in range(count)]

        assert guesses(admin.email, "10.0.0.1", 4) == [400, 400, 400, 429]
        # Another account from the same address, and the same account from another address.
        assert guesses(official.email, "10.0.0.1", 1) == [429]
        assert guesses(admin.email, "10.0.0.2", 1) == [429]
        # The limiter answered before the account's own counter got near its lock.
        assert db.session.get(TwoFactor, admin.id).locked_until is None


def test_set_up_from_the_account_page_ends_the_other_sessions(app, client_as, make_user):
    resident = make_user(Role.RESIDENT)
    here, elsewhere = client_as(user=resident), client_as(user=resident)
    account = here.get("/account").get_data(as_text=True)
    assert "Two-factor sign-in" in account and "Off." in account
    page = here.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code class="secret-key">([A-Z2-7 ]+)</code>', page).group(1)
    answer = send_code(here, pyotp.TOTP(secret.replace(" ", "")).now(), "/account/two-factor")
    assert answer.status_code == 200 and "recovery codes" in answer.get_data(as_text=True)
    assert is_signed_in(here) and not is_signed_in(elsewhere)
    assert "On since" in here.get("/account").get_data(as_text=True)


def test_turning_it_off_needs_the_password_and_a_code(app, client_as, make_user):
    resident = make_user(Role.RESIDENT)
    secret = enroll(resident)
    db.session.commit()
    here, elsewhere = client_as(user=resident), client_as(user=resident)

    def turn_off(password, code):
        return here.post("/account/two-factor/off", data={
            "off-password": password, "off-code": code,
            "csrf_token": csrf_token(here, "/account")})

    assert turn_off("wrong " + PASSWORD, pyotp.TOTP(secret).now()).status_code == 400
    assert turn_off(PASSWORD, "000000" if pyotp.TOTP(secret).now() != "000000"
                    else "111111").status_code == 400
    assert db.session.get(TwoFactor, resident.id) is not None
    assert turn_off(PASSWORD, code_for(app, resident.email)).status_code == 302
    db.session.expire_all()
    assert db.session.get(TwoFactor, resident.id) is None
    assert is_signed_in(here) and not is_signed_in(elsewhere)


def test_a_required_role_cannot_turn_it_off(app, client_as):
    client = client_as(Role.OFFICIAL)
    answer = client.post("/account/two-factor/off", data={
        "off-password": PASSWORD, "off-code": code_for(app, client.user.email),
        "csrf_token": csrf_token(client, "/account")})
    assert answer.status_code == 403
    assert db.session.get(TwoFactor, client.user.id) is not None


def test_an_admin_resets_a_second_factor_with_an_audit_entry_and_ends_its_sessions(
        app, client_as, make_user):
    official = make_user(Role.OFFICIAL)
    officials_browser = client_as(user=official)
    admin = client_as(Role.ADMIN)
    page = admin.get(f"/admin/users/{official.id}").get_data(as_text=True)
    assert "Reset second factor" in page
    answer = admin.post(f"/admin/users/{official.id}/two-factor/reset",
                        data={"csrf_token": csrf_token(admin, f"/admin/users/{official.id}")})
    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.get(TwoFactor, official.id) is None
    assert not is_signed_in(officials_browser)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.subject_id == official.id))
    assert entry.action == "two_factor_reset" and entry.actor_id == admin.user.id
    # Next sign-in: the set-up step again.
    assert password_step(app.test_client(), official.email).headers["Location"].endswith(
        "/login/two-factor")


def test_only_admins_reset_second_factors(app, client_as, make_user):
    resident = make_user(Role.RESIDENT)
    enroll(resident)
    db.session.commit()
    official = client_as(Role.OFFICIAL)
    answer = official.post(f"/admin/users/{resident.id}/two-factor/reset",
                           data={"csrf_token": csrf_token(official, "/account")})
    assert answer.status_code == 403
    assert db.session.get(TwoFactor, resident.id) is not None


def test_a_half_signed_in_browser_is_a_visitor_to_sockets(app, make_user, socket_client):
    from participation.townhall import services as townhalls

    official = make_user(Role.OFFICIAL)
    now = utcnow()
    hall = townhalls.create_townhall(db.session, official, title="Hall", starts_at=now,
                                     ends_at=now + timedelta(hours=1))
    townhalls.set_status(db.session, official, hall, "live")
    db.session.commit()
    browser = app.test_client()
    password_step(browser, official.email)
    half = socket_client(browser)
    ack = half.emit("ask", {"townhall_id": hall.id, "text": "Half signed in?"},
                    namespace=NAMESPACE, callback=True)
    assert ack["error"] == "unauthorized"
    assert send_code(browser, code_for(app, official.email)).status_code == 302
    whole = socket_client(browser)
    ack = whole.emit("ask", {"townhall_id": hall.id, "text": "Signed in now?"},
                     namespace=NAMESPACE, callback=True)
    assert ack["ok"], ack


def test_the_data_export_says_whether_a_factor_is_on_and_never_the_secret(app, client_as,
                                                                          make_user):
    resident = make_user(Role.RESIDENT)
    secret = pyotp.random_base32(32)
    codes = services.enable_two_factor(db.session, resident, secret=secret,
                                       code=pyotp.TOTP(secret).now())
    db.session.commit()
    client = app.test_client()
    sign_in(client, resident.email)
    assert is_signed_in(client)
    body = client.get("/account/data.json").get_data(as_text=True)
    assert '"enabled": true' in body
    stored = db.session.get(TwoFactor, resident.id).secret
    assert secret not in body and stored not in body
    assert not any(code in body for code in codes)


def test_a_rotated_secret_key_still_opens_the_stored_secret(make_app, make_user):
    first = make_app(SECRET_KEY="first key " + "x" * 30)
    with first.app_context():
        sealed = two_factor.seal_secret("JBSWY3DPEHPK3PXP")
    second = make_app(SECRET_KEY="second key " + "y" * 30,
                      SECRET_KEY_FALLBACKS=["first key " + "x" * 30])
    with second.app_context():
        assert two_factor.open_secret(sealed) == "JBSWY3DPEHPK3PXP"
    third = make_app(SECRET_KEY="third key " + "z" * 30)
    with third.app_context(), pytest.raises(two_factor.SecretUnreadable):
        two_factor.open_secret(sealed)


def test_no_required_roles_means_staff_sign_in_with_the_password(make_app):
    app = make_app(TWO_FACTOR_REQUIRED_ROLES="")
    with app.app_context():
        admin = services.register_user(db.session, email="plain@example.test",
                                       display_name="Plain", password=PASSWORD, role=Role.ADMIN)
        db.session.commit()
        client = app.test_client()
        assert password_step(client, admin.email).headers["Location"] == "/"
        assert is_signed_in(client)


def test_the_required_roles_come_from_the_environment_and_typos_are_refused(tmp_path,
                                                                            monkeypatch):
    from participation.config import InsecureConfiguration, from_environment

    monkeypatch.delenv("TWO_FACTOR_REQUIRED_ROLES", raising=False)

    assert from_environment(str(tmp_path))["TWO_FACTOR_REQUIRED_ROLES"] == "admin,official"
    monkeypatch.setenv("TWO_FACTOR_REQUIRED_ROLES", "admin, moderator")
    assert two_factor.required_roles(
        from_environment(str(tmp_path))["TWO_FACTOR_REQUIRED_ROLES"]) == {"admin", "moderator"}
    monkeypatch.setenv("TWO_FACTOR_REQUIRED_ROLES", "admins")
    with pytest.raises(InsecureConfiguration, match="admins"):
        from_environment(str(tmp_path))
