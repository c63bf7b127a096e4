"""The /townhall Socket.IO namespace: every event, every refusal, through the test client."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from participation.accounts.models import new_session_token
from participation.accounts.services import end_all_sessions, set_role
from participation.extensions import db
from participation.realtime.models import Event
from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role
from participation.townhall import services
from participation.townhall.models import Question, QuestionStatus, Status
from tests.security.pathological import wide_table

NS = NAMESPACE


def received(sio, name=None):
    """Events the client received since the last call (also after the server closed it)."""
    messages = [m for m in sio.queue if m["namespace"] == NS]
    sio.queue = [m for m in sio.queue if m not in messages]
    return [(m["name"], m["args"][0]) for m in messages if name is None or m["name"] == name]


def emit(sio, event, payload):
    return sio.emit(event, payload, namespace=NS, callback=True)


def question_count():
    db.session.expire_all()
    return db.session.query(Question).count()


def test_visitors_join_a_public_town_hall_and_get_a_snapshot(townhall, make_question, joined):
    approved = make_question(townhall, "Approved one?", status="approved")
    make_question(townhall, "Still pending?")
    sio = joined(townhall, None)
    ack = sio.join_ack
    assert ack["ok"] is True
    assert ack["seq"] == services.sequence_number(db.session, townhall)
    assert [q["id"] for q in ack["snapshot"]["questions"]] == [approved.id]
    assert "queue" not in ack["snapshot"]
    assert ack["snapshot"]["townhall"]["status"] == "live"


def test_a_private_town_hall_refuses_sockets_without_a_session(make_townhall, joined):
    private = make_townhall(is_public=False)
    assert joined(private, None).join_ack["error"] == "unauthorized"
    assert joined(private, Role.RESIDENT).join_ack["ok"] is True


@pytest.mark.parametrize("payload", [
    {}, {"townhall_id": "1"}, {"townhall_id": True}, {"townhall_id": -4},
    {"townhall_id": 2**40}, {"townhall_id": 1, "since": -1}, {"townhall_id": 1, "since": "x"},
    {"townhall_id": 1, "moderator": "yes"}, "not an object", [1, 2],
    {"townhall_id": 1, "padding": "x" * (65 * 1024)},
])
def test_malformed_join_payloads_get_an_error_ack_and_the_socket_stays_up(
        townhall, socket_client, payload):
    sio = socket_client()
    ack = sio.emit("join", payload, namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"] == "invalid"
    assert ack["message"] and "Traceback" not in ack["message"]
    assert sio.is_connected(NS)
    assert emit(sio, "join", {"townhall_id": townhall.id})["ok"] is True


def test_unknown_town_hall_is_not_found(townhall, socket_client):
    ack = emit(socket_client(), "join", {"townhall_id": townhall.id + 100})
    assert ack["error"] == "not_found"


def test_a_resident_cannot_join_the_moderators_room(townhall, joined, make_user):
    sio = joined(townhall, Role.RESIDENT, moderator=True)
    assert sio.join_ack["error"] == "forbidden"
    asker = joined(townhall, Role.RESIDENT)
    assert emit(asker, "ask", {"townhall_id": townhall.id, "text": "Secret?"})["ok"]
    assert received(sio, "queue") == []


def test_an_asked_question_reaches_moderators_and_its_author_but_not_the_room(townhall,
                                                                              joined):
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    assert "queue" in moderator.join_ack["snapshot"]
    author = joined(townhall, Role.RESIDENT)
    authors_other_tab = joined(townhall, user=author.user)
    watcher = joined(townhall, Role.RESIDENT)
    ack = emit(author, "ask", {"townhall_id": townhall.id, "text": "Is the pool reopening?",
                               "anonymous": True})
    assert ack["ok"] is True
    assert ack["question"]["status"] == "pending"
    queue = received(moderator, "queue")
    assert queue[0][1]["question"]["asked_by"] == author.user.display_name
    assert queue[0][1]["seq"] == services.sequence_number(db.session, townhall) - 1
    mine = received(authors_other_tab, "question")
    assert mine[0][1]["question"]["status"] == "pending"
    assert received(watcher, "question") == []


def test_visitors_cannot_ask(townhall, joined):
    sio = joined(townhall, None)
    ack = emit(sio, "ask", {"townhall_id": townhall.id, "text": "Can I?"})
    assert ack["error"] == "unauthorized"
    assert question_count() == 0


@pytest.mark.parametrize("payload", [
    {"text": "Missing the town hall"}, {"townhall_id": 1}, {"townhall_id": 1, "text": 7},
    {"townhall_id": 1, "text": "x" * 301}, {"townhall_id": 1, "text": "ok", "anonymous": "no"},
    {"townhall_id": 1, "text": "ok", "client_id": "x" * 65},
    {"townhall_id": 1, "text": "ok", "client_id": 5},
])
def test_malformed_asks_store_nothing(townhall, joined, payload):
    assert townhall.id == 1
    sio = joined(townhall)
    ack = emit(sio, "ask", payload)
    assert ack["error"] == "invalid", ack
    assert question_count() == 0
    assert sio.is_connected(NS)


def test_asking_in_an_ended_town_hall_is_closed(make_townhall, joined):
    ended = make_townhall(Status.ENDED)
    ack = emit(joined(ended), "ask", {"townhall_id": ended.id, "text": "Too late?"})
    assert ack["error"] == "closed"


def test_a_retried_ask_is_applied_once(townhall, joined):
    sio = joined(townhall)
    payload = {"townhall_id": townhall.id, "text": "Once only?", "client_id": "c-1"}
    first, second = emit(sio, "ask", payload), emit(sio, "ask", payload)
    assert first["question"]["id"] == second["question"]["id"]
    assert question_count() == 1


def test_a_flood_of_asks_stores_at_most_the_limit(app, townhall, joined):
    app.config["LIMIT_ASK"] = "3 per minute"
    flooder = joined(townhall)
    answers = [emit(flooder, "ask", {"townhall_id": townhall.id, "text": f"Spam {n}?"})
               for n in range(12)]
    assert sum(a["ok"] for a in answers) == 3
    assert {a["error"] for a in answers if not a["ok"]} == {"rate_limited"}
    assert question_count() == 3
    other = joined(townhall)
    assert emit(other, "ask", {"townhall_id": townhall.id, "text": "Mine?"})["ok"] is True


def test_approval_reaches_everyone_in_the_room_with_the_next_sequence_number(
        townhall, make_question, joined):
    question = make_question(townhall)
    watchers = [joined(townhall, role) for role in (None, Role.RESIDENT, Role.OFFICIAL)]
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    ack = emit(moderator, "moderate", {"question_id": question.id, "action": "approve"})
    assert ack["ok"] is True and ack["question"]["status"] == "approved"
    seq = db.session.scalar(select(Event.seq).where(Event.audience == "public")
                            .order_by(Event.seq.desc()).limit(1))
    assert seq > watchers[0].join_ack["seq"]
    for sio in watchers:
        events = received(sio, "question")
        assert [(e["question"]["id"], e["question"]["status"], e["seq"]) for _, e in events] == [
            (question.id, "approved", seq)]


def test_rejected_question_is_never_broadcast(townhall, make_question, joined):
    question = make_question(townhall)
    author = joined(townhall, user=question.author)
    watcher = joined(townhall)
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    ack = emit(moderator, "moderate", {"question_id": question.id, "action": "reject",
                                       "reason": "offensive"})
    assert ack["ok"] is True
    assert received(watcher) == [] or all(name == "presence" for name, _ in received(watcher))
    told = received(author, "question")
    assert told[0][1]["question"]["reject_reason"] == "offensive"


@pytest.mark.parametrize(("payload", "error"), [
    ({"action": "approve"}, "invalid"),
    ({"question_id": 999, "action": "approve"}, "not_found"),
    ({"question_id": "{id}", "action": "delete"}, "invalid"),
    ({"question_id": "{id}", "action": 5}, "invalid"),
    ({"question_id": "{id}", "action": "reject"}, "invalid"),
    ({"question_id": "{id}", "action": "reject", "reason": "meh"}, "invalid"),
    ({"question_id": "{id}", "action": "merge"}, "invalid"),
    ({"question_id": "{id}", "action": "merge", "into_id": 999}, "not_found"),
    ({"question_id": "{id}", "action": "answer"}, "conflict"),
    ({"question_id": "{id}", "action": "highlight"}, "conflict"),
])
def test_bad_moderation_requests_change_nothing(townhall, make_question, joined, payload,
                                                error):
    question = make_question(townhall)
    if payload.get("question_id") == "{id}":
        payload = {**payload, "question_id": question.id}
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    ack = emit(moderator, "moderate", payload)
    assert ack["error"] == error, ack
    db.session.expire_all()
    assert db.session.get(Question, question.id).status is QuestionStatus.PENDING


def test_a_resident_sending_moderate_is_refused_and_logged(townhall, make_question, joined,
                                                          caplog):
    question = make_question(townhall)
    sio = joined(townhall)
    ack = emit(sio, "moderate", {"question_id": question.id, "action": "approve"})
    assert ack["error"] == "forbidden"
    db.session.expire_all()
    assert db.session.get(Question, question.id).status is QuestionStatus.PENDING
    assert any("refused socket event moderate" in r.getMessage() for r in caplog.records)


def test_a_moderator_demoted_while_connected_is_refused(townhall, make_question, joined,
                                                       make_user):
    question = make_question(townhall)
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    assert moderator.join_ack["ok"]
    set_role(db.session, make_user(Role.ADMIN), moderator.user, "resident")
    db.session.commit()
    # The socket that joined the queue as a moderator is told why, and closed.
    assert received(moderator, "session_ended") == [("session_ended", {"reason": "role_changed"})]
    assert not moderator.is_connected(NS)
    # The same account on a new socket is a resident now: it may not moderate.
    again = joined(townhall, user=moderator.user, moderator=True)
    assert again.join_ack["error"] == "forbidden"
    ack = emit(again, "moderate", {"question_id": question.id, "action": "approve"})
    assert ack["error"] == "forbidden"
    db.session.expire_all()
    assert db.session.get(Question, question.id).status is QuestionStatus.PENDING


def test_a_moderator_demoted_unannounced_leaves_the_queue_on_the_next_join(
        townhall, make_question, joined):
    """A worker that missed the role change (its queue was down) notices it on the rejoin."""
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    moderator.user.role = Role.RESIDENT  # as another worker would, with no broadcast here
    db.session.commit()
    assert moderator.is_connected(NS)
    rejoin = emit(moderator, "join", {"townhall_id": townhall.id, "moderator": True,
                                      "since": moderator.join_ack["seq"]})
    assert rejoin["error"] == "forbidden"
    received(moderator)
    make_question(townhall, "Who sees this one, and who asked it?", anonymous=True)
    assert received(moderator, "queue") == []


def test_a_socket_whose_account_signed_out_elsewhere_is_a_visitor(townhall, joined):
    sio = joined(townhall)
    end_all_sessions(db.session, sio.user)
    db.session.commit()
    assert received(sio, "session_ended") == [("session_ended", {"reason": "signed_out"})]
    assert not sio.is_connected(NS)


def test_a_socket_that_missed_the_sign_out_is_a_visitor_and_closed_on_its_next_join(
        townhall, joined):
    sio = joined(townhall)
    sio.user.session_token = new_session_token()  # signed out on a worker whose notice was lost
    db.session.commit()
    ack = emit(sio, "ask", {"townhall_id": townhall.id, "text": "Still me?"})
    assert ack["error"] == "unauthorized"
    emit(sio, "join", {"townhall_id": townhall.id, "since": 0})
    assert received(sio, "session_ended") == [("session_ended", {"reason": "signed_out"})]
    assert not sio.is_connected(NS)


@pytest.mark.parametrize("change", ["suspend", "delete", "password", "sign_out"])
def test_every_end_of_a_session_closes_the_accounts_sockets(townhall, joined, make_user,
                                                            change):
    from participation.accounts import services as accounts
    from tests.conftest import PASSWORD

    sio = joined(townhall)
    other_tab = joined(townhall, user=sio.user)
    bystander = joined(townhall)
    if change == "suspend":
        accounts.suspend_user(db.session, make_user(Role.ADMIN), sio.user, reason="Spam")
    elif change == "delete":
        accounts.delete_account(db.session, sio.user, password=PASSWORD)
    elif change == "password":
        accounts.change_password(db.session, sio.user, current=PASSWORD,
                                 new="another long passphrase 42")
    else:
        accounts.end_all_sessions(db.session, sio.user)
    db.session.commit()
    reason = {"suspend": "suspended", "delete": "deleted", "password": "password_changed",
              "sign_out": "signed_out"}[change]
    for socket in (sio, other_tab):
        assert received(socket, "session_ended") == [("session_ended", {"reason": reason})]
        assert not socket.is_connected(NS)
    assert bystander.is_connected(NS)
    assert received(bystander, "session_ended") == []


def test_a_change_that_rolls_back_closes_no_socket(townhall, joined, make_user):
    sio = joined(townhall, Role.MODERATOR, moderator=True)
    set_role(db.session, make_user(Role.ADMIN), sio.user, "resident")
    db.session.rollback()
    assert sio.is_connected(NS)
    assert received(sio, "session_ended") == []


def test_a_savepoint_released_before_a_rollback_closes_no_socket(townhall, joined, make_user):
    """SQLAlchemy announces a savepoint's release as a commit; the notice waits for the real one
    (here: a mail queued in a savepoint, then the whole change rolled back)."""
    sio = joined(townhall, Role.MODERATOR, moderator=True)
    set_role(db.session, make_user(Role.ADMIN), sio.user, "resident")
    with db.session.begin_nested():
        db.session.flush()
    assert sio.is_connected(NS) and received(sio, "session_ended") == []
    db.session.rollback()
    assert sio.is_connected(NS)
    assert received(sio, "session_ended") == []


def test_a_rejection_after_approval_leaves_no_trace_in_replays(townhall, make_question,
                                                               joined):
    """The question names a neighbour; once rejected for it, no replay hands it out again."""
    text = "My neighbour Ana Ruiz at 12 Elm Street, 555-0199, dumps rubbish"
    question = make_question(townhall, text, status="approved")
    author = question.author
    watcher = joined(townhall, None)
    console = joined(townhall, Role.MODERATOR, moderator=True)
    received(watcher)
    ack = emit(console, "moderate", {"question_id": question.id, "action": "reject",
                                     "reason": "personal_information"})
    assert ack["ok"], ack
    live = received(watcher, "question")
    assert live == [("question", {"question": {"id": question.id, "townhall_id": townhall.id,
                                               "status": "rejected"},
                                  "townhall_id": townhall.id, "seq": live[0][1]["seq"]})]
    for viewer in (None, Role.RESIDENT):
        replay = joined(townhall, viewer, since=0).join_ack
        assert replay["ok"] and "events" in replay
        dumped = str(replay)
        assert "Ana Ruiz" not in dumped and "555-0199" not in dumped
        assert author.display_name not in dumped
        states = [e["data"]["question"] for e in replay["events"]
                  if e["event"] == "question" and e["data"]["question"]["id"] == question.id]
        assert states and all(s == {"id": question.id, "townhall_id": townhall.id,
                                    "status": "rejected"} for s in states)
    # Moderators and the author still see what happened, with the text.
    replayed = joined(townhall, Role.MODERATOR, moderator=True, since=0).join_ack
    assert "Ana Ruiz" in str(replayed)
    own = joined(townhall, user=author, since=0).join_ack
    mine = [e["data"]["question"] for e in own["events"]
            if e["data"].get("question", {}).get("reject_reason")]
    assert mine and mine[-1]["text"] == text


def test_merge_answer_and_highlight_over_the_socket(townhall, make_question, joined):
    target = make_question(townhall, "Target?", status="approved")
    duplicate = make_question(townhall, "Duplicate?")
    watcher = joined(townhall, None)
    author = joined(townhall, user=duplicate.author)
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    assert emit(moderator, "moderate", {"question_id": duplicate.id, "action": "merge",
                                        "into_id": target.id})["ok"]
    told = [e["question"] for _, e in received(author, "question")
            if e["question"]["id"] == duplicate.id]
    assert told[-1]["status"] == "merged" and told[-1]["merged_into_id"] == target.id
    assert emit(moderator, "moderate", {"question_id": target.id, "action": "highlight"})["ok"]
    states = received(watcher, "townhall")
    assert states[-1][1]["highlighted_id"] == target.id
    ack = emit(moderator, "moderate", {"question_id": target.id, "action": "answer",
                                       "answer": "**Yes.**"})
    assert ack["question"]["answer_html"] == "<p><strong>Yes.</strong></p>\n"
    last = received(watcher, "question")[-1][1]["question"]
    assert (last["status"], last["answer_mode"]) == ("answered", "written")


def test_upvotes_over_the_socket(townhall, make_question, joined):
    question = make_question(townhall, status="approved")
    watcher = joined(townhall, None)
    voter = joined(townhall)
    ack = emit(voter, "upvote", {"question_id": question.id, "value": True})
    assert ack == {"ok": True, "question_id": question.id, "upvotes": 1, "value": True}
    assert received(watcher, "question")[-1][1]["question"]["upvotes"] == 1
    assert emit(voter, "upvote", {"question_id": question.id, "value": True})["upvotes"] == 1
    assert emit(voter, "upvote", {"question_id": question.id, "value": False})["upvotes"] == 0
    assert emit(voter, "upvote", {"question_id": question.id, "value": "1"})["error"] == "invalid"
    assert emit(voter, "upvote", {"question_id": 999, "value": True})["error"] == "not_found"
    assert emit(watcher, "upvote", {"question_id": question.id,
                                    "value": True})["error"] == "unauthorized"


def test_upvote_floods_are_rate_limited(app, townhall, make_question, joined):
    app.config["LIMIT_UPVOTE"] = "4 per minute"
    question = make_question(townhall, status="approved")
    voter = joined(townhall)
    answers = [emit(voter, "upvote", {"question_id": question.id, "value": n % 2 == 0})
               for n in range(8)]
    assert [a["ok"] for a in answers] == [True] * 4 + [False] * 4
    assert answers[-1]["error"] == "rate_limited"


def test_moderators_enter_questions_and_residents_cannot(townhall, joined):
    watcher = joined(townhall, None)
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    ack = emit(moderator, "enter_question", {"townhall_id": townhall.id, "text": "Bins?",
                                             "channel": "paper", "name": "Ada"})
    assert ack["ok"] and ack["question"]["channel"] == "paper"
    assert received(watcher, "question")[-1][1]["question"]["author_name"] == "Ada"
    resident = joined(townhall)
    ack = emit(resident, "enter_question", {"townhall_id": townhall.id, "text": "Bins?",
                                            "channel": "paper"})
    assert ack["error"] == "forbidden"
    ack = emit(moderator, "enter_question", {"townhall_id": townhall.id, "text": "Bins?",
                                             "channel": "carrier pigeon"})
    assert ack["error"] == "invalid"
    assert question_count() == 1


def test_rejoining_with_since_gets_exactly_the_missed_events_it_may_see(
        townhall, make_question, joined, socket_client, client_as):
    first = make_question(townhall, "First?")
    watcher = joined(townhall, Role.RESIDENT)
    seen = watcher.join_ack["seq"]
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    emit(moderator, "moderate", {"question_id": first.id, "action": "approve"})
    pending = make_question(townhall, "Pending, unseen by the public?")
    emit(moderator, "moderate", {"question_id": first.id, "action": "highlight"})
    again = socket_client(client_as(Role.RESIDENT, user=watcher.user))
    ack = emit(again, "join", {"townhall_id": townhall.id, "since": seen})
    assert "snapshot" not in ack
    names = [(e["event"], e["data"].get("question", {}).get("id")) for e in ack["events"]]
    assert names == [("question", first.id), ("townhall", None)]
    assert all(e["data"]["seq"] > seen for e in ack["events"])
    assert pending.id not in [e["data"].get("question", {}).get("id") for e in ack["events"]]
    assert ack["seq"] == services.sequence_number(db.session, townhall)
    mod_again = socket_client(client_as(Role.MODERATOR, user=moderator.user))
    ack = emit(mod_again, "join", {"townhall_id": townhall.id, "since": seen,
                                   "moderator": True})
    assert ("queue", pending.id) in [(e["event"], e["data"].get("question", {}).get("id"))
                                     for e in ack["events"]]


def test_a_since_from_the_future_or_too_far_back_gets_a_snapshot(townhall, make_question,
                                                                 joined, monkeypatch):
    make_question(townhall, status="approved")
    ahead = joined(townhall, since=10_000)
    assert "snapshot" in ahead.join_ack
    monkeypatch.setattr("participation.realtime.services.REPLAY_LIMIT", 1)
    behind = joined(townhall, since=0)
    assert "snapshot" in behind.join_ack and len(behind.join_ack["snapshot"]["questions"]) == 1


def test_presence_counts_watchers_and_leave_stops_updates(townhall, make_question, joined):
    first = joined(townhall, None)
    assert first.join_ack["presence"] == 1
    second = joined(townhall, None)
    assert second.join_ack["presence"] == 2
    assert received(first, "presence")[-1][1] == {"townhall_id": townhall.id, "count": 2}
    assert emit(second, "leave", {"townhall_id": townhall.id}) == {"ok": True}
    assert received(first, "presence")[-1][1]["count"] == 1
    question = make_question(townhall)
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    emit(moderator, "moderate", {"question_id": question.id, "action": "approve"})
    assert received(second, "question") == []
    assert received(first, "question")


def test_status_changes_over_http_are_pushed_to_the_room(townhall, joined, client_as, official):
    from tests.conftest import csrf_token

    watcher = joined(townhall, None)
    http = client_as(user=official)
    token = csrf_token(http, f"/townhalls/{townhall.id}")
    response = http.post(f"/townhalls/{townhall.id}/status",
                         data={"status": "ended", "confirmed": "yes", "csrf_token": token})
    assert response.status_code == 302
    assert received(watcher, "townhall")[-1][1]["status"] == "ended"


def test_every_broadcast_is_in_the_event_log(townhall, make_question, joined):
    question = make_question(townhall)
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    emit(moderator, "moderate", {"question_id": question.id, "action": "approve"})
    logged = db.session.scalars(select(Event).where(Event.townhall_id == townhall.id)
                                .order_by(Event.seq)).all()
    assert [e.seq for e in logged] == list(range(1, len(logged) + 1))
    assert [(e.kind, e.audience) for e in logged] == [
        ("townhall", "public"), ("queue", "moderators"), ("question", f"user:{question.author_id}"),
        ("question", "public")]


def test_a_too_complex_answer_is_refused_in_the_ack(townhall, make_question, joined):
    question = make_question(townhall, status="approved")
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    ack = emit(moderator, "moderate", {"question_id": question.id, "action": "answer",
                                       "answer": wide_table(4_900)})
    assert ack["ok"] is False and ack["error"] == "invalid"
    assert "cells" in ack["message"]
    db.session.expire_all()
    assert db.session.get(Question, question.id).status is QuestionStatus.APPROVED
