""""Already asked?": which public questions of a town hall look like the one being written.

Texts are reduced to their content words before they are compared: case folded, accents and
punctuation gone, the stop words of English and Spanish left out, and each word cut to its
first letters ("repaired" and "repair", "arreglarán" and "arreglar" meet), so a paraphrase in
either language keeps the words that carry its meaning. The comparison itself is rapidfuzz's
`token_set_ratio` on those words, averaged with `token_sort_ratio` so that one question's words
being a subset of a much longer one's is not enough. `THRESHOLD` was chosen on the labelled
pairs in `tests/townhall/similar_pairs.csv` (README, "Already asked?").

What a town hall's public questions reduce to is kept per process and database, with the
town hall's event sequence number it is current at: every change the room can see (a question
approved, answered, merged, upvoted, taken back) moves that number and is in the event log under
its question, so a call reloads only the questions named since (all of them only after a long
gap), and while nothing changed it reduces only the text being written.
"""

from __future__ import annotations

import re
import threading
import unicodedata
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

# A score (0-100) at or above which two questions are taken to be the same; chosen on the
# labelled pairs (tests/townhall/test_similar_pairs.py prints precision and recall at it).
THRESHOLD = 90
# How many suggestions a resident sees, and how many content words a text needs first.
MAX_MATCHES = 3
MIN_WORDS = 2
# Each word is cut to this many letters: a light stemmer that treats both languages alike.
STEM_LENGTH = 5
# What a score is multiplied by when the two texts give different numbers.
NUMBER_MISMATCH = 0.8

STOP_WORDS = frozenset("""
a about above after again all also am an and any are aren as at be been being both but by can
could did do does doing done during each few for from further get getting go going gone had
has have having he her here hers him his i if in into is isn it its itself just let me more most
much my no nor not now of off on once only or other our ours out over own please same she should
so some such than that the their theirs them then there these they this those through to too
under until very was we were what whats when where which while who whom why will with would
you your yours there's what's it's we're isn't aren't don't doesn't didn't won't can't let's i'm
anything something thing things really still ever already yet maybe any kind lot lots how many
city town near along during next

al algo algun alguna algunas alguno algunos ante antes aqui asi aun aunque cada como con contra
cual cuales cuando cuanto cuanta cuantos cuantas de del desde donde dos el ella ellas ello ellos
en entre era eran es esa esas ese eso esos esta estaba estado estan estar estas este esto estos
fue fueron ha habia han has hay haya he la las le les lo los mas me mi mis mucho muchos muy nada
ni no nos nosotros o os otra otro otros para pero poco por porque que quien quienes se sea ser
si sido sin sobre solo son su sus tambien tan tanto te tener tiene tienen todo todos tu tus un
una unas uno unos usted ustedes va van vamos y ya yo puede pueden podria podrian pueda haber
habra hace hacer hacen ciudad hasta cerca junto durante tendra tendran todavia sigue siguen
puedo podemos
""".split())

_WORD = re.compile(r"[a-z0-9]+")


def normalize(text: str) -> str:
    """The content words of `text`, reduced as described above, in their order, one space apart."""
    return " ".join(_content_words(text))


def _content_words(text: str) -> Iterable[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = folded.replace("'", "").replace("\u2019", "")
    for word in _WORD.findall(folded):
        if word in STOP_WORDS or word.rstrip("s") in STOP_WORDS:
            continue
        yield _stem(word)


def _stem(word: str) -> str:
    if word.isdigit():
        return word
    if len(word) > 4 and word.endswith("es") and word[-3] not in "aeiou":
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:STEM_LENGTH]


def score(a: str, b: str) -> float:
    """How alike two normalized texts are, 0 to 100. Numbers name things (bus 12 is not bus
    40, 5th Street is not 6th), so two texts that each give numbers, and not the same ones,
    lose a fifth of their score."""
    if not a or not b:
        return 0.0
    value = (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 2
    numbers_a, numbers_b = _numbers(a), _numbers(b)
    if numbers_a and numbers_b and numbers_a != numbers_b:
        value *= NUMBER_MISMATCH
    return value


def _numbers(normalized: str) -> set[str]:
    return {word for word in normalized.split() if any(ch.isdigit() for ch in word)}


def is_searchable(normalized: str) -> bool:
    """A text says enough to be compared once it has MIN_WORDS content words."""
    return len(normalized.split()) >= MIN_WORDS


@dataclass(frozen=True)
class Candidate:
    """One public question as "Already asked?" shows it."""

    id: int
    text: str
    upvotes: int
    status: str
    author_id: int | None
    normalized: str
    sorted_words: str = ""

    def __post_init__(self) -> None:
        if not self.sorted_words:
            object.__setattr__(self, "sorted_words", sorted_words(self.normalized))

    def data(self) -> dict[str, object]:
        """What the `similar` ack carries of it."""
        return {"id": self.id, "text": self.text, "upvotes": self.upvotes, "status": self.status}


def best_matches(normalized: str, candidates: list[Candidate], *, limit: int = MAX_MATCHES,
                 threshold: float = THRESHOLD) -> list[tuple[Candidate, float]]:
    """The `limit` candidates scoring at least `threshold` against `normalized`, best first
    (ties: the more upvoted, then the older question).

    They are sifted first in C, by a plain ratio of their words in sorted order (which is
    `token_sort_ratio`, each candidate's words sorted once, when it is cached): `score`
    averages that with a ratio of at most 100, so a candidate under `2 * threshold - 100` on
    it cannot reach `threshold`, and only the few left are scored in full.
    """
    if not is_searchable(normalized) or not candidates:
        return []
    keys = [candidate.sorted_words for candidate in candidates]
    sifted = process.extract(sorted_words(normalized), keys, scorer=fuzz.ratio, processor=None,
                             score_cutoff=max(0.0, 2 * threshold - 100), limit=None)
    scored = [(candidates[index], score(normalized, candidates[index].normalized))
              for _key, _value, index in sifted]
    found = [(candidate, value) for candidate, value in scored if value >= threshold]
    found.sort(key=lambda item: (-item[1], -item[0].upvotes, item[0].id))
    return found[:limit]


def sorted_words(normalized: str) -> str:
    return " ".join(sorted(normalized.split()))


class CandidateCache:
    """Each town hall's public questions (id -> Candidate), reduced, as of one event sequence
    number. The services bring an entry up to date from the event log; this only keeps them."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[int, dict[int, Candidate], list[Candidate]]] = (
            OrderedDict())
        self._lock = threading.Lock()

    def get(self, townhall_id: int) -> tuple[int, dict[int, Candidate], list[Candidate]] | None:
        with self._lock:
            entry = self._entries.get(townhall_id)
            if entry is not None:
                self._entries.move_to_end(townhall_id)
            return entry

    def put(self, townhall_id: int, seq: int, candidates: dict[int, Candidate]) -> list[Candidate]:
        """Keep `candidates` as the town hall's list at `seq`; returns them as a list."""
        listed = list(candidates.values())
        with self._lock:
            self._entries[townhall_id] = (seq, candidates, listed)
            self._entries.move_to_end(townhall_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return listed


_caches: weakref.WeakKeyDictionary[Any, CandidateCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def candidate_cache(bind: Any) -> CandidateCache:
    """The cache for one database (its engine): town-hall ids and sequence numbers are only
    unique within one."""
    with _caches_lock:
        cache = _caches.get(bind)
        if cache is None:
            cache = _caches[bind] = CandidateCache()
        return cache
