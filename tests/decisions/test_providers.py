"""Real evidence: what a record freezes from town halls and forum threads equals what their own
pages and API show at that moment."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from participation.db import utcnow
from participation.decisions import services
from participation.decisions.chain import canonical_json
from participation.errors import Closed, NotFound
from participation.extensions import db
from participation.forums import services as forums
from participation.moderation import services as moderation
from participation.realtime.outbox import take_events
from participation.security.permissions import Role
from participation.townhall import services as townhalls
from participation.townhall.models import Status
from tests.decisions.conftest import draft


@pytest.fixture
def moderator(make_user):
    return make_user(Role.MODERATOR)


@pytest.fixture
def ended_townhall(official, moderator, make_user):
    """An ended town hall with a question in every outcome, upvotes and a phone question."""
    now = utcnow()
    townhall = townhalls.create_townhall(db.session, official, title="Cycle lanes on Main St",
                                         starts_at=now - timedelta(hours=2),
                                         ends_at=now - timedelta(hours=1))
    townhalls.set_status(db.session, official, townhall, Status.LIVE)
    rosa, sam, lee, noor = (make_user(Role.RESIDENT) for _ in range(4))
    ask = townhalls.ask_question
    live = ask(db.session, rosa, townhall, text="Will deliveries still stop on Main Street?")
    written = ask(db.session, sam, townhall, text="How are the lanes cleared of snow?")
    still_open = ask(db.session, lee, townhall, text="When does construction start?")
    duplicate = ask(db.session, noor, townhall, text="Deliveries on Main Street?")
    rejected = ask(db.session, noor, townhall, text="Why is my neighbour's fence ugly?")
    ask(db.session, lee, townhall, text="Never moderated")
    for question in (live, written, still_open):
        townhalls.approve_question(db.session, moderator, question)
    townhalls.set_upvote(db.session, sam, live, True)
    townhalls.set_upvote(db.session, lee, live, True)
    townhalls.merge_question(db.session, moderator, duplicate, into=live)
    townhalls.reject_question(db.session, moderator, rejected, reason="off_topic")
    townhalls.answer_question(db.session, moderator, live)
    townhalls.answer_question(db.session, moderator, written,
                              answer="On the priority snow route, with the main road.")
    townhalls.enter_question(db.session, moderator, townhall, channel="phone", name="Margaret",
                             text="Will the bus stop move?")
    townhalls.set_status(db.session, official, townhall, Status.ENDED)
    db.session.commit()
    take_events(db.session)
    townhall.participants = {rosa.id, sam.id, lee.id, noor.id}
    return townhall


@pytest.fixture
def thread(official, moderator, make_user):
    """A public thread with replies, one of them hidden by a moderator."""
    topic = forums.create_topic(db.session, official, title="Main Street", description="")
    first, second, third = (make_user(Role.RESIDENT) for _ in range(3))
    thread = forums.start_thread(db.session, first, topic, title="Cycle lanes: yes or no?",
                                 body="I cycle to work every day.")
    forums.reply_to_thread(db.session, second, thread, body="Shops need deliveries **too**.")
    hidden = forums.reply_to_thread(db.session, third, thread, body="Rude remark")
    forums.reply_to_thread(db.session, first, thread, body="Agreed, [plan](https://x.example).")
    moderation.hide_post(db.session, moderator, hidden, reason="Personal attack")
    db.session.commit()
    thread.participants = {first.id, second.id}
    return thread


def test_an_ended_town_hall_is_frozen_as_its_transcript_and_ledger_show_it(
        client, official, ended_townhall):
    record = services.publish_decision(db.session, official,
                                       draft(links=[("townhall", ended_townhall.id)]))
    db.session.commit()
    snapshot = record.content["links"][0]["snapshot"]
    shown = client.get(f"/api/v1/townhalls/{ended_townhall.id}").get_json()
    assert [(q["id"], q["text"], q["outcome"], q["upvotes"], q["channel"])
            for q in snapshot["questions"]] == [
        (q["id"], q["text"], q["status"], q["upvotes"], q["channel"]) for q in shown["questions"]]
    assert snapshot["ledger"] == shown["ledger"]
    outcomes = {q["text"]: q["outcome"] for q in snapshot["questions"]}
    assert outcomes["Will deliveries still stop on Main Street?"] == "answered"
    assert outcomes["When does construction start?"] == "approved"
    assert outcomes["Deliveries on Main Street?"] == "merged"
    assert "Why is my neighbour's fence ugly?" not in outcomes  # rejected text stays private
    written = next(q for q in snapshot["questions"] if q["answer"])
    assert written["answer"] == "On the priority snow route, with the main road."
    figures = record.content["figures"]
    assert figures["questions_asked"] == shown["ledger"]["asked"] == 7
    assert figures["questions_answered"] == (
        shown["ledger"]["answered_live"] + shown["ledger"]["answered_in_writing"]) == 2
    assert figures["median_seconds_to_answer"] == shown["ledger"]["median_seconds_to_answer"]
    assert figures["distinct_participants"] == len(ended_townhall.participants)
    transcript = client.get(f"/townhalls/{ended_townhall.id}/transcript").get_data(as_text=True)
    for question in snapshot["questions"]:
        assert question["text"].replace("'", "&#39;") in transcript
    page = client.get(f"/decisions/{record.seq}").get_data(as_text=True)
    assert f'href="/townhalls/{ended_townhall.id}/transcript"' in page
    listed = client.get(f"/decisions?townhall={ended_townhall.id}").get_data(as_text=True)
    assert f'<option selected value="{ended_townhall.id}">Cycle lanes on Main St</option>' in listed
    assert "#1 Extend" in listed
    assert "Deliveries on Main Street?" in page and "Merged</span>" in page


def test_town_halls_that_are_not_over_or_not_public_are_refused(official, make_user):
    now = utcnow()

    def make(status, **fields):
        townhall = townhalls.create_townhall(db.session, official, title="T", starts_at=now,
                                             ends_at=now + timedelta(hours=1), **fields)
        if status != Status.SCHEDULED:
            townhalls.set_status(db.session, official, townhall, Status.LIVE)
        if status == Status.ENDED:
            townhalls.set_status(db.session, official, townhall, Status.ENDED)
        db.session.commit()
        take_events(db.session)
        return townhall.id

    cases = [(make(Status.SCHEDULED), Closed), (make(Status.LIVE), Closed),
             (make(Status.ENDED, is_public=False), NotFound), (9999, NotFound)]
    for townhall_id, error in cases:
        with pytest.raises(error):
            services.publish_decision(db.session, official,
                                      draft(links=[("townhall", townhall_id)]))
        db.session.rollback()
    assert services.list_records(db.session)[1] == 0


def test_a_thread_is_frozen_with_its_visible_posts_and_their_digest(client, official, thread):
    record = services.publish_decision(db.session, official, draft(links=[("thread", thread.id)]))
    db.session.commit()
    snapshot = record.content["links"][0]["snapshot"]
    shown = client.get(f"/api/v1/threads/{thread.id}").get_json()
    visible = [post for post in shown["posts"]["items"] if post["status"] == "visible"]
    assert snapshot["post_count"] == len(visible) == 3 == 1 + shown["thread"]["reply_count"]
    recomputed = hashlib.sha256(canonical_json(
        [{"id": post["id"], "body_html": post["body_html"]} for post in visible]
    ).encode()).hexdigest()
    assert snapshot["content_sha256"] == recomputed
    assert snapshot["title"] == shown["thread"]["title"] == "Cycle lanes: yes or no?"
    assert snapshot["topic"]["id"] == shown["thread"]["topic_id"]
    assert record.content["figures"]["distinct_participants"] == len(thread.participants)
    page = client.get(f"/decisions/{record.seq}").get_data(as_text=True)
    assert f'href="/threads/{thread.id}"' in page and "Visible posts</dt><dd>3" in page
    listed = client.get(f"/decisions?topic={thread.topic_id}").get_data(as_text=True)
    assert "#1 Extend the Riverside library hours" in listed
    assert f'<option selected value="{thread.topic_id}">Main Street</option>' in listed
    other = client.get(f"/decisions?topic={thread.topic_id + 1}")
    assert other.status_code == 400  # not a topic any record rests on


def test_hidden_and_unknown_threads_are_refused(official, moderator, thread):
    moderation.hide_post(db.session, moderator, thread.opening_post, reason="Spam")
    db.session.commit()
    for thread_id in (thread.id, 9999):
        with pytest.raises(NotFound, match="does not exist or is not public"):
            services.publish_decision(db.session, official, draft(links=[("thread", thread_id)]))
        db.session.rollback()


def test_people_are_counted_once_across_a_town_hall_and_a_thread(official, ended_townhall,
                                                                   thread):
    record = services.publish_decision(db.session, official, draft(
        links=[("townhall", ended_townhall.id), ("thread", thread.id)]))
    figures = record.content["figures"]
    assert figures["distinct_participants"] == len(ended_townhall.participants
                                                   | thread.participants)
    assert json.loads(record.canonical)["figures"] == figures


@pytest.fixture
def make_poll(official, make_user):
    """A poll in a public forum topic with `rankings` cast by new residents, then closed."""
    from participation.polls import services as polls

    topic = forums.create_topic(db.session, official, title="Ferry", description="")
    db.session.commit()

    def factory(kind="single", rankings=((0,), (0,), (1,)), *, close=True,
                results_mode="after_close", **fields):
        poll = polls.create_poll(db.session, official, question=f"Ferry name? ({kind})",
                                 options=["Otter", "Heron", "Willow", "Lantern"], kind=kind,
                                 results_mode=results_mode,
                                 opens_at=utcnow() - timedelta(hours=1),
                                 **({"topic_id": topic.id} | fields))
        voters = set()
        for ranking in rankings:
            voter = make_user(Role.RESIDENT)
            voters.add(voter.id)
            polls.cast_ballot(db.session, voter, poll.id,
                              [poll.options[index].id for index in ranking])
        if close:
            polls.close_poll(db.session, official, poll)
        db.session.commit()
        take_events(db.session)
        poll.voters = voters
        return poll

    return factory


def test_a_closed_poll_is_frozen_with_the_tally_and_digest_its_page_shows(client, official,
                                                                           make_poll):
    poll = make_poll("multiple", rankings=[(0, 1), (0,), (2, 0), (1,)], max_choices=2)
    record = services.publish_decision(db.session, official, draft(links=[("poll", poll.id)]))
    db.session.commit()
    snapshot = record.content["links"][0]["snapshot"]
    shown = client.get(f"/api/v1/polls/{poll.id}").get_json()
    ballots = client.get(f"/api/v1/polls/{poll.id}/ballots").get_json()
    assert snapshot["turnout"] == shown["ballots"] == 4
    assert record.content["figures"]["poll_turnout"] == 4
    assert record.content["figures"]["distinct_participants"] == len(poll.voters)
    assert [(row["option_id"], row["votes"]) for row in snapshot["tally"]] == [
        (option["id"], option["votes"]) for option in shown["results"]["options"]]
    assert [row["votes"] for row in snapshot["tally"]] == [3, 2, 1, 0]
    assert snapshot["leaders"] == ["Otter"]
    assert snapshot["ballot_digest"] == ballots["receipts_digest"]
    assert snapshot["options"] == [{"id": o["id"], "label": o["label"]} for o in shown["options"]]
    page = client.get(f"/decisions/{record.seq}").get_data(as_text=True)
    assert f'href="/polls/{poll.id}"' in page
    assert '<meter class="bar-meter" min="0" max="4" value="3"' in page
    listed = client.get(f"/decisions?topic={poll.topic_id}").get_data(as_text=True)
    assert f"#{record.seq} " in listed


def test_a_ranked_poll_is_frozen_with_every_instant_runoff_round(client, official, make_poll):
    poll = make_poll("ranked", rankings=[(0, 1), (0, 2), (1, 2), (1, 0), (2, 1), (3,), (2, 0)])
    record = services.publish_decision(db.session, official, draft(links=[("poll", poll.id)]))
    db.session.commit()
    snapshot = record.content["links"][0]["snapshot"]
    results = client.get(f"/api/v1/polls/{poll.id}").get_json()["results"]
    labels = {option.id: option.label for option in poll.options}
    assert len(snapshot["rounds"]) == len(results["rounds"]) > 1
    for frozen, counted in zip(snapshot["rounds"], results["rounds"], strict=True):
        assert [(row["option_id"], row["votes"]) for row in frozen["counts"]] == [
            (row["id"], row["votes"]) for row in counted["counts"]]
        assert frozen["exhausted"] == counted["exhausted"]
        assert frozen["total"] == counted["continuing_ballots"]
        assert frozen["eliminated"] == ([labels[counted["eliminated"]]]
                                        if counted["eliminated"] else [])
        assert frozen["tie_break"] == counted["tie_break"]
    assert snapshot["winner"] == labels[results["winner"]]
    assert [row["votes"] for row in snapshot["tally"]] == [
        option["first_preferences"] for option in results["options"]]
    page = client.get(f"/decisions/{record.seq}").get_data(as_text=True)
    assert "Round 2" in page and "Exhausted ballots: 1" in page
    assert f"Winner</dt><dd>{snapshot['winner']}" in page


def test_open_unreleased_private_and_unknown_polls_are_refused(official, make_poll):
    now = utcnow()
    open_poll = make_poll(close=False)
    hidden = make_poll(results_mode="hidden")
    private_hall = townhalls.create_townhall(db.session, official, title="Private",
                                             starts_at=now, ends_at=now + timedelta(hours=1),
                                             is_public=False)
    db.session.commit()
    private = make_poll(close=False, topic_id=None, townhall_id=private_hall.id)
    cases = [(open_poll.id, Closed, "still open"), (hidden.id, Closed, "not been released"),
             (private.id, NotFound, "not public"), (9999, NotFound, "not public")]
    for poll_id, error, message in cases:
        with pytest.raises(error, match=message):
            services.publish_decision(db.session, official, draft(links=[("poll", poll_id)]))
        db.session.rollback()
    assert services.list_records(db.session)[1] == 0


def test_an_official_links_a_closed_poll_an_ended_town_hall_and_a_thread_and_a_visitor_verifies(
        client_as, client, make_poll, ended_townhall, thread, tmp_path):
    """The issue's "done when": published through the form, read and verified by a visitor."""
    from click.testing import CliRunner

    from participation.cli import cli
    from tests.decisions.test_views import evidence, preview_and_publish

    poll = make_poll()
    official = client_as(Role.OFFICIAL)
    form = official.get("/decisions/new").get_data(as_text=True)
    for kind, item_id, title in (("poll", poll.id, poll.question),
                                 ("townhall", ended_townhall.id, ended_townhall.title),
                                 ("thread", thread.id, thread.title)):
        assert (f'<input type="checkbox" name="evidence" value="{kind}:{item_id}" '
                f'id="evidence-{kind}-{item_id}"> {title}') in form
    response = preview_and_publish(official, **evidence(poll=[poll.id],
                                                             townhall=[ended_townhall.id],
                                                             thread=[thread.id]))
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    for link in (f'href="/polls/{poll.id}"', f'href="/townhalls/{ended_townhall.id}/transcript"',
                 f'href="/threads/{thread.id}"'):
        assert link in page
    export = client.get("/api/v1/decisions/export")
    (tmp_path / "chain.json").write_bytes(export.data)
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "chain.json")])
    assert result.exit_code == 0 and result.output.startswith("OK: 1 records, head ")
    figures = export.get_json()["records"][0]["record"]["figures"]
    assert figures["poll_turnout"] == client.get(f"/api/v1/polls/{poll.id}").get_json()["ballots"]
    assert figures["distinct_participants"] == len(
        poll.voters | ended_townhall.participants | thread.participants)


def test_evidence_is_ticked_from_a_list_filtered_without_scripts(client_as, make_poll,
                                                                  ended_townhall, thread):
    from tests.decisions.test_views import count, evidence, form_data

    official = client_as(Role.OFFICIAL)
    poll = make_poll()
    found = official.get(f"/decisions/new?q={thread.title[:6].lower()}").get_data(as_text=True)
    assert f'value="thread:{thread.id}"' in found and f'value="poll:{poll.id}"' not in found
    # Filtering a draft keeps what was typed and ticked, even an item the filter hides.
    refiltered = official.post("/decisions/new", data=form_data(
        official, action="filter", evidence_filter="no such title at all",
        **evidence(poll=[poll.id]))).get_data(as_text=True)
    assert "Nothing matches." in refiltered
    assert f'value="poll:{poll.id}" id="evidence-poll-{poll.id}" checked' in refiltered
    assert "Residents asked for a *car-free* street." in refiltered
    assert count() == 0
