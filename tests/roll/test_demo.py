"""The demo's roll: imported whole, with demo residents verified online and in person."""

from __future__ import annotations

from sqlalchemy import func, select

from participation.accounts.models import AuditEntry
from participation.demo import seed_demo
from participation.roll import services
from participation.roll.demo import DEMO_ROLL
from participation.roll.models import RollEntry


def test_the_demo_seeds_a_roll_and_verified_residents(app, session):
    accounts = seed_demo(session, password="demo password 123")
    people = DEMO_ROLL.read_text(encoding="utf-8").splitlines()[1:]
    assert session.scalar(select(func.count()).select_from(RollEntry)) == len(people)
    standings = {key: services.standing_of(session, user)
                 for key, user in accounts.users.items()}
    assert standings["resident"].district == "Riverside"
    assert standings["resident3"].method == "in_person"
    assert standings["resident4"] is None
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "roll.verify_in_person")) == 1
    # Noor may try the account page with her (invented) line of the demo roll.
    document_id, birth_date, postcode, _ = people[3].split(",")
    outcome = services.verify_online(session, accounts.users["resident4"],
                                     key=services.roll_key(app.config), document_id=document_id,
                                     birth_date=birth_date, postcode=postcode)
    assert outcome.refusal is None
