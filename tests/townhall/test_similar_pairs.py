"""How well "Already asked?" tells a paraphrase from a look-alike, on labelled question pairs.

`similar_pairs.csv` holds realistic town-hall questions in English and Spanish: paraphrases of
one question (same = 1) and questions that share most of their words but ask something else
(same = 0: bus 12 and bus 40, opening later and opening earlier). The figures printed here are
the ones in the README.
"""

from __future__ import annotations

import csv
from pathlib import Path

from participation.townhall import similar

PAIRS = Path(__file__).with_name("similar_pairs.csv")


def load_pairs() -> list[tuple[str, str, str, bool]]:
    with PAIRS.open(encoding="utf-8", newline="") as handle:
        return [(row["language"], row["a"], row["b"], row["same"] == "1")
                for row in csv.DictReader(handle)]


def looks_the_same(a: str, b: str) -> bool:
    """What a resident writing `a` would be told of a public question `b`: the real path."""
    candidate = similar.Candidate(id=1, text=b, upvotes=0, status="approved", author_id=None,
                                  normalized=similar.normalize(b))
    return bool(similar.best_matches(similar.normalize(a), [candidate]))


def figures(pairs):
    said_same = [looks_the_same(a, b) for _lang, a, b, _same in pairs]
    true_positive = sum(1 for said, pair in zip(said_same, pairs, strict=True)
                        if said and pair[3])
    false_positive = sum(1 for said, pair in zip(said_same, pairs, strict=True)
                         if said and not pair[3])
    same = sum(1 for pair in pairs if pair[3])
    precision = true_positive / (true_positive + false_positive) if said_same.count(True) else 0
    return precision, true_positive / same


def test_the_labelled_set_is_large_and_in_both_languages():
    pairs = load_pairs()
    assert len(pairs) >= 80
    for language in ("en", "es"):
        labels = {same for lang, _a, _b, same in pairs if lang == language}
        assert labels == {True, False}


def test_precision_and_recall_at_the_chosen_threshold():
    pairs = load_pairs()
    precision, recall = figures(pairs)
    print(f"\nsimilar questions: {len(pairs)} labelled pairs, threshold {similar.THRESHOLD}: "
          f"precision {precision:.2f}, recall {recall:.2f}")
    for language in ("en", "es"):
        subset = [pair for pair in pairs if pair[0] == language]
        p, r = figures(subset)
        print(f"  {language}: {len(subset)} pairs, precision {p:.2f}, recall {r:.2f}")
    assert precision >= 0.9
    assert recall >= 0.7


def test_matching_without_normalizing_does_worse():
    """The normalization earns its place: raw texts at the same threshold miss more."""
    pairs = load_pairs()
    raw = sum(1 for _lang, a, b, same in pairs
              if same and similar.score(a.casefold(), b.casefold()) >= similar.THRESHOLD)
    _precision, recall = figures(pairs)
    assert raw / sum(1 for pair in pairs if pair[3]) < recall
