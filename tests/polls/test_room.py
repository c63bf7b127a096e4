"""A room on one address: a meeting's residents on one Wi-Fi sign in and vote, while guessing at
one account is stopped without stopping anyone else (the limits as configured by default)."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from participation.extensions import db, limiter
from participation.polls.models import Ballot
from tests.conftest import PASSWORD, PG_URL, REDIS_URL

ROOM = 300
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _token(client, path: str) -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def test_a_room_of_300_on_one_address_signs_in_and_votes_while_one_account_is_guessed_at(
        app: Flask, backend, make_user, make_poll):
    """Runs once: on PostgreSQL, where the limits are counted in Redis as past one machine,
    when those are configured, else on SQLite with in-memory limits."""
    if backend == "sqlite" and PG_URL and REDIS_URL:
        pytest.skip("runs once, on PostgreSQL with Redis-backed limits")
    poll = make_poll("single")
    choice = str(poll.options[0].id)
    residents = [make_user(email=f"room{n}@example.test") for n in range(ROOM)]
    target = make_user(email="target@example.test")

    # Someone in the room tries 30 passwords on one account.
    guesser = app.test_client()
    token = _token(guesser, "/login")
    guesses = [guesser.post("/login", data={"email": target.email, "password": f"guess {n}",
                                            "csrf_token": token}).status_code
               for n in range(30)]
    assert set(guesses) <= {400, 429} and guesses.count(400) == 5 and guesses[-1] == 429
    # The right password too waits for the window to pass on that account...
    owner = app.test_client()
    assert owner.post("/login", data={"email": target.email, "password": PASSWORD,
                                      "csrf_token": _token(owner, "/login")}).status_code == 429

    # ...while everyone else in the room, on the same address, signs in and votes.
    for resident in residents:
        client = app.test_client()
        token = _token(client, "/login")
        signed_in = client.post("/login", data={"email": resident.email, "password": PASSWORD,
                                                "csrf_token": token})
        assert signed_in.status_code == 302, resident.email
        voted = client.post(f"/polls/{poll.id}", data={"choice": choice, "csrf_token": token})
        assert voted.status_code == 302, resident.email
    db.session.rollback()
    assert db.session.query(Ballot).filter_by(poll_id=poll.id).count() == ROOM

    # Once the window has passed (here: its counters cleared), the owner signs in.
    limiter.reset()
    owner = app.test_client()
    assert owner.post("/login", data={"email": target.email, "password": PASSWORD,
                                      "csrf_token": _token(owner, "/login")}).status_code == 302
