"""The demo gives the numbers page something to show: several months of activity, official
forum responses after a delay, questions answered some minutes after they were asked, and
commitments in every finished state, while its chain still verifies."""

from __future__ import annotations

from participation.decisions import services as decisions
from participation.decisions.verify import verify_export
from participation.demo import seed_demo
from participation.extensions import db
from participation.numbers import services


def test_the_demo_has_months_of_history_official_responses_and_kept_commitments(app):
    seed_demo(db.session, password="demo password 123")
    db.session.commit()
    period = services.parse_period(db.session, None, None)
    assert len(period.months) == 12
    found = services.numbers(db.session, period)

    busy = [m for m, figures in found.months.items() if figures.participants]
    assert len(busy) >= 4, found.months
    assert sum(1 for figures in found.months.values() if figures.new_accounts) >= 3

    total = found.total
    assert total.threads_answered >= 2
    assert total.threads > total.threads_answered  # one thread still awaits a response
    assert total.median_seconds_to_response is not None
    assert total.median_seconds_to_response > 3600  # hours, not the moment of seeding
    assert total.questions.median_seconds_to_answer is not None
    assert total.questions.median_seconds_to_answer > 0
    assert total.commitments["done_on_time"] >= 1
    assert total.commitments["done_late"] >= 1
    assert total.commitments["overdue"] >= 1
    assert total.decisions >= 3

    assert verify_export(decisions.export_chain(db.session)).ok
