"""Counting ballots: plain functions over option ids and ballots, shared by the site and recounts.

Nothing here touches the database, so `participation recount` runs the very same code on an
export that the site ran on its own ballots. Every result is made of JSON types only (string
keys, ints, floats rounded once, None), so a result survives a round trip through an export and
compares equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

KINDS = ("single", "multiple", "ranked")

TIE_BREAK_RULE = (
    "When several options share the fewest votes in a round, the one with the fewest "
    "first-preference votes is eliminated; if they are still tied, the one drawn first in the "
    "poll's published draw is eliminated. The draw orders options by the SHA-256 digest of "
    "\"<seed>:<option id>\", smallest first, with the seed published when the poll was created."
)

Results = dict[str, Any]


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def draw_order(option_ids: Sequence[int], seed: str) -> list[int]:
    """The published draw: the option drawn first is eliminated first among exact ties."""
    return sorted(option_ids,
                  key=lambda option: hashlib.sha256(f"{seed}:{option}".encode()).hexdigest())


def count_marks(kind: str, option_ids: Sequence[int], ballots: Sequence[Sequence[int]]) -> Results:
    """Single or multiple (approval) choice: how many ballots marked each option."""
    counts = dict.fromkeys(option_ids, 0)
    for ballot in ballots:
        for option in set(ballot):
            counts[option] += 1
    total = len(ballots)
    return {
        "kind": kind,
        "ballots": total,
        "options": [{"id": option, "votes": counts[option],
                     "percent": percent(counts[option], total)} for option in option_ids],
        "leaders": _leaders(counts) if total else [],
    }


def _leaders(counts: dict[int, int]) -> list[int]:
    best = max(counts.values(), default=0)
    return [option for option, votes in counts.items() if votes == best and best > 0]


def instant_runoff(option_ids: Sequence[int], ballots: Sequence[Sequence[int]],
                   seed: str) -> Results:
    """Ranked choice by instant runoff, with every round published.

    Each round counts every ballot for its highest-ranked option still in the count; a ballot
    whose ranked options are all eliminated is exhausted. An option with more than half of the
    continuing ballots wins; otherwise the option with the fewest votes is eliminated (ties per
    TIE_BREAK_RULE) and its ballots transfer to their next continuing choice.
    """
    first_preferences = dict.fromkeys(option_ids, 0)
    for ballot in ballots:
        if ballot:
            first_preferences[ballot[0]] += 1
    draw_rank = {option: rank for rank, option in enumerate(draw_order(option_ids, seed))}
    continuing = list(option_ids)
    rounds: list[dict[str, Any]] = []
    winner: int | None = None
    while continuing:
        live = set(continuing)
        counts = dict.fromkeys(continuing, 0)
        exhausted = 0
        for ballot in ballots:
            top = next((option for option in ballot if option in live), None)
            if top is None:
                exhausted += 1
            else:
                counts[top] += 1
        active = len(ballots) - exhausted
        record: dict[str, Any] = {
            "round": len(rounds) + 1,
            "counts": [{"id": option, "votes": counts[option],
                        "percent": percent(counts[option], active)} for option in continuing],
            "continuing_ballots": active,
            "exhausted": exhausted,
            "eliminated": None,
            "tie_break": None,
            "transfers": [],
            "exhausted_by_transfer": 0,
        }
        rounds.append(record)
        leader = max(continuing, key=lambda option: counts[option])
        if not ballots:
            break
        if counts[leader] * 2 > active or len(continuing) == 1:
            winner = leader
            break
        fewest = min(counts.values())
        tied = [option for option in continuing if counts[option] == fewest]
        if len(tied) > 1:
            least_first = min(first_preferences[option] for option in tied)
            still_tied = [option for option in tied if first_preferences[option] == least_first]
            if len(still_tied) > 1:
                record["tie_break"] = "draw"
                tied = [min(still_tied, key=lambda option: draw_rank[option])]
            else:
                record["tie_break"] = "first_preferences"
                tied = still_tied
        eliminated = tied[0]
        record["eliminated"] = eliminated
        remaining = live - {eliminated}
        moved = dict.fromkeys((option for option in continuing if option != eliminated), 0)
        to_exhausted = 0
        for ballot in ballots:
            if next((option for option in ballot if option in live), None) != eliminated:
                continue
            following = next((option for option in ballot if option in remaining), None)
            if following is None:
                to_exhausted += 1
            else:
                moved[following] += 1
        record["transfers"] = [{"id": option, "votes": moved[option]} for option in moved]
        record["exhausted_by_transfer"] = to_exhausted
        continuing = [option for option in continuing if option != eliminated]
    return {
        "kind": "ranked",
        "ballots": len(ballots),
        "options": [{"id": option, "first_preferences": first_preferences[option],
                     "percent": percent(first_preferences[option], len(ballots))}
                    for option in option_ids],
        "rounds": rounds,
        "winner": winner,
    }


def count_ballots(kind: str, option_ids: Sequence[int], ballots: Sequence[Sequence[int]],
                  seed: str) -> Results:
    """The result of a poll of `kind` over `ballots` (lists of option ids)."""
    if kind == "ranked":
        return instant_runoff(option_ids, ballots, seed)
    if kind in ("single", "multiple"):
        return count_marks(kind, option_ids, ballots)
    raise ValueError(f"unknown poll kind {kind!r}")


# How a ballot reached the count (polls.models.Channel): online, or entered by a poll officer.
CHANNELS = ("online", "paper", "phone", "in_person")


def count_channels(channels: Sequence[str]) -> dict[str, int]:
    """How many ballots came by each channel, every channel named (zero when none came by it)."""
    counts = dict.fromkeys(CHANNELS, 0)
    for channel in channels:
        if channel not in counts:
            raise ValueError(f"unknown ballot channel {channel!r}")
        counts[channel] += 1
    return counts


def turnout_percent(ballots: int, electorate: int | None) -> float | None:
    """Ballots as a share of the electorate, in percent (None without an electorate)."""
    if electorate is None:
        return None
    return percent(ballots, electorate)


def receipt_fingerprint(receipt: str) -> str:
    """What an export shows for a ballot: lets its voter find it, reveals nobody."""
    return hashlib.sha256(f"participation-receipt:{receipt}".encode()).hexdigest()


def receipts_digest(fingerprints: Sequence[str]) -> str:
    """One digest over every ballot's receipt fingerprint, in sorted order."""
    return hashlib.sha256("\n".join(sorted(fingerprints)).encode()).hexdigest()


def check_ballot_shape(kind: str, option_ids: Sequence[int], max_choices: int | None,
                       choices: Sequence[int]) -> str | None:
    """Why `choices` is not a valid ballot, or None when it is."""
    if not choices:
        return "Choose at least one option."
    known = set(option_ids)
    if any(isinstance(c, bool) or not isinstance(c, int) or c not in known for c in choices):
        return "That is not one of this poll's options."
    if len(set(choices)) != len(choices):
        return ("Rank each option at most once." if kind == "ranked"
                else "Choose each option at most once.")
    if kind == "single" and len(choices) != 1:
        return "Choose exactly one option."
    if max_choices is not None and len(choices) > max_choices and kind != "single":
        return f"Choose at most {max_choices} options."
    return None
