"""The demo adds a forum topic with a lively discussion."""

from __future__ import annotations

from sqlalchemy import func, select

from participation.demo import seed_demo
from participation.forums.models import Flag, Post, PostRevision, Thread, Topic


def test_demo_has_a_lively_forum(session, client):
    seed_demo(session, password="demo password for tests")
    session.commit()
    count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
    assert count(Topic) >= 1 and count(Thread) >= 3
    assert count(Post) >= 10 and count(PostRevision) >= 1 and count(Flag) >= 1
    assert session.scalar(select(func.count()).select_from(Post)
                          .where(Post.quote_of_id.is_not(None))) >= 1
    topic = session.scalar(select(Topic).order_by(Topic.id))
    html = client.get(f"/topics/{topic.id}").get_data(as_text=True)
    assert "Riverside Park redesign" in html and "More shade near the playground" in html
    thread = session.scalar(select(Thread).where(Thread.title.like("Lit paths%")))
    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert ">edited</span>" in page
