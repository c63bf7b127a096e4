"""Outgoing mail through a real SMTP server: what a message holds, and when it is sent."""

from __future__ import annotations

import logging
import re
from email.utils import parsedate_to_datetime

import pytest
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l

from participation.db import utcnow
from participation.extensions import db
from participation.mail import services
from participation.mail.models import OutgoingMail
from participation.mail.services import Attachment, absolute_url, cancel_mail_for, queue_mail
from participation.mail.tasks import deliver_mail
from tests.conftest import html_part, links_in, text_part

SENDER = "Town of Example <participation@town.example>"


def _queue(key: str = "k1", to: str = "resident@example.test", **kwargs) -> bool:
    kwargs.setdefault("subject", "A test")
    kwargs.setdefault("locale", "en")
    kwargs.setdefault("name", "Ana")
    kwargs.setdefault("site_url", "https://town.example/")
    return queue_mail(db.session, to=to, template="test", key=key, **kwargs)


@pytest.fixture
def mail_app(make_app, smtp_server):
    app = make_app(MAIL_URL=smtp_server.url, MAIL_FROM=SENDER)
    with app.app_context():
        yield app


def test_a_message_has_text_and_html_parts_its_own_id_a_date_and_the_configured_sender(
        mail_app, smtp_server):
    before = utcnow().replace(microsecond=0)
    assert _queue(preferences_url="https://town.example/account",
                  unsubscribe_url="https://town.example/unsubscribe/abc")
    db.session.commit()

    [message] = smtp_server.wait_for(1)
    assert message["From"] == SENDER
    assert message["To"] == "resident@example.test"
    assert smtp_server.envelopes == [["resident@example.test"]]
    assert message["Subject"] == "A test"
    assert re.fullmatch(r"<[^<>@\s]+@town\.example>", message["Message-ID"])
    assert before <= parsedate_to_datetime(message["Date"]) <= utcnow()
    text, html = text_part(message), html_part(message)
    assert "Hello Ana," in text and "<p>Hello Ana,</p>" in html
    assert links_in(message) == ["https://town.example/", "https://town.example/account",
                                 "https://town.example/unsubscribe/abc"]
    assert 'href="https://town.example/unsubscribe/abc"' in html
    row = db.session.query(OutgoingMail).one()
    assert row.sent_at is not None and row.attempts == 1 and row.last_error is None
    assert message["Message-ID"] == row.message_id


def test_the_footer_leaves_out_the_unsubscribe_link_when_there_is_none(mail_app, smtp_server):
    _queue(preferences_url="https://town.example/account")
    db.session.commit()
    [message] = smtp_server.wait_for(1)
    assert links_in(message) == ["https://town.example/", "https://town.example/account"]
    with force_locale("en"):
        assert gettext("Stop mail like this one") not in html_part(message)


@pytest.mark.parametrize("locale", ["en", "es"])
def test_a_message_is_written_in_the_recipients_language(mail_app, smtp_server, locale):
    _queue(locale=locale, subject=_l("Test message"),
           preferences_url="https://town.example/account")
    db.session.commit()
    [message] = smtp_server.wait_for(1)
    with force_locale(locale):
        subject = gettext("Test message")
        greeting = gettext("Hello %(name)s,", name="Ana")
        footer = gettext("Choose which mail you get")
    assert message["Subject"] == subject
    assert greeting in text_part(message) and greeting in html_part(message)
    assert footer in text_part(message) and footer in html_part(message)
    assert f'<html lang="{locale}">' in html_part(message)
    if locale == "es":
        assert subject != "Test message" and greeting != "Hello Ana,"


@pytest.mark.parametrize("evil", [
    "Hi\r\nBcc: victim@evil.example",
    "Hi\nFrom: Mayor <mayor@evil.example>",
    "Hi\r\n\r\nInjected body",
    "Hi\u2028Bcc: victim@evil.example",
    "Δ" * 3000 + "\r\nBcc: victim@evil.example",
])
def test_no_user_text_in_a_subject_or_name_adds_a_header_or_changes_the_sender(
        mail_app, smtp_server, evil):
    _queue(subject=f"Reply from {evil}", name=evil)
    db.session.commit()
    [message] = smtp_server.wait_for(1)
    raw = smtp_server.raw[0]
    assert message["From"] == SENDER
    assert message.get_all("From") == [SENDER]
    header_lines = raw.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert message["Bcc"] is None
    assert not [line for line in header_lines if line.lower().startswith((b"bcc:", b"from: m"))]
    assert [line for line in header_lines if line.startswith(b"From:")] == [
        b"From: " + SENDER.encode()]
    assert smtp_server.envelopes == [["resident@example.test"]]
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert len(message["Subject"]) <= services.MAX_SUBJECT
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


@pytest.mark.parametrize("address", ["a@b.example\r\nBcc: c@d.example", "Name <a@b.example>",
                                     "a@b.example, c@d.example", "no-at-sign", "",
                                     "x" * 400 + "@b.example"])
def test_a_recipient_must_be_one_plain_address(mail_app, smtp_server, address):
    with pytest.raises(ValueError):
        _queue(to=address)
    db.session.commit()
    assert db.session.query(OutgoingMail).count() == 0


def test_callers_cannot_set_identifying_headers(mail_app):
    for header in ("From", "To", "Bcc", "Message-ID", "Sender", "X-Evil\r\nBcc"):
        with pytest.raises(ValueError):
            _queue(headers={header: "x"})
    assert db.session.query(OutgoingMail).count() == 0


def test_allowed_headers_arrive_on_one_line(mail_app, smtp_server):
    _queue(headers={"List-Unsubscribe": "<https://town.example/u/1>\r\nBcc: v@evil.example",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    db.session.commit()
    [message] = smtp_server.wait_for(1)
    assert message["List-Unsubscribe"] == "<https://town.example/u/1> Bcc: v@evil.example"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Bcc"] is None


def test_attachments_arrive(mail_app, smtp_server):
    _queue(attachments=[Attachment("town-hall.ics", "text/calendar", b"BEGIN:VCALENDAR\r\n")])
    db.session.commit()
    [message] = smtp_server.wait_for(1)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "town-hall.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_payload(decode=True) == b"BEGIN:VCALENDAR\r\n"


def test_a_rollback_queues_and_sends_nothing(mail_app, smtp_server):
    assert _queue()
    db.session.rollback()
    db.session.commit()
    assert db.session.query(OutgoingMail).count() == 0
    # A later message is delivered at once (immediate mode): the rolled back one never was.
    _queue(key="k2", to="other@example.test")
    db.session.commit()
    smtp_server.wait_for(1)
    assert smtp_server.envelopes == [["other@example.test"]]


def test_a_reused_key_stores_and_sends_nothing_more(mail_app, smtp_server):
    assert _queue(key="reset:7")
    db.session.commit()
    assert _queue(key="reset:7", to="someone-else@example.test") is False
    db.session.commit()
    smtp_server.wait_for(1)
    assert db.session.query(OutgoingMail).count() == 1
    assert smtp_server.envelopes == [["resident@example.test"]]


def test_a_key_must_be_short_and_present(mail_app):
    for key in ("", "k" * 201):
        with pytest.raises(ValueError):
            _queue(key=key)


def test_a_message_already_sent_is_never_sent_again(mail_app, smtp_server):
    _queue()
    db.session.commit()
    smtp_server.wait_for(1)
    mail_id = db.session.query(OutgoingMail.id).scalar()
    db.session.rollback()
    deliver_mail(mail_id)
    deliver_mail(mail_id)
    assert len(smtp_server.messages) == 1
    assert db.session.get(OutgoingMail, mail_id).attempts == 1


def test_of_two_consumers_claiming_one_message_only_one_gets_it(make_app, smtp_server):
    app = make_app(MAIL_URL=smtp_server.url, QUEUE_IMMEDIATE=True)
    with app.app_context():
        mail = OutgoingMail(key="k", to_address="a@b.example", subject="s", text_body="t",
                            html_body="h", headers={}, attachments=[], message_id="<1@x>")
        db.session.add(mail)
        db.session.commit()
        mail_id = mail.id
        db.session.rollback()
        first = services.claim_mail(db.session, mail_id, lease=60)
        with app.app_context():  # another consumer, another session
            second = services.claim_mail(db.session, mail_id, lease=60)
        assert first is not None and second is None


def test_cancelling_an_accounts_mail_wipes_its_address_and_sends_nothing(make_app, smtp_server,
                                                                         tmp_path):
    app = make_app(MAIL_URL=smtp_server.url, QUEUE_IMMEDIATE=False,
                   QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}")
    with app.app_context():
        _queue(key="a", recipient_id=5)
        _queue(key="b", recipient_id=6, to="six@example.test")
        db.session.commit()
        assert cancel_mail_for(db.session, 5) == 1
        db.session.commit()
        rows = {row.key: row for row in db.session.query(OutgoingMail)}
        assert rows["a"].cancelled_at is not None and rows["a"].to_address == ""
        assert rows["a"].text_body == "" and rows["b"].cancelled_at is None
        ids = rows["a"].id, rows["b"].id
        db.session.rollback()
        for mail_id in ids:
            deliver_mail.call_local(mail_id)
        assert smtp_server.envelopes == [["six@example.test"]]


def test_without_mail_url_a_message_is_written_to_a_file_and_its_link_logged(
        make_app, tmp_path, caplog):
    app = make_app(MAIL_URL=None)
    with app.app_context(), caplog.at_level(logging.INFO, logger="participation.mail"):
        _queue(site_url="http://localhost:5000/reset/abc123")
        db.session.commit()
    [path] = list((tmp_path / "mail").glob("*.eml"))
    from email import message_from_bytes, policy

    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert links_in(message) == ["http://localhost:5000/reset/abc123"]
    assert path.stat().st_mode & 0o077 == 0
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("participation.mail")]
    assert any(str(path) in line and "http://localhost:5000/reset/abc123" in line
               for line in logged)
    assert not any("resident@example.test" in line for line in logged)


def test_in_production_the_file_transport_logs_no_link(make_app, tmp_path, caplog):
    app = make_app(MAIL_URL=None)
    app.config["ENV_NAME"] = "production"
    with app.app_context(), caplog.at_level(logging.INFO, logger="participation.mail"):
        _queue(site_url="http://localhost:5000/reset/abc123")
        db.session.commit()
    assert list((tmp_path / "mail").glob("*.eml"))
    assert not any("abc123" in r.getMessage() for r in caplog.records)


def test_absolute_urls_come_from_public_url_or_the_request(make_app):
    app = make_app(PUBLIC_URL="https://town.example/participate")
    with app.app_context():
        assert absolute_url("home.index") == "https://town.example/participate/"
    plain = make_app()
    with plain.app_context():
        assert absolute_url("home.index") == "http://localhost:5000/"
        with plain.test_request_context("/", base_url="http://site.test:8080"):
            assert absolute_url("home.index") == "http://site.test:8080/"
