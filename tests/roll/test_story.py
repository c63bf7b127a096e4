"""The whole way, as a city would go: the admin uploads the roll, a resident verifies on the
account page and votes in a poll for verified residents of her district; her second account
cannot verify; once she deletes the first, a new account verifies but cannot vote again."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select

from participation.accounts import services as accounts
from participation.db import utcnow
from participation.forums import services as forums
from participation.polls import services as polls
from participation.polls.models import Ballot
from tests.conftest import PASSWORD, csrf_token
from tests.roll.helpers import HEADER, person


def test_from_the_uploaded_roll_to_one_ballot_per_person(app, session, client_as, make_user):
    her, neighbour = person(1, "Riverside"), person(2, "Hillcrest")
    admin = client_as("admin")
    content = ("\n".join([HEADER, ",".join(her), ",".join(neighbour)]) + "\n").encode()
    response = admin.post("/admin/roll", data={
        "file": (io.BytesIO(content), "roll.csv"), "csrf_token": csrf_token(admin, "/admin/roll")},
        content_type="multipart/form-data")
    assert response.status_code == 200
    official = make_user("official")
    topic = forums.create_topic(session, official, title="Parks", description="Parks.")
    poll = polls.create_poll(session, official, question="A new park bench?",
                             options=["Yes", "No"], kind="single", results_mode="live",
                             opens_at=utcnow() - timedelta(minutes=1), topic_id=topic.id,
                             eligibility="verified", eligible_districts=["Riverside"])
    session.commit()

    first = client_as()
    poll_page = f"/polls/{poll.id}"
    assert first.post(poll_page, data={"choice": str(poll.options[0].id),
                                       "csrf_token": csrf_token(first, poll_page)}
                      ).status_code != 302
    verify = f"/account/verification?next={poll_page}"
    answer = first.post(verify, data={
        "document_id": her[0], "birth_date": her[1], "postcode": her[2],
        "csrf_token": csrf_token(first, verify)})
    assert answer.status_code == 302 and answer.headers["Location"] == poll_page
    assert first.post(poll_page, data={"choice": str(poll.options[0].id),
                                       "csrf_token": csrf_token(first, poll_page)}
                      ).status_code == 302

    second = client_as()
    refused = second.post("/account/verification", data={
        "document_id": her[0], "birth_date": her[1], "postcode": her[2],
        "csrf_token": csrf_token(second, "/account/verification")})
    assert refused.status_code == 400 and "service desk" in refused.get_data(as_text=True)

    accounts.delete_account(session, first.user, password=PASSWORD)
    session.commit()
    third = client_as()
    assert third.post("/account/verification", data={
        "document_id": her[0], "birth_date": her[1], "postcode": her[2],
        "csrf_token": csrf_token(third, "/account/verification")}).status_code == 302
    third.post(poll_page, data={"choice": str(poll.options[1].id),
                                "csrf_token": csrf_token(third, poll_page)})
    session.rollback()
    ballots = session.scalars(select(Ballot).where(Ballot.poll_id == poll.id)).all()
    assert len(ballots) == 1 and ballots[0].choices == [poll.options[0].id]
