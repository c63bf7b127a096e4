"""A town hall's transcript links the decision records that cite it, and each question it left
unanswered links the records whose frozen evidence lists that question."""

from __future__ import annotations

import re

from participation.decisions import services
from participation.extensions import db
from participation.townhall.models import Question
from tests.decisions.conftest import draft
from tests.decisions.test_providers import ended_townhall, moderator  # noqa: F401 (fixtures)


def question_item(html: str, text: str) -> str:
    """The transcript's <li> for the question with `text`."""
    for item in re.findall(r'<li class="question" id="q\d+">.*?</li>', html, re.S):
        if text in item:
            return item
    raise AssertionError(f"no question {text!r} in the transcript")


def test_the_transcript_links_the_records_citing_it_and_unanswered_questions_link_them_too(
        client, official, ended_townhall):  # noqa: F811
    url = f"/townhalls/{ended_townhall.id}/transcript"
    before = client.get(url).get_data(as_text=True)
    assert "Decision records that cite this town hall" not in before
    assert "Taken up afterwards in" not in before

    services.publish_decision(db.session, official, draft(title="Unrelated"))
    record = services.publish_decision(db.session, official, draft(
        title="Construction starts in May", links=[("townhall", ended_townhall.id)]))
    db.session.commit()

    page = client.get(url).get_data(as_text=True)
    header = page.split('id="decisions-heading"', 1)[1].split("</section>", 1)[0]
    assert f'href="/decisions/{record.seq}"' in header
    assert "Construction starts in May" in header and "Unrelated" not in header
    link = f'<a href="/decisions/{record.seq}">decision record {record.seq}: ' \
           "Construction starts in May</a>"
    # Approved and never answered: the record that took it up afterwards is linked.
    assert link in question_item(page, "When does construction start?")
    # Answered and merged questions have their outcome already; no follow-up link.
    assert link not in question_item(page, "How are the lanes cleared of snow?")
    assert link not in question_item(page, "Deliveries on Main Street?")


def test_citations_know_which_questions_a_record_froze(app, official, ended_townhall):  # noqa: F811
    record = services.publish_decision(db.session, official, draft(
        links=[("townhall", ended_townhall.id)]))
    db.session.commit()
    public = {q.id for q in db.session.scalars(
        db.select(Question).where(Question.townhall_id == ended_townhall.id))
        if q.status.value in ("approved", "answered", "merged")}
    (citation,) = services.records_citing_townhall(db.session, ended_townhall.id)
    assert citation.seq == record.seq and citation.direct
    assert public and public <= citation.question_ids
    assert services.records_citing_townhall(db.session, ended_townhall.id + 1) == []
