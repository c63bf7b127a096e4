"""Where residents already are: the Atom feeds (town halls, polls, a forum topic's threads,
decision records) read by a real feed reader, and the link previews (Open Graph, Twitter card)
of the pages people share, escaped, and silent about what the reader may not see."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import feedparser
import pytest

from participation.db import utcnow
from participation.decisions import services as decisions
from participation.extensions import db
from participation.forums import services as forums
from participation.moderation import services as moderation
from participation.polls import services as polls
from participation.security.permissions import Role
from participation.townhall import services as townhalls
from participation.townhall.models import Status

HOSTILE = 'Fish "&" <chips> \' & more'
FEEDS = ("/townhalls/feed.atom", "/polls/feed.atom", "/decisions/feed.atom")


def read_feed(client, path):
    """The feed as a feed reader takes it: served as Atom, parsed without a complaint."""
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert not feed.bozo, (path, feed.get("bozo_exception"))
    assert feed.version == "atom10"
    return feed


def meta(page: str, key: str) -> list[str]:
    """The (unescaped) content of every <meta property|name=key> on the page."""
    pattern = rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">'
    return [html.unescape(value) for value in re.findall(pattern, page)]


@pytest.fixture
def hall(official):
    def factory(title="Budget town hall", *, status="scheduled", is_public=True,
                description="Come and ask."):
        now = utcnow()
        townhall = townhalls.create_townhall(
            db.session, official, title=title, description=description, is_public=is_public,
            starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=1))
        if status != "scheduled":
            townhalls.set_status(db.session, official, townhall, Status.LIVE)
        if status == "ended":
            townhalls.set_status(db.session, official, townhall, Status.ENDED)
        db.session.commit()
        return townhall

    return factory


@pytest.fixture
def topic(official):
    made = forums.create_topic(db.session, official, title="Parks and playgrounds",
                               description="Where should the swings go?")
    db.session.commit()
    return made


def poll_in(official, topic, question, *, results_mode="after_close", opened=True):
    poll = polls.create_poll(db.session, official, question=question,
                             options=["Riverside", "Market square"], kind="single",
                             results_mode=results_mode, topic_id=topic.id,
                             opens_at=utcnow() - timedelta(minutes=5) if opened else None)
    db.session.commit()
    return poll


def close(poll):
    poll.closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_every_feed_reads_without_error_even_empty(client, topic):
    for path in (*FEEDS, f"/topics/{topic.id}/feed.atom"):
        feed = read_feed(client, path)
        assert feed.entries == []
        assert feed.feed.links[0].href.endswith(path)
