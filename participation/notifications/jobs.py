"""The digests' schedule: the daily one every morning, the weekly one on Monday mornings (UTC).

Every running consumer schedules these; running one twice sends nothing twice (each digest's
mail is keyed by its person and period).
"""

from __future__ import annotations

from participation.db import utcnow
from participation.extensions import db
from participation.jobs import crontab, periodic_task
from participation.notifications.kinds import Cadence
from participation.notifications.services import send_digests

DIGEST_HOUR = "7"


@periodic_task(crontab(minute="0", hour=DIGEST_HOUR))
def send_daily_digests() -> int:
    sent = send_digests(db.session, Cadence.DAILY, utcnow())
    db.session.commit()
    return sent


@periodic_task(crontab(minute="0", hour=DIGEST_HOUR, day_of_week="1"))
def send_weekly_digests() -> int:
    sent = send_digests(db.session, Cadence.WEEKLY, utcnow())
    db.session.commit()
    return sent
