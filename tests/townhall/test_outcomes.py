"""What becomes of a question reaches its asker: the written answer itself, the rejection's reason
and, for "Other", the moderator's explanation (which that reason requires), and the question a
merged one joined; the public display of a merged question says which one it joined."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from participation.errors import InvalidInput
from participation.extensions import db
from participation.mail.models import OutgoingMail
from participation.notifications.services import set_notification_preferences
from participation.security.permissions import Role
from participation.townhall import services
from participation.townhall.models import Question, QuestionStatus
from tests.conftest import csrf_token
from tests.notices import spy_on_notify
from tests.townhall.test_events import emit, received


@pytest.fixture
def told(monkeypatch):
    return spy_on_notify(monkeypatch)


def test_a_written_answer_reaches_the_asker_with_its_text(session, townhall, make_question,
                                                          moderator, told):
    question = make_question(townhall, status="approved")
    told.clear()
    services.answer_question(session, moderator, question,
                             answer="The night bus returns on **1 March**.")
    [notice] = told
    assert (notice.user_id, notice.kind) == (question.author_id, "question_answered")
    assert "The night bus returns on **1 March**." in notice.message


def test_a_long_written_answer_is_quoted_in_part_and_the_notice_links_to_all_of_it(
        session, townhall, make_question, moderator, told):
    question = make_question(townhall, status="approved")
    told.clear()
    services.answer_question(session, moderator, question, answer="word " * 400)
    [notice] = told
    assert "word word" in notice.message and notice.message.endswith("…")
    assert notice.link.endswith(f"#q{question.id}")


def test_the_answer_is_mailed_at_once_when_the_asker_chose_so(session, townhall, make_question,
                                                               moderator, told):
    question = make_question(townhall, status="approved")
    set_notification_preferences(session, question.author, {"question_answered": "immediate"})
    services.answer_question(session, moderator, question, answer="Yes, from March.")
    session.commit()
    mail = session.scalars(select(OutgoingMail)
                           .where(OutgoingMail.recipient_id == question.author_id)).all()
    assert len(mail) == 1 and "Yes, from March." in mail[0].text_body


def test_other_as_a_reason_needs_an_explanation_and_changes_nothing_without_one(
        session, townhall, make_question, moderator, told):
    question = make_question(townhall)
    for missing in (None, "", "   ", 5):
        with pytest.raises(InvalidInput) as refused:
            services.reject_question(session, moderator, question, reason="other",
                                     explanation=missing)
        assert refused.value.field == "explanation"
    with pytest.raises(InvalidInput):
        services.reject_question(session, moderator, question, reason="other",
                                 explanation="x" * (services.EXPLANATION_MAX + 1))
    assert question.status is QuestionStatus.PENDING and told == []


def test_the_explanation_reaches_the_asker_and_no_one_else(session, townhall, make_question,
                                                           moderator, told):
    question = make_question(townhall)
    services.reject_question(session, moderator, question, reason="other",
                             explanation="Please ask the county: roads are theirs.")
    [notice] = told
    assert notice.user_id == question.author_id
    assert "Please ask the county: roads are theirs." in notice.message
    assert question.reject_explanation == "Please ask the county: roads are theirs."
    assert services.question_data(question, view="author")["reject_explanation"] == (
        "Please ask the county: roads are theirs.")
    assert "reject_explanation" not in services.question_data(question, view="public")


def test_an_explanation_with_another_reason_is_not_kept(session, townhall, make_question,
                                                        moderator, told):
    question = make_question(townhall)
    services.reject_question(session, moderator, question, reason="offensive",
                             explanation="ignored")
    assert question.reject_explanation is None
    assert "Offensive or abusive" in told[0].message


def test_the_console_form_rejects_with_an_explanation_and_refuses_other_without_one(
        client_as, townhall, make_question, told):
    question = make_question(townhall, "Who fixes Elm Road?")
    http = client_as(Role.MODERATOR)
    token = csrf_token(http, f"/townhalls/{townhall.id}/moderate")
    console = http.get(f"/townhalls/{townhall.id}/moderate").get_data(as_text=True)
    assert f'<textarea name="explanation" id="explanation-{question.id}"' in console
    url = f"/townhalls/{townhall.id}/questions/{question.id}/moderate"
    refused = http.post(url, data={"csrf_token": token, "action": "reject", "reason": "other",
                                    "confirm": "y"},
                        follow_redirects=True)
    assert "For the reason “Other”, explain" in refused.get_data(as_text=True)
    db.session.refresh(question)
    assert question.status is QuestionStatus.PENDING
    done = http.post(url, data={"csrf_token": token, "action": "reject", "reason": "other",
                                "explanation": "The county maintains Elm Road.", "confirm": "y"},
                     follow_redirects=True)
    assert f"Question {question.id}: rejected." in done.get_data(as_text=True)
    db.session.refresh(question)
    assert question.reject_explanation == "The county maintains Elm Road."
    asker = client_as(user=question.author)
    own = asker.get(f"/townhalls/{townhall.id}").get_data(as_text=True)
    assert "The moderator explains: The county maintains Elm Road." in own


def test_the_console_says_what_was_done_in_words_not_keys(client_as, townhall, make_question):
    question = make_question(townhall)
    http = client_as(Role.MODERATOR)
    token = csrf_token(http, f"/townhalls/{townhall.id}/moderate")
    http.post("/language", data={"csrf_token": token, "locale": "es", "next": "/"})
    http.post(f"/townhalls/{townhall.id}/questions/{question.id}/moderate",
              data={"csrf_token": token, "action": "approve"})
    page = http.get(f"/townhalls/{townhall.id}/moderate").get_data(as_text=True)
    assert re.search(rf"Pregunta {question.id}: aprobada\.", page), page[:2000]
    assert "(approve)" not in page


def test_the_moderate_socket_event_takes_the_explanation(townhall, make_question, joined):
    question = make_question(townhall)
    author = joined(townhall, user=question.author)
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    refused = emit(moderator, "moderate", {"question_id": question.id, "action": "reject",
                                           "reason": "other"})
    assert refused["ok"] is False and refused["error"] == "invalid"
    refused = emit(moderator, "moderate", {"question_id": question.id, "action": "reject",
                                           "reason": "other", "explanation": ["a list"]})
    assert refused["ok"] is False and refused["error"] == "invalid"
    db.session.expire_all()
    assert db.session.get(Question, question.id).status is QuestionStatus.PENDING
    ack = emit(moderator, "moderate", {"question_id": question.id, "action": "reject",
                                       "reason": "other", "explanation": "Asked twice."})
    assert ack["ok"] is True
    [(_, event)] = received(author, "question")
    assert event["question"]["reject_explanation"] == "Asked twice."


def test_a_merged_question_says_publicly_which_question_it_joined(
        client, session, townhall, make_question, moderator, told):
    target = make_question(townhall, "Is the night bus 12 coming back?", status="approved")
    duplicate = make_question(townhall, "Night bus 12, when?", status="approved")
    told.clear()
    services.merge_question(session, moderator, duplicate, into=target)
    session.commit()
    [notice] = told
    assert notice.link == f"/townhalls/{townhall.id}#q{target.id}"
    assert "Is the night bus 12 coming back?" in notice.message
    data = services.question_data(duplicate)
    assert (data["merged_into_id"], data["merged_into_text"]) == (
        target.id, "Is the night bus 12 coming back?")
    transcript = client.get(f"/townhalls/{townhall.id}/transcript").get_data(as_text=True)
    item = re.search(rf'<li class="question" id="q{duplicate.id}">.*?</li>', transcript,
                     re.S).group(0)
    assert f'<a href="#q{target.id}" class="merged-into">Is the night bus 12 coming back?</a>' \
        in item


def test_a_merged_question_does_not_name_a_question_that_was_rejected_later(
        session, townhall, make_question, moderator):
    target = make_question(townhall, "Secret after all?", status="approved")
    duplicate = make_question(townhall, "Same?", status="approved")
    services.merge_question(session, moderator, duplicate, into=target)
    services.reject_question(session, moderator, target, reason="personal_information")
    assert services.question_data(duplicate)["merged_into_text"] is None
