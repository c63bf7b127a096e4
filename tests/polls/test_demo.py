"""The demo has an open poll of each kind and a closed ranked-choice poll counted in rounds."""

from __future__ import annotations

from sqlalchemy import select

from participation.db import utcnow
from participation.demo import seed_demo
from participation.polls import services
from participation.polls.models import Poll
from participation.townhall.models import Status


def test_demo_polls(session):
    seed_demo(session)
    session.commit()
    polls = session.scalars(select(Poll).order_by(Poll.id)).all()
    now = utcnow()
    open_kinds = {poll.kind.value for poll in polls if poll.status(now) == "open"}
    assert open_kinds == {"single", "multiple", "ranked"}
    live = [poll for poll in polls if poll.townhall is not None
            and poll.townhall.status is Status.LIVE and poll.results_mode.value == "live"
            and poll.status(now) == "open"]
    assert live and services.poll_results(session, None, live[0])["ballots"] > 0
    closed = [poll for poll in polls if poll.status(now) == "closed"]
    assert [poll.kind.value for poll in closed] == ["ranked"]
    results = services.poll_results(session, None, closed[0])
    assert len(results["rounds"]) >= 3 and results["winner"] is not None
    assert services.recount_export(services.export_poll(session, None, closed[0])).matches


def test_the_demo_live_town_hall_shows_its_open_poll(app, client):
    from participation.extensions import db
    from participation.townhall.models import TownHall

    seed_demo(db.session)
    db.session.commit()
    live = db.session.scalar(select(TownHall).where(TownHall.status == Status.LIVE))
    poll = db.session.scalar(select(Poll).where(Poll.townhall_id == live.id))
    assert poll.status(utcnow()) == "open"
    page = client.get(f"/townhalls/{live.id}").get_data(as_text=True)
    assert f'id="poll-{poll.id}"' in page and poll.question in page
    assert page.index(f'id="poll-{poll.id}"') < page.index('id="questions-heading"')
    projector = client.get(f"/townhalls/{live.id}/projector").get_data(as_text=True)
    assert f'id="projector-poll-{poll.id}"' in projector and poll.question in projector
    assert "ballots cast" in projector
    (shown,) = services.snapshot_polls(db.session, None, live)
    assert shown["id"] == poll.id and shown["results"]["ballots"] > 0
