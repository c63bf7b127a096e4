"""The home page tells a newcomer what is happening now and how to take part."""

from __future__ import annotations

from datetime import timedelta

from participation.db import utcnow
from participation.extensions import db
from participation.realtime.outbox import take_events
from participation.security.permissions import Role
from participation.townhall import services as townhall_services
from participation.townhall.models import Status


def _townhall(official, title, *, status=Status.SCHEDULED, days=0, is_public=True):
    now = utcnow() + timedelta(days=days)
    townhall = townhall_services.create_townhall(
        db.session, official, title=title, starts_at=now, ends_at=now + timedelta(hours=1),
        is_public=is_public)
    if status is Status.LIVE:
        townhall_services.set_status(db.session, official, townhall, Status.LIVE)
    db.session.commit()
    take_events(db.session)
    return townhall


def test_home_shows_live_and_upcoming_town_halls_and_how_to_take_part(client, make_user):
    official = make_user(Role.OFFICIAL)
    live = _townhall(official, "Budget questions", status=Status.LIVE)
    _townhall(official, "Park redesign", days=3)
    page = client.get("/").get_data(as_text=True)
    live_section = page.split('id="live-now"')[1].split("</section>")[0]
    assert "Budget questions" in live_section
    assert f'/townhalls/{live.id}"' in live_section
    upcoming = page.split('id="upcoming"')[1].split("</section>")[0]
    assert "Park redesign" in upcoming and "Budget questions" not in upcoming
    assert "How to take part" in page
    assert "Create an account" in page


def test_home_says_when_nothing_is_live_and_hides_members_only_town_halls(client, make_user):
    official = make_user(Role.OFFICIAL)
    _townhall(official, "Members meeting", days=2, is_public=False)
    page = client.get("/").get_data(as_text=True)
    assert "Nothing is live right now." in page
    assert "No town halls are scheduled." in page
    assert "Members meeting" not in page


def test_home_leaves_out_sections_of_domains_the_app_does_not_serve(app, client):
    page = client.get("/").get_data(as_text=True)
    for endpoint, heading in (("polls.index", "Open polls"),
                              ("decisions.index", "Recent decisions")):
        assert (heading in page) == (endpoint in app.view_functions)
