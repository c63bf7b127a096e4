"""Counting against hand-worked elections, and properties every count must have."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from participation.polls.counting import (
    check_ballot_shape,
    count_ballots,
    count_marks,
    draw_order,
    instant_runoff,
)

A, B, C, D = 1, 2, 3, 4


def counts(round_):
    return {item["id"]: item["votes"] for item in round_["counts"]}


def test_majority_in_round_one_ends_the_count():
    ballots = [[A], [A, B], [A, C], [B], [C, B]]
    result = instant_runoff([A, B, C], ballots, "seed")
    assert result["winner"] == A
    assert len(result["rounds"]) == 1
    assert counts(result["rounds"][0]) == {A: 3, B: 1, C: 1}
    assert result["rounds"][0]["eliminated"] is None


def test_eliminations_transfer_ballots_and_exhaust_those_with_no_next_choice():
    ballots = [[A, B]] * 4 + [[B, A]] * 3 + [[C, B]] * 2 + [[D]]
    result = instant_runoff([A, B, C, D], ballots, "seed")
    first, second, third = result["rounds"]
    assert counts(first) == {A: 4, B: 3, C: 2, D: 1}
    assert first["eliminated"] == D and first["tie_break"] is None
    assert first["exhausted_by_transfer"] == 1
    assert all(item["votes"] == 0 for item in first["transfers"])
    assert counts(second) == {A: 4, B: 3, C: 2}
    assert second["exhausted"] == 1 and second["continuing_ballots"] == 9
    assert second["eliminated"] == C
    assert {item["id"]: item["votes"] for item in second["transfers"]} == {A: 0, B: 2}
    assert counts(third) == {A: 4, B: 5}
    assert result["winner"] == B
    assert [o["first_preferences"] for o in result["options"]] == [4, 3, 2, 1]


def test_tie_for_last_place_goes_to_fewest_first_preferences():
    ballots = [[A]] * 5 + [[B]] * 4 + [[C]] * 3 + [[D, C]]
    result = instant_runoff([A, B, C, D], ballots, "seed")
    assert result["rounds"][0]["eliminated"] == D
    second = result["rounds"][1]
    assert counts(second) == {A: 5, B: 4, C: 4}
    # B and C are tied on 4; C had 3 first preferences to B's 4.
    assert second["eliminated"] == C and second["tie_break"] == "first_preferences"
    assert second["exhausted_by_transfer"] == 4
    third = result["rounds"][2]
    assert counts(third) == {A: 5, B: 4} and third["exhausted"] == 4
    assert result["winner"] == A


def test_exact_tie_is_broken_by_the_published_seeded_draw():
    ballots = [[A], [A], [B], [C]]
    seeds = {}
    for seed in ("alpha", "beta", "gamma", "delta", "epsilon"):
        order = draw_order([A, B, C], seed)
        expected = min((B, C), key=order.index)
        result = instant_runoff([A, B, C], ballots, seed)
        assert result["rounds"][0]["eliminated"] == expected
        assert result["rounds"][0]["tie_break"] == "draw"
        seeds[seed] = expected
    # The draw depends on the seed, so it really is a draw and not a fixed order.
    assert len(set(seeds.values())) == 2


def test_two_way_tie_with_nothing_else_to_separate_them_is_decided_by_the_draw():
    result = instant_runoff([A, B], [[A], [B]], "s")
    eliminated = result["rounds"][0]["eliminated"]
    assert eliminated == draw_order([A, B], "s")[0]
    assert result["winner"] == ({A, B} - {eliminated}).pop()
    assert counts(result["rounds"][1]) == {result["winner"]: 1}


def test_no_ballots_means_no_winner():
    result = instant_runoff([A, B], [], "s")
    assert result["winner"] is None
    assert len(result["rounds"]) == 1 and result["rounds"][0]["continuing_ballots"] == 0


def test_approval_counts_each_chosen_option_once_per_ballot():
    result = count_marks("multiple", [A, B, C], [[A, B], [B], [B, C]])
    assert [(o["id"], o["votes"], o["percent"]) for o in result["options"]] == [
        (A, 1, 33.3), (B, 3, 100.0), (C, 1, 33.3)]
    assert result["leaders"] == [B]


def test_single_choice_ties_show_every_leader():
    result = count_ballots("single", [A, B, C], [[A], [B]], "s")
    assert result["leaders"] == [A, B]
    assert result["ballots"] == 2


def test_ballot_shapes_are_checked():
    assert check_ballot_shape("single", [A, B], None, []) == "Choose at least one option."
    assert "exactly one" in check_ballot_shape("single", [A, B], None, [A, B])
    assert "not one of" in check_ballot_shape("single", [A, B], None, [9])
    assert "not one of" in check_ballot_shape("single", [A, B], None, [True])
    assert "at most once" in check_ballot_shape("ranked", [A, B], None, [A, A])
    assert "at most 1" in check_ballot_shape("multiple", [A, B, C], 1, [A, B])
    assert check_ballot_shape("ranked", [A, B, C], None, [C, A]) is None


ballots_strategy = st.integers(min_value=2, max_value=6).flatmap(
    lambda n: st.tuples(
        st.just(list(range(1, n + 1))),
        st.lists(st.permutations(list(range(1, n + 1))).flatmap(
            lambda perm: st.integers(min_value=1, max_value=len(perm)).map(
                lambda k: list(perm[:k]))), max_size=40),
        st.text(min_size=1, max_size=8),
    )
)


@settings(max_examples=200, deadline=None)
@given(ballots_strategy)
def test_every_round_counts_exactly_the_ballots_not_yet_exhausted(data):
    options, ballots, seed = data
    result = instant_runoff(options, ballots, seed)
    previous_exhausted = 0
    for round_ in result["rounds"]:
        assert sum(item["votes"] for item in round_["counts"]) == round_["continuing_ballots"]
        assert round_["continuing_ballots"] + round_["exhausted"] == len(ballots)
        assert round_["exhausted"] >= previous_exhausted
        previous_exhausted = round_["exhausted"]
    for before, after in zip(result["rounds"], result["rounds"][1:], strict=False):
        # What the eliminated option held moves on: to others or to the exhausted pile.
        held = counts(before)[before["eliminated"]]
        moved = sum(item["votes"] for item in before["transfers"])
        assert held == moved + before["exhausted_by_transfer"]
        assert after["exhausted"] == before["exhausted"] + before["exhausted_by_transfer"]
        for option, votes in counts(after).items():
            gained = next(t["votes"] for t in before["transfers"] if t["id"] == option)
            assert votes == counts(before)[option] + gained
    if ballots:
        final = result["rounds"][-1]
        assert result["winner"] is not None
        assert (counts(final)[result["winner"]] * 2 > final["continuing_ballots"]
                or len(final["counts"]) == 1)
    assert instant_runoff(options, ballots, seed) == result
