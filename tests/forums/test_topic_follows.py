"""Following a topic: a button like the thread's, once per person, in the personal data."""

from __future__ import annotations

import pytest

from participation.accounts.services import export_personal_data
from participation.errors import Unauthorized
from participation.forums import services
from participation.forums.models import TopicFollow
from participation.security.permissions import Role
from tests.conftest import csrf_token


def test_follow_a_topic_once_and_stop(session, topic, resident, make_user):
    other = make_user()
    services.follow_topic(session, resident, topic)
    services.follow_topic(session, resident, topic)
    services.follow_topic(session, other, topic)
    assert session.query(TopicFollow).filter_by(user_id=resident.id).count() == 1
    assert services.is_following_topic(session, resident, topic)
    assert services.topic_followers(session, [topic.id]) == {topic.id: sorted([resident.id,
                                                                               other.id])}
    services.unfollow_topic(session, resident, topic)
    services.unfollow_topic(session, resident, topic)
    assert not services.is_following_topic(session, resident, topic)
    assert services.topic_followers(session, [topic.id]) == {topic.id: [other.id]}
    assert services.topic_followers(session, []) == {}
    assert not services.is_following_topic(session, None, topic)
    with pytest.raises(Unauthorized):
        services.follow_topic(session, None, topic)


def test_topic_follows_are_in_the_personal_data_export(session, topic, resident):
    services.follow_topic(session, resident, topic)
    [entry] = export_personal_data(session, resident)["forum_topic_follows"]
    assert entry["topic_id"] == topic.id


def test_the_topic_page_button_follows_and_stops(client_as, app, topic):
    resident = client_as(Role.RESIDENT)
    page = resident.get(f"/topics/{topic.id}").get_data(as_text=True)
    assert "Follow this topic" in page
    token = csrf_token(resident, f"/topics/{topic.id}")
    response = resident.post(f"/topics/{topic.id}/follow",
                             data={"csrf_token": token, "follow": "1"})
    assert response.status_code == 302
    page = resident.get(f"/topics/{topic.id}").get_data(as_text=True)
    assert "Following: stop" in page and 'aria-pressed="true"' in page
    resident.post(f"/topics/{topic.id}/follow", data={"csrf_token": token, "follow": "0"})
    assert "Follow this topic" in resident.get(f"/topics/{topic.id}").get_data(as_text=True)
    assert resident.post(f"/topics/{topic.id}/follow", data={"follow": "1"}).status_code == 400
    assert resident.post("/topics/999999/follow",
                         data={"csrf_token": token, "follow": "1"}).status_code == 404
    visitor = app.test_client()
    assert "Follow this topic" not in visitor.get(f"/topics/{topic.id}").get_data(as_text=True)
    response = visitor.post(f"/topics/{topic.id}/follow",
                            data={"csrf_token": csrf_token(visitor, f"/topics/{topic.id}"),
                                  "follow": "1"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
