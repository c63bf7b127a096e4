"""A join storm: joiners of a town hall share one public snapshot part while nothing happens,
and what is for one actor (their own questions, upvotes, receipts, the moderators' queue) is
never handed to another."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from participation.db import utcnow
from participation.extensions import db
from participation.polls import services as polls
from participation.realtime.outbox import take_events
from participation.security.permissions import Role
from participation.townhall import services

NAMESPACE = "/townhall"


@pytest.fixture
def statements(app: Any) -> Iterator[list[str]]:
    """Every SQL statement the application sends from here on, in order."""
    sent: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    yield sent
    event.remove(db.engine, "before_cursor_execute", note)


@pytest.fixture
def watcher(client_as: Callable[..., Any], socket_client: Callable[..., Any],
            app: Any) -> Callable[..., Any]:
    """A connected Socket.IO client (a visitor with role None) that has not joined yet."""

    def factory(role: Role | None = None, *, user: Any = None) -> Any:
        http = client_as(role, user=user) if (role or user) else app.test_client()
        return socket_client(http)

    return factory


def join(sio: Any, townhall: Any, sent: list[str] | None = None, **payload: Any) -> dict:
    """Join and return the ack; with `sent`, only the join's own statements are left in it."""
    if sent is not None:
        sent.clear()
    ack = sio.emit("join", {"townhall_id": townhall.id, **payload}, namespace=NAMESPACE,
                   callback=True)
    assert ack["ok"] is True, ack
    return ack


def reading(sent: list[str], table: str) -> list[str]:
    return [s for s in sent if f"FROM {table}" in s or f"JOIN {table}" in s]


def test_anonymous_joiners_with_nothing_new_share_one_built_part(
        townhall, make_question, watcher, statements):
    make_question(townhall, "What will the new bus timetable look like?", status="approved")
    first, second = watcher(), watcher()
    builds = services._shared_views.builds
    first_ack = join(first, townhall, statements)
    first_statements = list(statements)
    second_ack = join(second, townhall, statements)
    assert services._shared_views.builds == builds + 1
    assert reading(first_statements, "townhall_questions")
    assert reading(first_statements, "polls")
    assert len(statements) < len(first_statements)
    # The second joiner reads the town hall and its sequence number, and nothing that was built.
    for table in ("townhall_questions", "townhall_upvotes", "polls", "poll_ballots", "users"):
        assert not reading(statements, table), table
    assert second_ack["snapshot"] == first_ack["snapshot"]
    assert second_ack["seq"] == first_ack["seq"]


def test_a_signed_in_joiner_gets_the_shared_part_and_only_their_own_queries(
        townhall, make_question, watcher, statements):
    make_question(townhall, "What will the new bus timetable look like?", status="approved")
    join(watcher(), townhall)
    resident = watcher(Role.RESIDENT)
    ack = join(resident, townhall, statements)
    assert [q["text"] for q in ack["snapshot"]["questions"]] == [
        "What will the new bus timetable look like?"]
    # Their own questions and upvotes; the public questions come from the shared copy.
    own = reading(statements, "townhall_questions")
    assert len(own) == 2 and all("author_id" in s or "user_id" in s for s in own)


def test_after_an_approval_the_next_joiner_sees_the_question(
        townhall, make_question, moderator, watcher):
    question = make_question(townhall, "Can the library open on Sundays again?")
    before = join(watcher(), townhall)
    assert before["snapshot"]["questions"] == []
    services.approve_question(db.session, moderator, question)
    db.session.commit()
    take_events(db.session)
    after = join(watcher(), townhall)
    assert after["seq"] > before["seq"]
    assert [q["id"] for q in after["snapshot"]["questions"]] == [question.id]


def test_the_moderators_queue_stays_with_moderators(townhall, make_question, watcher):
    pending = make_question(townhall, "Who decided to close the east bridge?")
    moderator = join(watcher(Role.MODERATOR), townhall, moderator=True)
    assert [q["id"] for q in moderator["snapshot"]["queue"]] == [pending.id]
    for role in (None, Role.RESIDENT):
        ack = join(watcher(role), townhall)
        assert ack["seq"] == moderator["seq"]
        assert "queue" not in ack["snapshot"]
        assert "east bridge" not in json.dumps(ack)


def test_an_authors_pending_question_is_theirs_alone(townhall, make_question, make_user,
                                                     watcher):
    author = make_user(Role.RESIDENT)
    pending = make_question(townhall, "Why is my street never gritted in winter?",
                            author=author)
    own = join(watcher(user=author), townhall)
    assert [q["id"] for q in own["snapshot"]["mine"]] == [pending.id]
    for role in (None, Role.RESIDENT):
        ack = join(watcher(role), townhall)
        assert ack["seq"] == own["seq"]
        assert ack["snapshot"]["mine"] == []
        assert "gritted" not in json.dumps(ack)
    # The author's copy was not changed by the others' joins.
    again = join(watcher(user=author), townhall)
    assert [q["id"] for q in again["snapshot"]["mine"]] == [pending.id]


def test_a_rejected_question_is_gone_for_the_next_joiner(townhall, make_question, moderator,
                                                         watcher):
    question = make_question(townhall, "Where does the market square money go, Ana Smith?",
                             status="approved")
    assert "Ana Smith" in json.dumps(join(watcher(), townhall))
    services.reject_question(db.session, moderator, question, reason="personal_information")
    db.session.commit()
    take_events(db.session)
    ack = join(watcher(), townhall)
    assert ack["snapshot"]["questions"] == []
    assert "Ana Smith" not in json.dumps(ack)


def test_who_may_watch_is_decided_at_each_join(make_townhall, watcher):
    private = make_townhall(is_public=False)
    join(watcher(Role.RESIDENT), private)
    refused = watcher().emit("join", {"townhall_id": private.id}, namespace=NAMESPACE,
                             callback=True)
    assert refused["ok"] is False and refused["error"] == "unauthorized"
    assert "snapshot" not in refused


def test_each_town_hall_has_its_own_shared_part(make_townhall, make_question, watcher):
    first, second = make_townhall(), make_townhall()
    make_question(first, "Is the swimming pool reopening this summer?", status="approved")
    assert len(join(watcher(), first)["snapshot"]["questions"]) == 1
    assert join(watcher(), second)["snapshot"]["questions"] == []


def test_a_receipt_is_added_for_its_voter_only(townhall, official, make_user, watcher):
    poll = polls.create_poll(db.session, official, question="Where should the bench go?",
                             options=["By the pond", "By the gate"], kind="single",
                             results_mode="live", opens_at=utcnow() - timedelta(minutes=1),
                             townhall_id=townhall.id)
    db.session.commit()
    take_events(db.session)
    voter = make_user(Role.RESIDENT)
    cast = polls.cast_ballot(db.session, voter, poll.id, [poll.options[0].id])
    db.session.commit()
    take_events(db.session)
    first = join(watcher(), townhall)
    mine = join(watcher(user=voter), townhall)
    after = join(watcher(Role.RESIDENT), townhall)
    assert first["seq"] == mine["seq"] == after["seq"]
    receipts = [[p["receipt"] for p in ack["snapshot"]["polls"]] for ack in (first, mine, after)]
    assert receipts == [[None], [polls.format_receipt(cast.ballot.receipt)], [None]]


def test_a_quiet_town_halls_part_is_built_again_once_old(townhall, watcher, monkeypatch,
                                                         statements):
    """What changes without an event (an author's new name) reaches joiners within the age."""
    join(watcher(), townhall)
    monkeypatch.setattr(services._shared_views, "max_age", -1.0)
    join(watcher(), townhall, statements)
    assert reading(statements, "townhall_questions")
