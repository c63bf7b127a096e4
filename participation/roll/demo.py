"""The demo's electoral roll: invented people (demo_roll.csv), some demo residents verified.

Rosa and Sam verified online (Riverside), Lee in person by the moderator (Old Town), the
moderator online (Old Town); Noor is on the roll but not verified, to try the account page with
D1000004N, born 1999-01-15, postcode 28041 (all invented)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from participation.demo import DemoAccounts
from participation.roll import services

DEMO_ROLL = Path(__file__).with_name("demo_roll.csv")
# Demo account key -> (line of demo_roll.csv, how it is verified).
VERIFIED = {"resident": (2, "online"), "resident2": (3, "online"),
            "resident3": (4, "in_person"), "moderator": (6, "online")}


def seed_roll(session: Session, accounts: DemoAccounts) -> None:
    key = accounts.roll_key
    if key is None:
        return
    with DEMO_ROLL.open("rb") as stream:
        report = services.import_roll(session, None, stream, key=key, source="demo")
    if not report.applied:
        raise RuntimeError("the demo roll does not import whole")
    lines = DEMO_ROLL.read_text(encoding="utf-8").splitlines()
    for person, (line, method) in VERIFIED.items():
        document_id, birth_date, postcode, _district = lines[line - 1].split(",")
        user = accounts.users[person]
        if method == "in_person":
            services.verify_in_person(session, accounts.users["moderator"], user, key=key,
                                      document_id=document_id, birth_date=birth_date,
                                      postcode=postcode)
        else:
            outcome = services.verify_online(session, user, key=key, document_id=document_id,
                                             birth_date=birth_date, postcode=postcode)
            if outcome.refusal is not None:
                raise RuntimeError("a demo resident is not on the demo roll")
