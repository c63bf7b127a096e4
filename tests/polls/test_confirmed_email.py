"""Voting needs a confirmed address (CONFIRMED_EMAIL_REQUIRED_FOR, default `vote`), decided once
in security/permissions.py and so refused alike on the poll page's form, over the socket, in the
socket votes' group writer and in the service."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from participation.db import utcnow
from participation.errors import EmailNotConfirmed
from participation.extensions import db
from participation.polls import services
from participation.polls.ballot_batches import BallotWriter, PendingVote
from participation.polls.models import Ballot
from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role, can, held_back_by_email
from tests.conftest import csrf_token


def ballots_in(poll_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Ballot)
                             .where(Ballot.poll_id == poll_id)) or 0


def test_the_poll_page_says_an_unconfirmed_address_cannot_vote_and_offers_the_link(
        client_as, make_user, make_poll):
    poll = make_poll("single")
    client = client_as(user=make_user(confirmed=False))
    page = client.get(f"/polls/{poll.id}").get_data(as_text=True)
    assert "Confirm your email address to vote" in page
    assert 'action="/account/confirm/resend"' in page
    assert 'class="vote-form"' not in page
    confirmed = client_as(Role.RESIDENT).get(f"/polls/{poll.id}").get_data(as_text=True)
    assert 'class="vote-form"' in confirmed and "Confirm your email address" not in confirmed


def test_the_plain_form_refuses_an_unconfirmed_voter_and_shows_the_page_again(
        client_as, make_user, make_poll):
    poll = make_poll("single")
    client = client_as(user=make_user(confirmed=False))
    response = client.post(f"/polls/{poll.id}", data={
        "choice": str(poll.options[0].id), "csrf_token": csrf_token(client, f"/polls/{poll.id}")})
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Confirm your email address before you vote" in page
    assert 'action="/account/confirm/resend"' in page
    assert ballots_in(poll.id) == 0


def test_the_socket_vote_refuses_an_unconfirmed_voter_in_the_voters_language(
        app, client_as, make_user, socket_client, make_poll):
    poll = make_poll("single")
    voter = make_user(confirmed=False)
    voter.locale = "es"
    db.session.commit()
    sio = socket_client(client_as(user=voter))
    ack = sio.emit("vote", {"poll_id": poll.id, "choices": [poll.options[0].id]},
                   namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False and ack["error"] == "forbidden"
    assert "Confirme su dirección de correo antes de votar" in ack["message"]
    assert ballots_in(poll.id) == 0


def test_the_group_writer_refuses_an_unconfirmed_voter_alone(app, make_user, make_poll):
    poll = make_poll("single")
    poll_id, option = poll.id, poll.options[0].id
    unconfirmed, confirmed = make_user(confirmed=False), make_user()
    writer = BallotWriter(app)
    votes = [PendingVote(user_id=user.id, token=user.session_token, poll_id=poll_id,
                         choices=[option], client_id=None) for user in (unconfirmed, confirmed)]
    db.session.rollback()  # the writer needs SQLite's write lock
    writer._pending.extend(votes)
    writer._write(writer._take())
    assert isinstance(votes[0].outcome, EmailNotConfirmed)
    assert not isinstance(votes[1].outcome, Exception)
    assert ballots_in(poll_id) == 1


def test_confirming_the_address_lets_the_account_vote(make_user, make_poll):
    poll = make_poll("single")
    user = make_user(confirmed=False)
    with pytest.raises(EmailNotConfirmed):
        services.cast_ballot(db.session, user, poll.id, [poll.options[0].id])
    db.session.rollback()
    user.email_confirmed_at = utcnow()
    db.session.commit()
    services.cast_ballot(db.session, user, poll.id, [poll.options[0].id])
    db.session.commit()
    assert ballots_in(poll.id) == 1


def test_an_empty_setting_lets_unconfirmed_accounts_vote(make_app, make_user):
    app = make_app(CONFIRMED_EMAIL_REQUIRED_FOR="")
    with app.app_context():
        from participation.accounts.services import register_user

        user = register_user(db.session, email="late@example.test", display_name="Late",
                             password="correct horse battery staple")
        assert can(user, "poll.vote") and not held_back_by_email(user, "vote")


def test_the_setting_can_ask_a_confirmed_address_for_posting_too(make_app):
    app = make_app(CONFIRMED_EMAIL_REQUIRED_FOR="vote, post")
    with app.app_context():
        from participation.accounts.services import register_user
        from participation.security.permissions import require

        user = register_user(db.session, email="poster@example.test", display_name="Poster",
                             password="correct horse battery staple")
        assert not can(user, "forum.post") and can(user, "townhall.ask")
        with force_locale("en"), pytest.raises(EmailNotConfirmed) as refused:
            require(user, "forum.post")
        assert "before you post" in refused.value.message
