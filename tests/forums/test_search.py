"""Full-text search: FTS5 on SQLite, PostgreSQL's text search there; same behaviour on both."""

from __future__ import annotations

from participation.forums import services
from participation.moderation import services as moderation


def test_search_finds_a_post_by_a_word_in_its_body(session, make_thread, make_reply):
    thread = make_thread(title="Benches", body="More benches near the fountain")
    reply = make_reply(thread, body="The heron nests by the reeds every spring")
    make_reply(thread, body="Nothing to see here")
    posts, total = services.search_posts(session, "heron")
    assert total == 1 and [p.id for p in posts] == [reply.id]
    posts, _ = services.search_posts(session, "HERON reeds")
    assert [p.id for p in posts] == [reply.id]
    assert services.search_posts(session, "heron fountain") == ([], 0)


def test_search_matches_thread_titles_through_the_opening_post(session, make_thread):
    thread = make_thread(title="Floodlights on the pitch", body="Too bright at night")
    posts, total = services.search_posts(session, "floodlights")
    assert total == 1 and posts[0].id == thread.opening_post.id


def test_search_follows_edits(session, make_thread):
    thread = make_thread(body="tulips everywhere")
    services.edit_post(session, thread.author, thread.opening_post, body="daffodils everywhere",
                       title=thread.title)
    session.commit()
    assert services.search_posts(session, "tulips")[1] == 0
    assert services.search_posts(session, "daffodils")[1] == 1


def test_search_leaves_out_hidden_and_deleted_posts(session, make_thread, make_reply,
                                                    moderator):
    thread = make_thread(body="kayak launch")
    hidden = make_reply(thread, body="kayak rental scam")
    deleted = make_reply(thread, body="kayak storage")
    moderation.hide_post(session, moderator, hidden, reason="Spam")
    services.delete_post(session, deleted.author, deleted)
    session.commit()
    posts, total = services.search_posts(session, "kayak")
    assert total == 1 and posts[0].id == thread.opening_post.id
    moderation.hide_post(session, moderator, thread.opening_post, reason="Off topic")
    session.commit()
    assert services.search_posts(session, "kayak") == ([], 0)


def test_search_syntax_is_treated_as_words(session, make_thread):
    make_thread(body="bike lanes on Main Street")
    for query in ['"', "NEAR(", "bike*", "lanes OR", "-bike", "title:bike", "' OR 1=1 --", ""]:
        posts, total = services.search_posts(session, query)
        assert total == len(posts)
    assert services.search_posts(session, 'bike" OR "x')[1] == 0
    assert services.search_posts(session, "bike (lanes)")[1] == 1


def test_search_page_shows_results(client, make_thread):
    make_thread(title="Skate park", body="A bowl for skateboards, please")
    html = client.get("/search?q=skateboards").get_data(as_text=True)
    assert "1 result for" in html and "Skate park" in html
    html = client.get("/search?q=").get_data(as_text=True)
    assert "result" not in html
