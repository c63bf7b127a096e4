"""Property: whatever the ballots, recounting a closed poll's export gives its published result."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from participation.extensions import db
from participation.polls import services
from tests.polls.conftest import close

VOTERS = 8

ballot_plans = st.sampled_from(["single", "multiple", "ranked"]).flatmap(
    lambda kind: st.tuples(
        st.just(kind),
        st.integers(min_value=2, max_value=5),
        st.lists(st.permutations(range(5)).flatmap(
            lambda order: st.integers(min_value=1, max_value=5).map(
                lambda k: list(order[:k]))), max_size=VOTERS),
    )
)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=ballot_plans)
def test_recounting_an_export_gives_the_published_result(make_poll, voters, plan):
    kind, option_count, rankings = plan
    people = voters(len(rankings))
    poll = make_poll(kind, options=[f"Option {n}" for n in range(option_count)])
    ids = [option.id for option in poll.options]
    for person, ranking in zip(people, rankings, strict=True):
        choices = [ids[i] for i in ranking if i < option_count]
        if kind == "single":
            choices = choices[:1]
        if not choices:
            continue
        services.cast_ballot(db.session, person, poll.id, choices)
        db.session.commit()
    close(poll)
    export = json.loads(json.dumps(services.export_poll(db.session, None, poll)))
    report = services.recount_export(export)
    assert report.matches, report.problems
    assert report.results == services.poll_results(db.session, None, poll)
    assert export["results"]["ballots"] == len(export["ballots"])
