"""The decisions' scheduled work: reminding officials of their commitments, once a day."""

from __future__ import annotations

from participation import jobs
from participation.db import utcnow
from participation.decisions import services


@jobs.periodic_task(jobs.crontab(hour="6", minute="0"))
def remind_commitments() -> int:
    """At 06:00 UTC: "commitment_due" a week ahead, "commitment_overdue" once late. Safe to run
    twice: each reminder is claimed in the database before it is sent."""
    from participation.extensions import db

    sent = services.send_commitment_reminders(db.session, now=utcnow())
    db.session.commit()
    return sent
