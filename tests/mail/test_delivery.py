"""Delivery when the SMTP server refuses or is away: the mail waits, is retried with back-off for
a day, and is sent once; the sweep re-enqueues what the queue lost."""

from __future__ import annotations

from datetime import timedelta

import pytest

from participation.db import utcnow
from participation.extensions import db
from participation.mail import services
from participation.mail.models import OutgoingMail
from participation.mail.services import queue_mail
from participation.mail.tasks import deliver_mail, sweep_mail
from participation.mail.transport import parse_mail_url
from tests.mail.conftest import mail_row, wait_until
from tests.mail_server import SmtpServer

ADDRESS = "resident@example.test"


def _queue(key: str = "k1", to: str = ADDRESS) -> None:
    assert queue_mail(db.session, to=to, template="test", key=key, subject="Hello",
                      locale="en", name="Ana", site_url="https://town.example/")
    db.session.commit()


def test_while_the_server_refuses_the_mail_waits_and_then_arrives_once(consuming_app,
                                                                       smtp_server):
    smtp_server.refusing = True
    _queue()
    row = wait_until(lambda: (r := mail_row("k1")) and r.attempts >= 2 and r, what="2 attempts")
    assert row.sent_at is None and row.failed_at is None
    assert row.last_error == "recipient refused (451)"
    assert smtp_server.messages == []
    smtp_server.refusing = False
    smtp_server.wait_for(1)
    sent = wait_until(lambda: (r := mail_row("k1")) and r.sent_at and r, what="sent")
    assert sent.last_error is None
    assert smtp_server.envelopes == [[ADDRESS]]


def test_while_the_server_is_down_the_mail_waits_and_then_arrives_once(consuming_app,
                                                                       smtp_server):
    smtp_server.stop()
    _queue()
    row = wait_until(lambda: (r := mail_row("k1")) and r.attempts >= 2 and r, what="2 attempts")
    assert row.last_error == "server unavailable (ConnectionRefusedError)"
    smtp_server.start()
    smtp_server.wait_for(1)
    wait_until(lambda: (r := mail_row("k1")) and r.sent_at, what="sent")
    assert smtp_server.envelopes == [[ADDRESS]]


def test_a_refusal_for_good_fails_the_mail_at_once_with_a_reason_without_the_address(
        mail_app, smtp_server):
    smtp_server.refusing = True
    smtp_server.refusal = "550 5.1.1 <resident@example.test>: no such user"
    _queue()
    row = mail_row("k1")
    assert row.failed_at is not None and row.sent_at is None and row.attempts == 1
    assert row.last_error == "recipient refused (550)"
    smtp_server.refusing = False
    deliver_mail.call_local(row.id)
    assert smtp_server.messages == []


def test_after_a_day_of_trying_the_mail_is_marked_failed(mail_app, smtp_server):
    smtp_server.stop()
    _queue()
    row = mail_row("k1")
    assert row.attempts == 1 and row.failed_at is None
    assert row.next_attempt_at > utcnow()
    # A day later (as far as the row knows) the next attempt fails too: that was the last one.
    db.session.query(OutgoingMail).filter_by(id=row.id).update(
        {"created_at": utcnow() - timedelta(days=1), "next_attempt_at": utcnow()})
    db.session.commit()
    deliver_mail.call_local(row.id)
    failed = mail_row("k1")
    assert failed.failed_at is not None and failed.attempts == 2
    assert failed.last_error == "server unavailable (ConnectionRefusedError)"
    assert ADDRESS not in failed.last_error
    smtp_server.start()
    sweep_mail.call_local()
    deliver_mail.call_local(row.id)
    assert smtp_server.messages == []


def test_retries_wait_twice_as_long_each_time_up_to_the_largest_wait():
    waits = [services.retry_delay(n, first=30, largest=1800) for n in range(1, 9)]
    assert waits == [30, 60, 120, 240, 480, 960, 1800, 1800]


def test_the_sweep_sends_a_due_message_whose_task_was_lost_and_leaves_claimed_ones(
        mail_app, smtp_server):
    now = utcnow()
    for key, next_at in (("lost", now - timedelta(seconds=5)),
                         ("claimed", now + timedelta(seconds=60))):
        db.session.add(OutgoingMail(
            key=key, to_address=f"{key}@example.test", subject=key, text_body="t",
            html_body="<p>t</p>", headers={}, attachments=[], message_id=f"<{key}@x>",
            created_at=now, next_attempt_at=next_at))
    db.session.commit()
    assert sweep_mail.call_local() == 1
    smtp_server.wait_for(1)
    assert smtp_server.envelopes == [["lost@example.test"]]
    assert mail_row("lost").sent_at is not None and mail_row("claimed").sent_at is None
    assert sweep_mail.call_local() == 0


def test_a_starting_consumer_gives_every_unsent_message_a_task_again(mail_app, smtp_server):
    from participation import jobs
    from participation.mail.tasks import recover_mail

    now = utcnow()
    for key, next_at in (("due", now - timedelta(seconds=5)),
                         ("later", now + timedelta(seconds=600))):
        db.session.add(OutgoingMail(
            key=key, to_address=f"{key}@example.test", subject=key, text_body="t",
            html_body="<p>t</p>", headers={}, attachments=[], message_id=f"<{key}@x>",
            created_at=now, next_attempt_at=next_at))
    db.session.commit()
    later_id = mail_row("later").id
    assert recover_mail.call_local() == 2
    smtp_server.wait_for(1)
    assert smtp_server.envelopes == [["due@example.test"]]
    [scheduled] = jobs.queue.scheduled()
    assert scheduled.args == (later_id,)
    assert abs((scheduled.eta - (now + timedelta(seconds=600)).replace(tzinfo=None))
               .total_seconds()) < 1


def test_a_message_cancelled_before_delivery_is_not_sent(make_app, smtp_server, tmp_path):
    app = make_app(MAIL_URL=smtp_server.url, QUEUE_IMMEDIATE=False,
                   QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}")
    with app.app_context():
        _queue()
        assert services.cancel_mail_for(db.session, 0) == 0
        db.session.query(OutgoingMail).update({"recipient_id": 3})
        db.session.commit()
        assert services.cancel_mail_for(db.session, 3) == 1
        db.session.commit()
        sweep_mail.call_local()
        deliver_mail.call_local(mail_row("k1").id)
        assert smtp_server.messages == []


@pytest.fixture
def smtp_with_login(request):
    server = SmtpServer(__import__("tests.conftest", fromlist=["free_port"]).free_port(),
                        credentials=("mailer", "p@ss:word")).start()
    yield server
    server.stop()


def test_smtp_credentials_from_the_url_sign_in(make_app, smtp_with_login):
    url = "smtp://mailer:p%40ss%3Aword@127.0.0.1:" + str(smtp_with_login.port)
    app = make_app(MAIL_URL=url)
    with app.app_context():
        _queue()
    smtp_with_login.wait_for(1)
    assert smtp_with_login.authenticator.logins == ["mailer"]


def test_wrong_smtp_credentials_keep_the_mail_waiting(make_app, smtp_with_login):
    app = make_app(MAIL_URL="smtp://mailer:wrong@127.0.0.1:" + str(smtp_with_login.port))
    with app.app_context():
        _queue()
        row = mail_row("k1")
    assert row.sent_at is None and row.failed_at is None
    assert row.last_error.startswith("authentication refused") and "wrong" not in row.last_error


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://relay.internal:25", ("smtp", "relay.internal", 25, None, None)),
    ("smtp+starttls://u%40x:p%2Fw@mail.example.org", ("smtp+starttls", "mail.example.org", 587,
                                                     "u@x", "p/w")),
    ("smtps://u:p@mail.example.org:4650", ("smtps", "mail.example.org", 4650, "u", "p")),
])
def test_mail_urls_name_the_transport_host_port_and_credentials(url, expected):
    settings = parse_mail_url(url)
    assert (settings.scheme, settings.host, settings.port, settings.username,
            settings.password) == expected


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "mailto:a@b.example"])
def test_a_mail_url_the_app_cannot_use_is_refused_at_start(make_app, url):
    from participation.config import InsecureConfiguration, check_mail_and_queue

    with pytest.raises((InsecureConfiguration, ValueError)):
        check_mail_and_queue({"MAIL_URL": url, "MAIL_FROM": "a@b.example"})
        parse_mail_url(url)
