"""Atom feeds, made in one place: every feed of the site (decision records, town halls, polls,
a forum topic's threads) is a list of entries handed to `atom_response`, so they all declare
themselves, link to themselves and escape their content the same way (with feedgen)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Response, current_app

FEED_SIZE = 50
ATOM_TYPE = "application/atom+xml"


@dataclass(frozen=True)
class FeedEntry:
    """One entry: `link` (absolute) is also its id; `content` is HTML the site sanitized when
    it was stored, or plain text when `content_type` is "text"."""

    link: str
    title: str
    updated: datetime
    published: datetime | None = None
    author: str | None = None
    content: str = ""
    content_type: str = "html"


def _aware(moment: datetime) -> datetime:
    """The database keeps UTC without a zone; Atom wants one."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def atom_response(*, title: str, subtitle: str, self_url: str, page_url: str,
                  entries: list[FeedEntry], language: str = "en") -> Response:
    """The feed as an HTTP response, newest entry first. `title` is prefixed with the site's
    name; the feed's `updated` is its newest entry's (or its oldest possible, when empty)."""
    from feedgen.feed import FeedGenerator

    site = current_app.config.get("SITE_NAME", "Participation")
    generator = FeedGenerator()
    generator.id(page_url)
    generator.title(f"{site}: {title}")
    generator.subtitle(subtitle)
    generator.link(href=self_url, rel="self")
    generator.link(href=page_url, rel="alternate")
    generator.language(language)
    ordered = sorted(entries, key=lambda entry: _aware(entry.updated), reverse=True)
    generator.updated(_aware(ordered[0].updated) if ordered
                      else datetime(1970, 1, 1, tzinfo=UTC))
    # feedgen puts each added entry first: add the oldest first so the newest leads.
    for item in reversed(ordered):
        entry = generator.add_entry()
        entry.id(item.link)
        entry.link(href=item.link)
        entry.title(item.title)
        entry.updated(_aware(item.updated))
        if item.published is not None:
            entry.published(_aware(item.published))
        if item.author:
            entry.author(name=item.author)
        if item.content:
            entry.content(item.content, type=item.content_type)
    return Response(generator.atom_str(pretty=True), mimetype=ATOM_TYPE)
