"""The town hall's scheduled work: "remind me" notices, every five minutes."""

from __future__ import annotations

from participation import jobs
from participation.db import utcnow
from participation.townhall import services


@jobs.periodic_task(jobs.crontab(minute="*/5"))
def remind_townhalls() -> int:
    """Send the reminders of town halls starting within the hour. Safe to run twice at once:
    the service claims each reminder before sending it."""
    from participation.extensions import db

    sent = services.send_townhall_reminders(db.session, now=utcnow())
    db.session.commit()
    return sent
