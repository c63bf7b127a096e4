"""Demo town halls: one live with questions in every state, one upcoming, one ended."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from participation.db import utcnow
from participation.demo import DemoAccounts
from participation.realtime.outbox import take_events
from participation.townhall import services
from participation.townhall.models import Status, Upvote


def seed_townhalls(session: Session, accounts: DemoAccounts) -> None:
    users = accounts.users
    official, moderator = users["official"], users["moderator"]
    rosa, sam, lee, noor = (users[k] for k in ("resident", "resident2", "resident3", "resident4"))
    now = utcnow()

    live = services.create_townhall(
        session, official, title="Budget 2027: ask the finance committee",
        description="The draft budget is out. Ask the finance committee about **housing**, "
                    "**transit** and **parks** spending before the council votes.",
        starts_at=now - timedelta(minutes=30), ends_at=now + timedelta(minutes=60))
    services.set_status(session, official, live, Status.LIVE)
    ask = services.ask_question
    q_transit = ask(session, rosa, live, text="Will the night bus service on route 12 be "
                    "restored, and when?")
    q_parks = ask(session, sam, live, text="How much of the parks budget goes to maintenance "
                  "rather than new projects?")
    q_housing = ask(session, lee, live, text="What share of new housing will be affordable?",
                    anonymous=True)
    q_duplicate = ask(session, noor, live, text="Is the 12 night bus coming back?")
    q_rejected = ask(session, noor, live, text="Why is my neighbour's fence so ugly?")
    q_answered_live = ask(session, sam, live, text="Will property taxes rise next year?")
    q_written = ask(session, rosa, live, text="Can you publish the spreadsheet behind the "
                    "transit figures?")
    ask(session, lee, live, text="Are libraries keeping their Sunday opening hours?")
    # Waiting, and much like the transit question: the console says "possibly the same as".
    ask(session, sam, live, text="When will the route 12 night bus service be restored?")
    for question in (q_transit, q_parks, q_housing, q_answered_live, q_written):
        services.approve_question(session, moderator, question)
    services.set_upvote(session, sam, q_transit, True)
    services.set_upvote(session, lee, q_transit, True)
    services.set_upvote(session, noor, q_parks, True)
    services.set_upvote(session, rosa, q_housing, True)
    services.set_upvote(session, noor, q_housing, True)
    services.merge_question(session, moderator, q_duplicate, into=q_transit)
    services.reject_question(session, moderator, q_rejected, reason="off_topic")
    services.answer_question(session, moderator, q_answered_live)
    services.answer_question(session, moderator, q_written, answer=(
        "Yes. The transit figures are on the [open data portal](https://example.org/budget) "
        "as a CSV file."))
    services.enter_question(session, moderator, live, channel="phone", name="Margaret",
                            text="Will the senior centre on Elm Street keep its funding?")
    services.highlight_question(session, moderator, q_housing)
    # Counted at the door, and again once the late arrivals sat down.
    services.set_head_count(session, moderator, live, 38)
    services.set_head_count(session, moderator, live, 46)

    services.create_townhall(
        session, official, title="Riverside park redesign",
        description="See the three designs for Riverside park and tell the planners what "
                    "matters to you.",
        starts_at=now + timedelta(days=7), ends_at=now + timedelta(days=7, hours=1, minutes=30),
        allow_anonymous=False)

    ended = services.create_townhall(
        session, official, title="Cycle lanes on Main Street",
        description="The transport team answered questions on the Main Street cycle lanes.",
        starts_at=now - timedelta(days=14), ends_at=now - timedelta(days=14) + timedelta(hours=1))
    services.set_status(session, official, ended, Status.LIVE)
    first = ask(session, rosa, ended, text="Will deliveries still be able to stop on Main "
                "Street?")
    second = ask(session, lee, ended, text="How will the lanes be kept clear of snow?")
    third = ask(session, noor, ended, text="When does construction start?")
    for question in (first, second, third):
        services.approve_question(session, moderator, question)
    services.set_upvote(session, sam, first, True)
    services.answer_question(session, moderator, first)
    services.answer_question(session, moderator, second, answer=(
        "The lanes are on the priority snow-clearing route, cleared with the main road."))
    services.set_head_count(session, moderator, ended, 27)
    services.set_head_count(session, moderator, ended, 31)
    services.record_online_peak(session, ended.id, 64)
    services.set_status(session, official, ended, Status.ENDED)
    # Held two weeks ago: its questions came in during the hour and were answered minutes later.
    ended.started_at, ended.ended_at = ended.starts_at, ended.ends_at
    for n, (question, minutes) in enumerate(((first, 9), (second, 23), (third, None))):
        question.created_at = ended.starts_at + timedelta(minutes=4 + 6 * n)
        question.approved_at = question.created_at + timedelta(minutes=1)
        if minutes is not None:
            question.answered_at = question.created_at + timedelta(minutes=minutes)
    for upvote in session.scalars(select(Upvote).where(Upvote.question_id == first.id)):
        upvote.created_at = first.created_at + timedelta(minutes=2)
    # Nobody is connected while seeding; the events stay in the log for later joins.
    take_events(session)
