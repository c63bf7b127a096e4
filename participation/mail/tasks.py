"""The queued work of outgoing mail: deliver one message, and sweep up any the queue lost."""

from __future__ import annotations

import logging

from participation import jobs
from participation.mail import services
from participation.mail.transport import PermanentFailure, TemporaryFailure, send

log = logging.getLogger(__name__)


@jobs.task()
def deliver_mail(mail_id: int) -> None:
    """Send one stored message, once; on a temporary failure schedule the next attempt."""
    from flask import current_app

    from participation.extensions import db

    config = current_app.config
    session = db.session
    mail = services.claim_mail(session, mail_id, lease=float(config.get("MAIL_SEND_LEASE", 120)))
    if mail is None:
        return  # sent, failed, cancelled, not yet due, or another consumer is sending it
    message = services.build_message(mail, sender=str(config["MAIL_FROM"]))
    try:
        send(message, mail_url=config.get("MAIL_URL"), instance_path=current_app.instance_path,
             production=config.get("ENV_NAME") == "production",
             timeout=float(config.get("MAIL_SMTP_TIMEOUT", 30)), text=mail.text_body)
    except (TemporaryFailure, PermanentFailure) as exc:
        retry_at = services.record_failure(
            session, mail, str(exc), permanent=isinstance(exc, PermanentFailure),
            first_delay=float(config["MAIL_RETRY_DELAY"]),
            largest_delay=float(config["MAIL_RETRY_MAX_DELAY"]),
            give_up_after=float(config["MAIL_RETRY_FOR"]))
        session.commit()
        if retry_at is None:
            log.error("mail %s failed for good after %s attempts: %s", mail_id, mail.attempts,
                      mail.last_error)
        else:
            log.warning("mail %s not sent (%s); next attempt at %s", mail_id, mail.last_error,
                        retry_at.isoformat(timespec="seconds"))
            deliver_mail.schedule((mail_id,), eta=retry_at)
        return
    services.record_sent(session, mail.id)
    session.commit()


@jobs.periodic_task(jobs.crontab(minute="*"))
def sweep_mail() -> int:
    """Enqueue every unsent message whose time has come, in case the queue lost its task (a
    Redis flushed, a consumer killed mid-send). A duplicate task does no harm: the claim in
    `deliver_mail` lets one through."""
    from participation.extensions import db

    ids = services.due_mail_ids(db.session)
    db.session.rollback()
    for mail_id in ids:
        deliver_mail(mail_id)
    return len(ids)
