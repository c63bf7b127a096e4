"""The calendar: each town hall's `.ics` and the feed of upcoming public town halls, parsed
with the `icalendar` package."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from participation.db import utcnow
from participation.extensions import db
from participation.security.permissions import Role
from participation.townhall import services
from participation.townhall.models import Status

PUBLIC_URL = "https://participa.example.org"


@pytest.fixture(autouse=True)
def public_url(app):
    app.config["PUBLIC_URL"] = PUBLIC_URL


def parse(response):
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/calendar"
    assert response.mimetype_params["charset"] == "utf-8"
    return icalendar.Calendar.from_ical(response.data)


def only_event(calendar):
    [event] = calendar.walk("VEVENT")
    return event


def edit(townhall, **changes):
    values = {name: getattr(townhall, name) for name in services.EDITABLE_FIELDS}
    values.update(changes)
    return values


def test_a_town_halls_ics_carries_what_a_calendar_needs(client, make_townhall):
    start = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    townhall = make_townhall(Status.SCHEDULED, title="Riverside park", starts_at=start,
                             ends_at=start + timedelta(hours=2),
                             description="Three designs to choose from.",
                             livestream_url="https://player.vimeo.com/video/76979871")
    response = client.get(f"/townhalls/{townhall.id}.ics")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="townhall-{townhall.id}.ics"')
    calendar = parse(response)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    assert calendar["METHOD"] == "PUBLISH" and calendar["X-WR-TIMEZONE"] == "UTC"
    event = only_event(calendar)
    join = f"{PUBLIC_URL}/j/{townhall.join_code}"
    assert event["UID"] == f"townhall-{townhall.id}@participa.example.org"
    assert event["SUMMARY"] == "Riverside park"
    assert event.decoded("DTSTART") == start
    assert event.decoded("DTSTART").tzinfo is not None
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == start + timedelta(hours=2)
    assert isinstance(event.decoded("DTSTAMP"), datetime)
    assert event["URL"] == join
    assert event["LOCATION"] == "https://player.vimeo.com/video/76979871"
    assert event["STATUS"] == "CONFIRMED"
    assert event["SEQUENCE"] == 0
    assert "Three designs to choose from." in event["DESCRIPTION"]
    assert join in event["DESCRIPTION"]
    assert b"DTSTART:" in response.data and b"Z\r\n" in response.data  # UTC, with its Z


def test_without_a_livestream_the_location_is_the_join_link(client, make_townhall):
    townhall = make_townhall(Status.LIVE)
    event = only_event(parse(client.get(f"/townhalls/{townhall.id}.ics")))
    assert event["LOCATION"] == event["URL"] == f"{PUBLIC_URL}/j/{townhall.join_code}"


def test_an_edit_raises_the_sequence_and_keeps_the_uid(client, session, make_townhall,
                                                       official):
    townhall = make_townhall(Status.SCHEDULED)
    before = only_event(parse(client.get(f"/townhalls/{townhall.id}.ics")))
    moved = townhall.starts_at + timedelta(days=1)
    services.update_townhall(session, official, townhall, **edit(
        townhall, starts_at=moved, ends_at=moved + timedelta(hours=1)))
    session.commit()
    after = only_event(parse(client.get(f"/townhalls/{townhall.id}.ics")))
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after.decoded("DTSTART") == moved.replace(microsecond=0)
    # Saving without a change is no new version.
    services.update_townhall(session, official, townhall, **edit(townhall))
    session.commit()
    again = only_event(parse(client.get(f"/townhalls/{townhall.id}.ics")))
    assert again["SEQUENCE"] == after["SEQUENCE"]
    services.set_status(session, official, townhall, Status.LIVE)
    session.commit()
    live = only_event(parse(client.get(f"/townhalls/{townhall.id}.ics")))
    assert live["SEQUENCE"] > again["SEQUENCE"] and live["UID"] == before["UID"]


def test_a_called_off_town_hall_is_cancelled_in_calendars(client, session, make_townhall,
                                                          official):
    townhall = make_townhall(Status.SCHEDULED, starts_at=utcnow() + timedelta(days=2),
                             ends_at=utcnow() + timedelta(days=2, hours=1))
    sequence = only_event(parse(client.get(f"/townhalls/{townhall.id}.ics")))["SEQUENCE"]
    services.set_status(session, official, townhall, Status.ENDED)  # "Cancel (end now)"
    session.commit()
    event = only_event(parse(client.get(f"/townhalls/{townhall.id}.ics")))
    assert event["STATUS"] == "CANCELLED" and event["SEQUENCE"] > sequence
    [listed] = parse(client.get("/townhalls.ics")).walk("VEVENT")
    assert listed["STATUS"] == "CANCELLED"


def test_the_feed_lists_upcoming_public_town_halls_only(client, make_townhall):
    soon = utcnow() + timedelta(days=1)
    upcoming = make_townhall(Status.SCHEDULED, title="Upcoming", starts_at=soon,
                             ends_at=soon + timedelta(hours=1))
    live = make_townhall(Status.LIVE, title="Live now")
    make_townhall(Status.ENDED, title="Held already")
    make_townhall(Status.SCHEDULED, title="Members only", is_public=False, starts_at=soon,
                  ends_at=soon + timedelta(hours=1))
    response = client.get("/townhalls.ics")
    assert "Content-Disposition" not in response.headers  # subscribed to, not downloaded
    calendar = parse(response)
    assert calendar["X-WR-CALNAME"] == "Town halls"
    events = calendar.walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["Live now", "Upcoming"]
    assert [str(e["UID"]) for e in events] == [
        f"townhall-{live.id}@participa.example.org",
        f"townhall-{upcoming.id}@participa.example.org"]
    assert b"Members only" not in response.data
    index = client.get("/townhalls").get_data(as_text=True)
    assert 'href="/townhalls.ics"' in index


def test_a_private_town_halls_ics_is_for_those_who_may_see_it(client, client_as,
                                                              make_townhall):
    private = make_townhall(Status.SCHEDULED, title="Members only", is_public=False)
    refused = client.get(f"/townhalls/{private.id}.ics")
    assert refused.status_code in (302, 401)
    assert b"Members only" not in refused.data and b"VCALENDAR" not in refused.data
    resident = client_as(Role.RESIDENT)
    event = only_event(parse(resident.get(f"/townhalls/{private.id}.ics")))
    assert event["SUMMARY"] == "Members only"
    assert b"Members only" not in resident.get("/townhalls.ics").data
    assert client.get(f"/townhalls/{private.id + 99}.ics").status_code == 404


def test_the_town_hall_page_links_its_ics(client, make_townhall):
    upcoming = make_townhall(Status.SCHEDULED)
    html = client.get(f"/townhalls/{upcoming.id}").get_data(as_text=True)
    assert f'href="/townhalls/{upcoming.id}.ics"' in html
    ended = make_townhall(Status.ENDED)
    assert f'href="/townhalls/{ended.id}.ics"' not in client.get(
        f"/townhalls/{ended.id}").get_data(as_text=True)


def test_the_reminder_mail_and_the_download_are_the_same_event(session, make_townhall, app):
    townhall = make_townhall(Status.SCHEDULED)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    content = services.townhall_ics(session, None, townhall, now=now)
    event = only_event(icalendar.Calendar.from_ical(content))
    assert event.decoded("DTSTAMP") == now
    assert event["URL"] == services.join_url(townhall)
    db.session.rollback()
