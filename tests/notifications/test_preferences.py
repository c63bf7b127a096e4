"""Choosing how each kind is mailed, from the account page, and the unsubscribe links' bad input."""

from __future__ import annotations

from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from participation.extensions import db
from participation.notifications import services
from participation.notifications.kinds import KINDS, Cadence
from participation.notifications.models import NotificationPreference
from participation.security.permissions import Role
from tests.conftest import csrf_token


def _path(url: str) -> str:
    return url.removeprefix("https://participation.example")


def _stored(user) -> dict[str, str]:
    return dict(db.session.execute(
        select(NotificationPreference.kind, NotificationPreference.cadence)
        .where(NotificationPreference.user_id == user.id)).all())


def test_every_kind_has_a_label_a_description_and_the_brief_s_default():
    assert set(KINDS) == {
        "reply", "moderation", "question_approved", "question_answered", "question_rejected",
        "question_merged", "townhall_starting", "poll_opened", "decision_published",
        "commitment_closed", "commitment_due", "commitment_overdue"}
    for name, kind in KINDS.items():
        assert str(kind.label) and str(kind.description) and kind.name == name
        assert kind.default is (Cadence.IMMEDIATE if name == "townhall_starting"
                                else Cadence.DAILY)


def test_the_account_page_summarises_and_links_the_preferences(app, client_as):
    client = client_as(Role.RESIDENT)
    html = client.get("/account").get_data(as_text=True)
    assert 'href="/account/notifications"' in html
    assert "In the daily digest" in html and "Town hall starting" in html

    page = client.get("/account/notifications")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for kind in KINDS.values():
        assert f'name="{kind.name}"' in html and str(kind.description) in html
    assert '<option selected value="immediate">' in html  # townhall_starting's default


def test_saving_preferences_changes_only_what_was_chosen(app, client_as):
    client = client_as(Role.RESIDENT)
    user = client.user
    token = csrf_token(client, "/account/notifications")
    response = client.post("/account/notifications", data={
        "csrf_token": token, "reply": "weekly", "poll_opened": "never",
        "townhall_starting": "immediate"})
    assert response.status_code == 302
    assert _stored(user) == {"reply": "weekly", "poll_opened": "never"}
    chosen = services.notification_preferences(db.session, user)
    assert chosen["reply"] is Cadence.WEEKLY and chosen["moderation"] is Cadence.DAILY
    html = client.get("/account").get_data(as_text=True)
    assert "In the weekly digest" in html and "Not by mail" in html


def test_bad_preferences_change_nothing(app, client_as):
    client = client_as(Role.RESIDENT)
    user = client.user
    token = csrf_token(client, "/account/notifications")
    response = client.post("/account/notifications", data={
        "csrf_token": token, "reply": "weekly", "moderation": "hourly"})
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert _stored(user) == {}
    # Without the CSRF token: refused (only the unsubscribe address is exempt).
    assert client.post("/account/notifications", data={"reply": "never"}).status_code == 400
    assert _stored(user) == {}
    # Signed out: to the sign-in page.
    assert app.test_client().get("/account/notifications").status_code == 302


def test_the_service_refuses_unknown_kinds_and_cadences(app, make_user):
    import pytest

    from participation.errors import InvalidInput

    user = make_user()
    for choices in ({"gossip": "daily"}, {"reply": "hourly"}, {"reply": "daily", "x": "never"}):
        with pytest.raises(InvalidInput):
            services.set_notification_preferences(db.session, user, choices)
        db.session.rollback()
    assert _stored(user) == {}


def test_the_unsubscribe_page_asks_first_and_a_get_changes_nothing(app, make_user):
    user = make_user()
    url = services.unsubscribe_url(user.id, "reply")
    assert url.startswith("https://participation.example/unsubscribe/")
    client = app.test_client()
    for _ in range(2):  # a scanner prefetching it, twice
        page = client.get(_path(url))
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
    html = page.get_data(as_text=True)
    assert f'action="{_path(url)}"' in html and "Replies" in html
    assert services.cadence_for(db.session, user.id, "reply") is Cadence.DAILY
    response = client.post(_path(url), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert services.cadence_for(db.session, user.id, "reply") is Cadence.NEVER
    assert "already off" in client.get(_path(url)).get_data(as_text=True)
    # Posting again is harmless.
    assert client.post(_path(url)).status_code == 200


def test_forged_altered_and_other_account_tokens_change_nothing(app, client_as, make_user):
    user = make_user()
    good = _path(services.unsubscribe_url(user.id, "reply"))
    token = good.rsplit("/", 1)[1]
    foreign = URLSafeSerializer("another site's secret key", salt=services.UNSUBSCRIBE_SALT)
    own_key = URLSafeSerializer(app.config["SECRET_KEY"], salt=services.UNSUBSCRIBE_SALT)
    other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="password-reset")
    bad = {
        "/unsubscribe/nonsense": 400,
        "/unsubscribe/" + token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"): 400,
        "/unsubscribe/" + foreign.dumps([user.id, "reply"]): 400,
        "/unsubscribe/" + other_salt.dumps([user.id, "reply"]): 400,
        "/unsubscribe/" + own_key.dumps([user.id, "gossip"]): 400,
        "/unsubscribe/" + own_key.dumps(["1", "reply"]): 400,
        "/unsubscribe/" + own_key.dumps({"u": user.id}): 400,
        "/unsubscribe/" + own_key.dumps([999_999, "reply"]): 404,
        "/unsubscribe/" + "x" * 3000: 400,
    }
    client = app.test_client()
    for path, status in bad.items():
        for method in (client.get, client.post):
            response = method(path)
            assert response.status_code == status, path
            html = response.get_data(as_text=True)
            assert "Nothing was changed." in html and "Unsubscribe</button>" not in html
    # Signed in as someone else: this link is not theirs to use.
    other = client_as(Role.RESIDENT)
    for method in (other.get, other.post):
        response = method(good)
        assert response.status_code == 403
        assert "another account" in response.get_data(as_text=True)
    assert services.cadence_for(db.session, user.id, "reply") is Cadence.DAILY
    assert services.cadence_for(db.session, other.user.id, "reply") is Cadence.DAILY
    assert db.session.scalar(select(func.count()).select_from(NotificationPreference)) == 0
    # Its owner, signed in, may use it.
    owner = client_as(user=user)
    assert owner.post(good).status_code == 200
    assert services.cadence_for(db.session, user.id, "reply") is Cadence.NEVER


def test_a_deleted_account_s_link_changes_nothing(app, make_user):
    from participation.accounts import services as accounts
    from tests.conftest import PASSWORD

    user = make_user()
    path = _path(services.unsubscribe_url(user.id, "reply"))
    accounts.delete_account(db.session, user, password=PASSWORD)
    db.session.commit()
    response = app.test_client().post(path)
    assert response.status_code == 404 and "no longer exists" in response.get_data(as_text=True)
    assert _stored(user) == {}


def test_the_notifications_page_still_lists_and_opens_notices(app, client_as):
    client = client_as(Role.RESIDENT)
    notice = services.notify(db.session, client.user.id, kind="reply",
                             message="Someone replied in “Oaks”.", link="/topics")
    db.session.commit()
    html = client.get("/notifications").get_data(as_text=True)
    assert "Someone replied in “Oaks”." in html
    response = client.get(f"/notifications/{notice.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/topics")
    db.session.refresh(notice)
    assert notice.read_at is not None and notice.digest_cadence is None
