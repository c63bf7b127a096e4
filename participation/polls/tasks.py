"""The polls' scheduled work: announcing scheduled polls once they open, every five minutes."""

from __future__ import annotations

from participation import jobs
from participation.db import utcnow
from participation.polls import services


@jobs.periodic_task(jobs.crontab(minute="*/5"))
def announce_polls() -> int:
    """Tell topic followers of the polls that opened since the last run. Safe to run twice at
    once: the service claims each poll before telling of it."""
    from participation.extensions import db

    told = services.announce_opened_polls(db.session, now=utcnow())
    db.session.commit()
    return told
