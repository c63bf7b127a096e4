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


def test_the_town_hall_feed_lists_public_ones_upcoming_and_ended_never_a_private_one(
        client, hall):
    upcoming = hall("Bus lanes on Main Street")
    ended = hall("Library hours", status="ended")
    hall("Zq9 private budget", is_public=False)
    hall("Zq9 private and ended", is_public=False, status="ended")

    response = client.get("/townhalls/feed.atom")
    assert b"Zq9" not in response.data
    feed = read_feed(client, "/townhalls/feed.atom")
    titles = {entry.title for entry in feed.entries}
    assert len(feed.entries) == 2
    assert any(t.startswith("Upcoming: Bus lanes on Main Street") for t in titles)
    assert any(t.startswith("Ended: Library hours") for t in titles)
    links = {entry.link for entry in feed.entries}
    assert any(link.endswith(f"/townhalls/{upcoming.id}") for link in links)
    # An ended town hall's entry leads to what it left: its transcript.
    assert any(link.endswith(f"/townhalls/{ended.id}/transcript") for link in links)
    # The one that ended last changed last: it comes first.
    assert feed.entries[0].title.startswith("Ended: Library hours")


def test_a_hostile_title_survives_the_feed_as_text(client, hall):
    hall(HOSTILE, description="<script>alert(1)</script> Bring **questions**.")
    response = client.get("/townhalls/feed.atom")
    assert b"<script" not in response.data
    feed = read_feed(client, "/townhalls/feed.atom")
    assert HOSTILE in feed.entries[0].title


def test_the_poll_feed_tells_opened_and_closed_with_the_result_of_public_polls_only(
        client, official, topic, hall, make_user):
    still_open = poll_in(official, topic, "Which evening for the library?")
    counted = poll_in(official, topic, "Where should the swings go?")
    for choice in (1, 1, 0):
        voter = make_user(Role.RESIDENT)
        polls.cast_ballot(db.session, voter, counted.id, [counted.options[choice].id])
    db.session.commit()
    close(counted)
    withheld = poll_in(official, topic, "Rename the square?", results_mode="hidden")
    close(withheld)
    poll_in(official, topic, "Not open yet?", opened=False)
    private = hall("Zq9 private hall", is_public=False)
    secret = polls.create_poll(db.session, official, question="Zq9 private poll",
                               options=["Yes", "No"], kind="single", results_mode="live",
                               townhall_id=private.id, opens_at=utcnow() - timedelta(minutes=1))
    db.session.commit()
    assert secret.id

    assert b"Zq9" not in client.get("/polls/feed.atom").data
    feed = read_feed(client, "/polls/feed.atom")
    by_link = {entry.link.rsplit("/", 1)[1]: entry for entry in feed.entries}
    assert set(by_link) == {str(still_open.id), str(counted.id), str(withheld.id)}
    assert by_link[str(still_open.id)].title == f"Open: {still_open.question}"
    result = by_link[str(counted.id)]
    winner = counted.options[1].label
    assert result.title == f"Closed: {counted.question} (result: {winner})"
    assert "3 ballots cast" in result.content[0].value
    hidden = by_link[str(withheld.id)]
    assert hidden.title == f"Closed: {withheld.question}"
    assert "not public yet" in hidden.content[0].value
    assert not any(option.label in hidden.content[0].value for option in withheld.options)


def test_a_topic_feed_lists_its_visible_threads_newest_first(client, official, topic,
                                                             make_user, hall):
    other = forums.create_topic(db.session, official, title="Elsewhere")
    first = forums.start_thread(db.session, make_user(), topic, title="Old oaks",
                                body="Please *keep* them.")
    first.created_at = utcnow() - timedelta(hours=1)
    second = forums.start_thread(db.session, make_user(), topic, title=HOSTILE, body="Shade.")
    hidden = forums.start_thread(db.session, make_user(), topic, title="Zq9 hidden thread",
                                 body="Zq9 hidden body")
    forums.start_thread(db.session, make_user(), other, title="Not in this topic", body="x")
    db.session.flush()
    moderation.hide_post(db.session, make_user(Role.MODERATOR), hidden.opening_post,
                         reason="Off topic")
    db.session.commit()

    path = f"/topics/{topic.id}/feed.atom"
    assert b"Zq9" not in client.get(path).data
    feed = read_feed(client, path)
    assert [entry.title for entry in feed.entries] == [HOSTILE, "Old oaks"]
    assert feed.entries[0].link.endswith(f"/threads/{second.id}")
    assert "<em>keep</em>" in feed.entries[1].content[0].value
    assert feed.feed.title.endswith("threads in Parks and playgrounds")


def test_an_unknown_topic_has_no_feed_and_names_nothing(client, topic):
    for path in ("/topics/999999/feed.atom", "/topics/0/feed.atom", "/topics/x/feed.atom",
                 f"/topics/{topic.id}x/feed.atom"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"<feed" not in response.data
        assert topic.title.encode() not in response.data


def test_a_topic_of_a_private_town_hall_does_not_name_it_in_its_feed(client, official, hall):
    private = hall("Zq9 private hall", is_public=False)
    topic = forums.create_topic(db.session, official, title="Budget talk",
                                townhall_id=private.id)
    db.session.commit()
    response = client.get(f"/topics/{topic.id}/feed.atom")
    assert response.status_code == 200
    assert b"Zq9" not in response.data
    page = client.get(f"/topics/{topic.id}").get_data(as_text=True)
    assert "Zq9" not in page


def test_the_decisions_feed_reads_in_a_feed_reader(client, official):
    record = decisions.publish_decision(db.session, official, decisions.Draft(
        title=HOSTILE, summary="We heard you.", outcome="adopted", department="Parks"))
    db.session.commit()
    feed = read_feed(client, "/decisions/feed.atom")
    assert [entry.title for entry in feed.entries] == [f"#{record.seq} {HOSTILE} (Adopted)"]


def test_a_town_hall_page_carries_escaped_link_preview_tags(client, hall):
    long_text = "**Bring** questions <b>please</b> & ideas. " + "Word " * 100
    townhall = hall(HOSTILE, description=long_text)
    page = client.get(f"/townhalls/{townhall.id}").get_data(as_text=True)
    head = page.split("</head>")[0]
    assert meta(head, "og:title") == [HOSTILE]
    assert meta(head, "twitter:title") == [HOSTILE]
    assert meta(head, "twitter:card") == ["summary"]
    assert "<chips>" not in head  # escaped in the attribute, not a tag
    assert meta(head, "og:type") == ["website"]
    assert meta(head, "og:locale") == ["en_US"]
    url = meta(head, "og:url")[0]
    assert re.fullmatch(rf"https?://[^/]+/townhalls/{townhall.id}", url)
    assert f'<link rel="canonical" href="{url}">' in head
    description = meta(head, "og:description")[0]
    # Markdown becomes plain text; what was typed as a tag is text, shown as typed.
    assert description.startswith("Bring questions <b>please</b> & ideas. Word")
    assert "**" not in description and "<b>" not in head
    assert len(description) <= 201
    assert meta(head, "twitter:description") == [description]
    assert 'type="application/atom+xml"' in head and "/townhalls/feed.atom" in head


def test_the_preview_says_the_language_of_the_page(client, hall):
    townhall = hall()
    page = client.get(f"/townhalls/{townhall.id}",
                      headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert meta(page, "og:locale") == ["es_ES"]


def test_polls_threads_topics_transcripts_and_records_carry_previews_and_feed_links(
        client, official, topic, make_user, hall):
    poll = poll_in(official, topic, HOSTILE)
    thread = forums.start_thread(db.session, make_user(), topic, title=HOSTILE,
                                 body="Keep the *oaks*.")
    ended = hall(HOSTILE, status="ended")
    record = decisions.publish_decision(db.session, official, decisions.Draft(
        title=HOSTILE, summary="We *heard* you.", outcome="adopted", department="Parks"))
    db.session.commit()
    pages = {
        f"/polls/{poll.id}": (HOSTILE, "/polls/feed.atom"),
        f"/threads/{thread.id}": (HOSTILE, f"/topics/{topic.id}/feed.atom"),
        f"/topics/{topic.id}": (topic.title, f"/topics/{topic.id}/feed.atom"),
        f"/townhalls/{ended.id}/transcript": (f"Transcript: {HOSTILE}", "/townhalls/feed.atom"),
        f"/decisions/{record.seq}": (f"Record {record.seq}: {HOSTILE}", "/decisions/feed.atom"),
    }
    for path, (title, feed_path) in pages.items():
        head = client.get(path).get_data(as_text=True).split("</head>")[0]
        assert meta(head, "og:title") == [title], path
        assert meta(head, "og:url")[0].endswith(path), path
        assert meta(head, "twitter:card") == ["summary"], path
        assert "<chips>" not in head, path
        link = re.search(r'<link rel="alternate" type="application/atom\+xml" title="[^"]*" '
                         r'href="([^"]+)">', head)
        assert link and link.group(1) == feed_path, path
        read_feed(client, feed_path)
    thread_head = client.get(f"/threads/{thread.id}").get_data(as_text=True).split("</head>")[0]
    assert meta(thread_head, "og:description") == ["Keep the oaks."]


def test_what_a_reader_may_not_see_has_no_preview(app, client, official, topic, make_user,
                                                  hall, client_as):
    private = hall("Zq9 private hall", description="Zq9 secret agenda", is_public=False)
    hidden = forums.start_thread(db.session, make_user(), topic, title="Zq9 hidden thread",
                                 body="Zq9 hidden body")
    db.session.flush()
    moderation.hide_post(db.session, make_user(Role.MODERATOR), hidden.opening_post,
                         reason="Abusive")
    db.session.commit()
    for path in (f"/townhalls/{private.id}", f"/townhalls/{private.id}/transcript",
                 f"/threads/{hidden.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "Zq9" not in page, path
        assert "og:" not in page, path
    # A resident may not see the hidden thread either; a moderator gets its preview.
    assert "og:title" not in client_as(Role.RESIDENT).get(f"/threads/{hidden.id}").get_data(
        as_text=True)
    moderator_page = client_as(Role.MODERATOR).get(f"/threads/{hidden.id}").get_data(
        as_text=True)
    assert meta(moderator_page, "og:title") == ["Zq9 hidden thread"]
    # Signed in, a private town hall's page is for the reader, and previews itself.
    resident_page = client_as(Role.RESIDENT).get(f"/townhalls/{private.id}").get_data(
        as_text=True)
    assert meta(resident_page, "og:title") == ["Zq9 private hall"]


def test_the_home_page_links_every_feed(client, topic):
    page = client.get("/").get_data(as_text=True)
    head, body = page.split("</head>")
    alternates = re.findall(r'<link rel="alternate" type="application/atom\+xml" '
                            r'title="[^"]+" href="([^"]+)">', head)
    assert sorted(alternates) == sorted(FEEDS)
    for path in FEEDS:
        assert f'href="{path}" type="application/atom+xml"' in body
        read_feed(client, path)
    assert 'href="/topics"' in body
    topic_page = client.get(f"/topics/{topic.id}").get_data(as_text=True)
    assert f'href="/topics/{topic.id}/feed.atom" type="application/atom+xml"' in topic_page
