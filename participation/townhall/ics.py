"""A town hall as an iCalendar event (RFC 5545), for the "remind me" mail's attachment."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from icalendar import Calendar, Event

from participation.townhall.models import TownHall

PRODUCT_ID = "-//Participation//Town hall reminders//EN"
DESCRIPTION_MAX = 1000


def townhall_calendar(townhall: TownHall, url: str, *, now: datetime, join_label: str) -> bytes:
    """One VEVENT in UTC: the same UID for the same town hall, so a calendar that already has it
    updates it when a moved town hall is sent again (DTSTAMP says which copy is newer)."""
    host = urlsplit(url).hostname or "localhost"
    description = townhall.description.strip()
    if len(description) > DESCRIPTION_MAX:
        description = description[: DESCRIPTION_MAX - 1].rstrip() + "…"
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"townhall-{townhall.id}@{host}")
    event.add("dtstamp", now.astimezone(UTC).replace(microsecond=0))
    event.add("dtstart", townhall.starts_at.astimezone(UTC).replace(microsecond=0))
    event.add("dtend", townhall.ends_at.astimezone(UTC).replace(microsecond=0))
    event.add("summary", townhall.title)
    event.add("url", url)
    event.add("description", "\n\n".join(part for part in (description, join_label) if part))
    calendar.add_component(event)
    return calendar.to_ical()
