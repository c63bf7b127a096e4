""""Already asked?": the `similar` socket event, the form's fallback without scripts, and the
moderators' "possibly the same as #N"."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from participation.errors import Forbidden
from participation.extensions import db
from participation.realtime.models import Event
from participation.realtime.outbox import take_events
from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role
from participation.townhall import services, similar
from participation.townhall.models import Question, QuestionStatus
from tests.conftest import csrf_token

ASKED = "When will the number 12 bus run on Sundays?"


def emit(sio, event, payload):
    return sio.emit(event, payload, namespace=NAMESPACE, callback=True)


def ids(ack):
    assert ack["ok"] is True, ack
    return [q["id"] for q in ack["questions"]]


def counts():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(Question)),
            db.session.scalar(select(func.count()).select_from(Event)))


@pytest.fixture
def upvote(make_user, moderator):
    def give(question, times):
        for _ in range(times):
            services.set_upvote(db.session, make_user(Role.RESIDENT), question, True)
        db.session.commit()
        take_events(db.session)
    return give


def test_normalizing_folds_case_accents_punctuation_and_stop_words_of_both_languages():
    assert similar.normalize("¿Cuándo PASARÁ el autobús 12 los domingos?") == \
        similar.normalize("cuando pasara autobus 12 domingos")
    assert similar.normalize("When will the library's hours change?") == "libra hour chang"
    assert similar.normalize("Is it?") == ""
    assert similar.score(similar.normalize("When will bus 12 run on Sundays?"),
                         similar.normalize("When will bus 40 run on Sundays?")) \
        < similar.THRESHOLD


def test_similar_answers_public_look_alikes_best_first(townhall, make_question, joined, upvote):
    exact = make_question(townhall, ASKED, status="approved")
    tied = make_question(townhall, "Is the number 12 bus going to run on Sundays again?",
                         status="answered")
    close = make_question(townhall, "Will the number 12 bus run on Sundays this summer?",
                          status="approved")
    make_question(townhall, "When does the 12 bus run on Sundays?", status="approved")
    make_question(townhall, "Why is the library closed on Mondays?", status="approved")
    upvote(close, 3)
    sio = joined(townhall)
    ack = emit(sio, "similar", {"townhall_id": townhall.id, "text": ASKED.upper()})
    # Two score alike: the more upvoted one first (the answered one has none, so it goes by age).
    assert ids(ack) == [exact.id, tied.id, close.id]
    assert ack["questions"][0] == {"id": exact.id, "text": ASKED, "upvotes": 0,
                                   "status": "approved"}
    assert ack["questions"][1]["status"] == "answered"
    spanish = make_question(townhall, "¿Cuándo pasará el autobús 12 los domingos?",
                            status="approved")
    assert ids(emit(sio, "similar", {"townhall_id": townhall.id,
                                     "text": "cuando pasara el autobus 12 los domingos"})) \
        == [spanish.id]
    assert ids(emit(sio, "similar", {"townhall_id": townhall.id,
                                     "text": "When will the number 40 bus run on Sundays?"})) == []


def test_similar_never_shows_pending_rejected_merged_or_another_town_halls_questions(
        townhall, make_townhall, make_question, joined, moderator):
    make_question(townhall, ASKED)
    make_question(townhall, ASKED, status="rejected")
    target = make_question(townhall, "Why is the library closed on Mondays?", status="approved")
    merged = make_question(townhall, ASKED, status="approved")
    services.merge_question(db.session, moderator, merged, into=target)
    db.session.commit()
    take_events(db.session)
    make_question(make_townhall(title="Elsewhere"), ASKED, status="approved")
    sio = joined(townhall)
    assert ids(emit(sio, "similar", {"townhall_id": townhall.id, "text": ASKED})) == []
    # What the room sees changes, and the next answer with it (the cached list moves on).
    shown = make_question(townhall, ASKED, status="approved")
    assert ids(emit(sio, "similar", {"townhall_id": townhall.id, "text": ASKED})) == [shown.id]
    services.reject_question(db.session, moderator, shown, reason="off_topic")
    db.session.commit()
    assert ids(emit(sio, "similar", {"townhall_id": townhall.id, "text": ASKED})) == []


def test_upvote_counts_in_the_answer_are_current(townhall, make_question, joined, upvote):
    question = make_question(townhall, ASKED, status="approved")
    sio = joined(townhall)
    assert emit(sio, "similar", {"townhall_id": townhall.id, "text": ASKED})["questions"][0][
        "upvotes"] == 0
    upvote(question, 2)
    assert emit(sio, "similar", {"townhall_id": townhall.id, "text": ASKED})["questions"][0][
        "upvotes"] == 2


def test_similar_is_for_those_who_may_ask_here(make_townhall, make_question, joined):
    public = make_townhall()
    private = make_townhall(is_public=False)
    make_question(public, ASKED, status="approved")
    hidden = make_question(private, ASKED, status="approved")
    visitor = joined(public, None)
    assert emit(visitor, "similar", {"townhall_id": public.id, "text": ASKED})["error"] == \
        "unauthorized"
    assert emit(visitor, "similar", {"townhall_id": private.id, "text": ASKED})["error"] == \
        "unauthorized"
    resident = joined(public)
    assert ids(emit(resident, "similar", {"townhall_id": private.id, "text": ASKED})) == \
        [hidden.id]


@pytest.mark.parametrize("text", [None, 12, ["When?"], {"text": "x"}, "", "   ", "x" * 10_000])
def test_bad_texts_get_a_clear_error_and_change_nothing(townhall, make_question, joined, text):
    make_question(townhall, ASKED, status="approved")
    sio = joined(townhall)
    before = counts()
    payload = {"townhall_id": townhall.id}
    if text is not None:
        payload["text"] = text
    ack = emit(sio, "similar", payload)
    assert ack["ok"] is False and ack["error"] == "invalid"
    assert ack["message"] and "Traceback" not in ack["message"]
    assert counts() == before


@pytest.mark.parametrize("payload", [{"text": ASKED}, {"townhall_id": "1", "text": ASKED},
                                     {"townhall_id": 10**6, "text": ASKED}])
def test_bad_town_halls_get_a_clear_error(townhall, joined, payload):
    ack = emit(joined(townhall), "similar", payload)
    assert ack["ok"] is False and ack["error"] in ("invalid", "not_found")


def test_a_flood_of_similar_is_limited_per_account(app, townhall, make_question, joined):
    app.config["LIMIT_SIMILAR"] = "3 per minute"
    make_question(townhall, ASKED, status="approved")
    flooder = joined(townhall)
    answers = [emit(flooder, "similar", {"townhall_id": townhall.id, "text": ASKED})
               for _ in range(6)]
    assert [a["ok"] for a in answers] == [True] * 3 + [False] * 3
    assert {a["error"] for a in answers if not a["ok"]} == {"rate_limited"}
    other = joined(townhall)
    assert len(ids(emit(other, "similar", {"townhall_id": townhall.id, "text": ASKED}))) == 1


def test_asking_over_the_socket_is_not_held_back_by_similar_questions(
        townhall, make_question, joined):
    make_question(townhall, ASKED, status="approved")
    ack = emit(joined(townhall), "ask", {"townhall_id": townhall.id, "text": ASKED})
    assert ack["ok"] is True and ack["question"]["status"] == "pending"


def _ask(http, townhall, token, text, **extra):
    return http.post(f"/townhalls/{townhall.id}/questions",
                     data={"csrf_token": token, "text": text, **extra})


def test_the_form_shows_similar_questions_first_and_ask_anyway_asks(
        client_as, townhall, make_question):
    shown = make_question(townhall, ASKED, status="approved")
    http = client_as(Role.RESIDENT)
    token = csrf_token(http, f"/townhalls/{townhall.id}")
    first = _ask(http, townhall, token, "When will the 12 bus run on Sundays?",
                 client_id="c-1", anonymous="y")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert "Already asked?" in html and f'id="similar-q{shown.id}"' in html
    assert f'action="/townhalls/{townhall.id}/questions/{shown.id}/upvote"' in html
    anyway = re.search(r'<form[^>]*id="ask-anyway-form".*?</form>', html, re.S).group(0)
    assert 'name="ask_anyway" value="1"' in anyway
    assert 'value="When will the 12 bus run on Sundays?"' in anyway
    assert 'name="anonymous" value="y"' in anyway and 'value="c-1"' in anyway
    assert db.session.query(Question).count() == 1
    again = _ask(http, townhall, token, "When will the 12 bus run on Sundays?",
                 client_id="c-1", anonymous="y", ask_anyway="1")
    assert again.status_code == 302
    asked = db.session.scalars(select(Question).where(Question.id != shown.id)).one()
    assert asked.status is QuestionStatus.PENDING and asked.anonymous is True
    assert asked.text == "When will the 12 bus run on Sundays?"


def test_the_form_asks_at_once_when_nothing_looks_alike(client_as, townhall, make_question):
    make_question(townhall, ASKED, status="approved")
    http = client_as(Role.RESIDENT)
    token = csrf_token(http, f"/townhalls/{townhall.id}")
    response = _ask(http, townhall, token, "Why is the library closed on Mondays?")
    assert response.status_code == 302
    assert db.session.query(Question).count() == 2
    page = http.get(f"/townhalls/{townhall.id}").get_data(as_text=True)
    assert 'id="similar"' in page and 'id="ask-anyway-form"' not in page


def test_the_form_still_refuses_bad_text_on_its_field(client_as, townhall, make_question):
    make_question(townhall, ASKED, status="approved")
    http = client_as(Role.RESIDENT)
    token = csrf_token(http, f"/townhalls/{townhall.id}")
    response = _ask(http, townhall, token, "x" * 301)
    assert response.status_code == 400
    assert "Keep your question under 300 characters" in response.get_data(as_text=True)
    assert db.session.query(Question).count() == 1


def test_moderators_see_possibly_the_same_with_merge_one_click_away(
        client_as, townhall, make_question):
    public = make_question(townhall, ASKED, status="approved")
    duplicate = make_question(townhall, "Is the number 12 bus going to run on Sundays?")
    different = make_question(townhall, "Why is the library closed on Mondays?")
    http = client_as(Role.MODERATOR)
    html = http.get(f"/townhalls/{townhall.id}/moderate?part=live").get_data(as_text=True)
    item = re.search(rf'<li class="question" id="queue-q{duplicate.id}">.*?</li>', html,
                     re.S).group(0)
    assert f"Possibly the same as #{public.id}" in item and ASKED in item
    merge = re.search(r'<form[^>]*>(?:(?!</form>).)*merge-into-.*?</form>', item, re.S).group(0)
    assert 'name="action" value="merge"' in merge and f'name="into_id" value="{public.id}"' in merge
    other = re.search(rf'<li class="question" id="queue-q{different.id}">.*?</li>', html,
                      re.S).group(0)
    assert "Possibly the same" not in other
    token = re.search(r'name="csrf_token" value="([^"]+)"', merge).group(1)
    response = http.post(f"/townhalls/{townhall.id}/questions/{duplicate.id}/moderate",
                         data={"csrf_token": token, "action": "merge", "into_id": public.id})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Question, duplicate.id).merged_into_id == public.id


def test_the_hint_is_computed_for_moderators_only(townhall, make_question, make_user):
    make_question(townhall, ASKED, status="approved")
    pending = make_question(townhall, ASKED)
    resident = make_user(Role.RESIDENT)
    with pytest.raises(Forbidden):
        services.possible_duplicates(db.session, resident, townhall, [pending])


def test_a_list_seen_inside_an_uncommitted_change_is_not_kept(townhall, make_question,
                                                              make_user, moderator):
    waiting = make_question(townhall, ASKED)
    resident = make_user(Role.RESIDENT)
    services.approve_question(db.session, moderator, waiting)
    assert [c.id for c in services.similar_questions(db.session, resident, townhall,
                                                     ASKED)] == [waiting.id]
    db.session.rollback()
    take_events(db.session)
    # The approval's sequence number is free again; the next change takes it.
    other = make_question(townhall, "Why is the library closed on Mondays?", status="approved")
    assert services.similar_questions(db.session, resident, townhall, ASKED) == []
    assert [c.id for c in services.similar_questions(
        db.session, resident, townhall, "Why is the library closed on Mondays?")] == [other.id]


def test_after_a_long_gap_the_list_is_read_again_in_full(townhall, make_question, make_user,
                                                         moderator, upvote):
    resident = make_user(Role.RESIDENT)
    first = make_question(townhall, ASKED, status="approved")
    assert len(services.similar_questions(db.session, resident, townhall, ASKED)) == 1
    upvote(first, 3)
    late = make_question(townhall, "Is the number 12 bus going to run on Sundays?",
                         status="approved")
    from participation.realtime import services as realtime

    assert realtime.subjects_since(db.session, townhall.id, 0,
                                   services.sequence_number(db.session, townhall), limit=2) \
        is None
    found = services.similar_questions(db.session, resident, townhall, ASKED)
    assert [(c.id, c.upvotes) for c in found] == [(first.id, 3), (late.id, 0)]


def test_the_demo_console_marks_a_waiting_question_as_possibly_the_same(session):
    from participation.accounts.models import User
    from participation.demo import seed_demo
    from participation.townhall.models import Status, TownHall

    seed_demo(session, password="demo password 123")
    live = session.scalar(select(TownHall).where(TownHall.status == Status.LIVE))
    moderator = session.scalars(select(User).where(User.role == Role.MODERATOR)).first()
    queue = services.moderation_queue(session, moderator, live)
    hints = services.possible_duplicates(session, moderator, live, queue)
    assert [(q.text, hints[q.id].text) for q in queue if q.id in hints] == [
        ("When will the route 12 night bus service be restored?",
         "Will the night bus service on route 12 be restored, and when?")]


def test_the_suggestions_and_the_hint_are_valid_html(client_as, townhall, make_question,
                                                      tmp_path):
    from tests.web.test_valid_html import nu_errors

    make_question(townhall, ASKED, status="approved")
    make_question(townhall, "Is the number 12 bus going to run on Sundays?")
    http = client_as(Role.RESIDENT)
    token = csrf_token(http, f"/townhalls/{townhall.id}")
    offered = _ask(http, townhall, token, ASKED, client_id="c-1")
    assert 'id="ask-anyway-form"' in offered.get_data(as_text=True)
    console = client_as(Role.MODERATOR).get(f"/townhalls/{townhall.id}/moderate")
    assert "Possibly the same as" in console.get_data(as_text=True)
    files = []
    for name, response in (("offered", offered), ("console", console)):
        file = tmp_path / f"{name}.html"
        file.write_bytes(response.get_data())
        files.append(file)
    assert nu_errors(files) == []


def test_limit_similar_comes_from_the_environment(monkeypatch, tmp_path):
    from participation.config import InsecureConfiguration, from_environment

    assert from_environment(str(tmp_path))["LIMIT_SIMILAR"] == "60 per minute;600 per hour"
    monkeypatch.setenv("LIMIT_SIMILAR", "10 per minute")
    assert from_environment(str(tmp_path))["LIMIT_SIMILAR"] == "10 per minute"
    monkeypatch.setenv("LIMIT_SIMILAR", "often")
    with pytest.raises(InsecureConfiguration, match="LIMIT_SIMILAR must be a rate limit"):
        from_environment(str(tmp_path))
