"""The polls' scheduled work: announcing scheduled polls once they open (forum topics' followers,
every five minutes) and once they open or close (town halls' rooms, at that moment)."""

from __future__ import annotations

from participation import jobs
from participation.db import utcnow
from participation.polls import services
from participation.realtime.outbox import commit_and_emit


@jobs.periodic_task(jobs.crontab(minute="*/5"))
def announce_polls() -> int:
    """Tell topic followers of the polls that opened since the last run. Safe to run twice at
    once: the service claims each poll before telling of it."""
    from participation.extensions import db

    told = services.announce_opened_polls(db.session, now=utcnow())
    db.session.commit()
    return told


@jobs.task()
def announce_poll_time(poll_id: int) -> int:
    """At the moment a town hall poll opens or closes by its scheduled time (the job is scheduled
    for it when the poll is created), tell its room with a `poll` event. Does nothing when the
    room was already told: the poll was opened or closed by hand, or another run got there."""
    from participation.extensions import db

    told = services.announce_poll_times(db.session, now=utcnow(), poll_ids=[poll_id])
    commit_and_emit(db.session)
    return told


@jobs.periodic_task(jobs.crontab(minute="*"))
def sweep_poll_times() -> int:
    """Every minute, tell town halls' rooms of the polls that opened or closed by their time and
    were not yet told of: the safety net for a one-off job the queue lost. Safe to run twice at
    once: the service claims each poll before telling of it."""
    from participation.extensions import db

    told = services.announce_poll_times(db.session, now=utcnow())
    commit_and_emit(db.session)
    return told


@jobs.periodic_task(jobs.crontab(minute="*"))
def freeze_electorates() -> int:
    """Every minute, freeze the electorate of the polls for verified residents that closed by
    their time (a poll closed by hand has it frozen by the close). Safe to run twice: a frozen
    electorate is left alone."""
    from participation.extensions import db
    from participation.polls import turnout

    frozen = turnout.freeze_closed_electorates(db.session, utcnow())
    db.session.commit()
    return frozen
