"""Town halls as iCalendar events (RFC 5545): the "remind me" mail's attachment, each town
hall's `.ics` download and the feed of upcoming public town halls (`/townhalls.ics`).

Times are written in UTC (`...Z`), which every calendar shows in its reader's own time zone; the
site stores and shows town-hall times in UTC too. Each town hall keeps one UID, and SEQUENCE is
its revision (bumped by every edit and status change), so a calendar that already holds it takes
the newer copy in place of the old one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from icalendar import Calendar, Event

from participation.townhall.models import TownHall

PRODUCT_ID = "-//Participation//Town halls//EN"
DESCRIPTION_MAX = 1000


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def townhall_event(townhall: TownHall, url: str, *, now: datetime, join_label: str) -> Event:
    """One VEVENT: `url` is the join link (the live page), also the location when there is no
    livestream to give."""
    host = urlsplit(url).hostname or "localhost"
    description = townhall.description.strip()
    if len(description) > DESCRIPTION_MAX:
        description = description[: DESCRIPTION_MAX - 1].rstrip() + "…"
    event = Event()
    event.add("uid", f"townhall-{townhall.id}@{host}")
    event.add("sequence", townhall.revision or 0)
    event.add("dtstamp", _utc(now))
    event.add("dtstart", _utc(townhall.starts_at))
    event.add("dtend", _utc(townhall.ends_at))
    event.add("summary", townhall.title)
    event.add("url", url)
    event.add("location", townhall.livestream_url or url)
    event.add("status", "CANCELLED" if townhall.called_off else "CONFIRMED")
    event.add("description", "\n\n".join(part for part in (description, join_label) if part))
    return event


def calendar_of(entries: Iterable[tuple[TownHall, str, str]], *, now: datetime,
                name: str | None = None) -> bytes:
    """A calendar of (town hall, join link, join label) entries."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-timezone", "UTC")
    if name:
        calendar.add("x-wr-calname", name)
    for townhall, url, join_label in entries:
        calendar.add_component(townhall_event(townhall, url, now=now, join_label=join_label))
    return calendar.to_ical()


def townhall_calendar(townhall: TownHall, url: str, *, now: datetime, join_label: str) -> bytes:
    """One town hall in a calendar of its own: the same UID for the same town hall, so a
    calendar that already has it updates it when a moved town hall is sent again."""
    return calendar_of([(townhall, url, join_label)], now=now)
