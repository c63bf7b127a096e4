"""A small site with one of everything, and a walk over every GET route of the app.

The secrets are what an attacker is after: a private town hall, a poll held in it, a question
asked there and a thread hidden by a moderator. Each carries a marker that must never appear in
a page or a JSON answer for someone the permission rules do not let see it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.routing import Rule

from participation.accounts import services as accounts
from participation.accounts.models import User
from participation.db import utcnow
from participation.decisions import services as decisions
from participation.extensions import db
from participation.forums import services as forums
from participation.mail.models import OutgoingMail
from participation.moderation import services as moderation
from participation.notifications.models import Notification
from participation.notifications.services import unsubscribe_token
from participation.polls import services as polls
from participation.realtime.outbox import take_events
from participation.security.permissions import Role
from participation.townhall import services as townhalls
from participation.townhall.models import Status, TownHall
from tests.conftest import PASSWORD

PRIVATE_HALL = "Zq7 private hall"
PRIVATE_POLL = "Zq7 private poll"
PRIVATE_QUESTION = "Zq7 private question"
HIDDEN_THREAD = "Zq7 hidden thread"
LINK_TOKEN = re.compile(r"/(?:password/reset|account/confirm)/([^\s/]+)")
SECRETS = (PRIVATE_HALL, PRIVATE_POLL, PRIVATE_QUESTION, HIDDEN_THREAD)
# What a signed-in resident or official may not see of them: private town halls are for every
# account, hidden threads for moderators only.
HIDDEN_FROM_RESIDENTS = (HIDDEN_THREAD,)


@dataclass
class Site:
    """The ids to put into routes, by URL argument name, and the people who made things."""

    ids: dict[str, list[Any]] = field(default_factory=dict)
    people: dict[str, User] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)


def _townhall(official: User, title: str, *, is_public: bool, status: Status) -> TownHall:
    now = utcnow()
    townhall = townhalls.create_townhall(db.session, official, title=title, starts_at=now,
                                         ends_at=now + timedelta(hours=1), is_public=is_public)
    if status is not Status.SCHEDULED:
        townhalls.set_status(db.session, official, townhall, Status.LIVE)
    if status is Status.ENDED:
        townhalls.set_status(db.session, official, townhall, Status.ENDED)
    return townhall


@pytest.fixture
def site(app: Flask, make_user: Callable[..., User]) -> Site:
    """Public and private town halls, topics linked to each, threads, polls, a decision record
    resting on them, and the notifications that activity leaves."""
    official = make_user(Role.OFFICIAL)
    moderator = make_user(Role.MODERATOR)
    admin = make_user(Role.ADMIN)
    author = make_user(Role.RESIDENT)
    follower = make_user(Role.RESIDENT)
    session = db.session

    public_hall = _townhall(official, "Open budget hall", is_public=True, status=Status.LIVE)
    private_hall = _townhall(official, PRIVATE_HALL, is_public=False, status=Status.LIVE)
    ended_hall = _townhall(official, "Ended library hall", is_public=True, status=Status.ENDED)
    question = townhalls.ask_question(session, author, private_hall, text=PRIVATE_QUESTION)
    townhalls.approve_question(session, moderator, question)

    plain_topic = forums.create_topic(session, official, title="Riverside park")
    private_topic = forums.create_topic(session, official, title="Topic of a members' meeting",
                                        townhall_id=private_hall.id)
    public_topic = forums.create_topic(session, official, title="Topic of the budget hall",
                                       townhall_id=public_hall.id)
    linked_thread = forums.start_thread(session, author, private_topic,
                                        title="Parking near the hall", body="Where to park?")
    forums.follow_thread(session, follower, linked_thread)
    reply = forums.reply_to_thread(session, follower, linked_thread, body="By the station.")
    forums.reply_to_thread(session, author, linked_thread, body="Thanks.")
    hidden_thread = forums.start_thread(session, author, plain_topic, title=HIDDEN_THREAD,
                                        body="Something a moderator took down.")
    hidden_reply = forums.reply_to_thread(session, follower, hidden_thread, body="Me too.")
    moderation.hide_post(session, moderator, hidden_thread.opening_post,
                         reason="Personal information")
    forums.start_thread(session, author, public_topic, title="Budget questions", body="Ask!")

    private_poll = polls.create_poll(session, official, question=PRIVATE_POLL,
                                     options=["Yes", "No"], kind="single", results_mode="live",
                                     opens_at=utcnow() - timedelta(minutes=1),
                                     townhall_id=private_hall.id)
    topic_poll = polls.create_poll(session, official, question="Which bench colour?",
                                   options=["Green", "Blue"], kind="single",
                                   results_mode="live", opens_at=utcnow() - timedelta(minutes=1),
                                   topic_id=private_topic.id)
    polls.close_poll(session, official, topic_poll)
    session.commit()
    take_events(session)

    record = decisions.publish_decision(session, official, decisions.Draft(
        title="Parking decided", summary="We listened.", outcome="adopted",
        department="Transport",
        links=[("thread", linked_thread.id), ("poll", topic_poll.id),
               ("townhall", ended_hall.id)],
        commitments=[(utcnow().date() + timedelta(days=30), "Paint the lines")]))
    session.commit()
    # A reset and a change-of-address link, as their mails carry them, for the link pages.
    accounts.request_password_reset(session, email=follower.email)
    accounts.request_email_change(session, author, new_email="moved@example.test",
                                  password=PASSWORD)
    session.commit()
    tokens = [LINK_TOKEN.search(body).group(1) for body in session.scalars(
        select(OutgoingMail.text_body).order_by(OutgoingMail.id))]
    assert len(tokens) == 2
    notices = list(session.scalars(select(Notification.id)))
    assert notices, "the site should have left notifications"
    threads = [linked_thread.id, hidden_thread.id]
    return Site(
        ids={"townhall_id": [public_hall.id, private_hall.id, ended_hall.id],
             "topic_id": [plain_topic.id, private_topic.id, public_topic.id],
             "thread_id": threads,
             "post_id": [reply.id, hidden_thread.opening_post.id, hidden_reply.id],
             "poll_id": [private_poll.id, topic_poll.id],
             # Join codes: a public and a private town hall's, and one nobody has.
             "code": [public_hall.join_code, private_hall.join_code.lower(), "ZZZZZZ"],
             "seq": [record.seq],
             # The numbers page's charts: one that exists, one that does not.
             "name": ["participants", "salaries"],
             "number": [record.commitments[0].number],
             "user_id": [author.id],
             "notification_id": notices,
             # Unsubscribe links (one kind of one account, one account's daily digest) and the
             # mailed account links, real and forged.
             "token": [unsubscribe_token(follower.id, "reply"),
                       unsubscribe_token(author.id, "digest:daily"), *tokens, "forged-link"]},
        people={"official": official, "moderator": moderator, "admin": admin,
                "author": author, "follower": follower},
        objects={"private_hall": private_hall, "private_topic": private_topic,
                 "private_poll": private_poll, "topic_poll": topic_poll,
                 "hidden_thread": hidden_thread, "hidden_reply": hidden_reply,
                 "linked_thread": linked_thread,
                 "record": record, "question": question},
    )


def get_rules(app: Flask) -> Iterator[Rule]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" in (rule.methods or set()) and rule.endpoint != "static":
            yield rule


def urls_for(rule: Rule, ids: dict[str, list[Any]]) -> list[str]:
    """The rule's path with every combination of the site's ids put in."""
    names = sorted(rule.arguments)
    missing = [name for name in names if name not in ids]
    if missing:
        pytest.fail(f"the site has no objects for <{', '.join(missing)}> in {rule.rule}: "
                    "add some to tests/web/conftest.py")
    urls = []
    for values in itertools.product(*(ids[name] for name in names)):
        path = rule.rule
        for name, value in zip(names, values, strict=True):
            path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
        urls.append(path)
    return urls


def every_get_url(app: Flask, site: Site) -> list[tuple[str, str]]:
    """(endpoint, path) for every GET route: those without arguments once, the others once for
    each object of the site they can show."""
    return [(rule.endpoint, url) for rule in get_rules(app) for url in urls_for(rule, site.ids)]
