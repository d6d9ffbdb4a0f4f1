"""The BM25 tokeniser: exact entities, Chinese character bigrams, stemmed English words, numbers.

One function, `tokenize`, used for both stored memories and queries, so both sides always agree.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import snowballstemmer
from snowballstemmer.basestemmer import BaseStemmer

from .entities import Entity, find_entities

# Common English function words: articles, pronouns, auxiliaries, prepositions, conjunctions, wh-words.
# Negations ("not", "no", "never", "nor") are deliberately absent: in a memory store they carry the
# meaning of a preference ("doesn't eat meat" vs "eats meat"), and when they are common their idf is
# already low, so keeping them costs little and lets a negated query favour the negated memory.
# On LoCoMo dev, dropping them leaves recall@10 unchanged (0.651 either way).
_STOPWORD_GROUPS = (
    "a an the",  # articles
    "i me my mine myself we us our ours ourselves you your yours yourself yourselves",  # pronouns
    "he him his himself she her hers herself it its itself they them their theirs themselves",
    "this that these those there here",
    "am is are was were be been being have has had having do does did doing done",  # auxiliaries
    "will would shall should can could may might must ought",
    "of at by for with about against between into through during before after above below",  # prepositions
    "to from up down in out on off over under again further then once",
    "and but or if because as until while so than too very just also only own same such both",  # conjunctions
    "each few more most other some any all",
    "what which who whom whose when where why how",  # wh-words
)
STOPWORDS = frozenset(word for group in _STOPWORD_GROUPS for word in group.split())

EXACT_KINDS = ("ip", "path", "server")
_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff"
# A run is all-CJK, all-digits, or all-letters (any script but CJK); mixed runs split at the boundary.
_RUNS = re.compile(rf"[{_CJK_CLASS}]+|\d+|[^\W\d_{_CJK_CLASS}]+(?:'[^\W\d_{_CJK_CLASS}]+)*")
_CJK_RUN = re.compile(rf"[{_CJK_CLASS}]")
# Every exact kind needs one of these: an address or a server number a digit, a path a slash or a backslash.
# Most memories have none, and skipping `find_entities` for them is most of what tokenising costs.
_MAY_HOLD_EXACT = re.compile(r"[\d/\\]")
_CONTRACTION_ENDINGS = frozenset({"s", "t", "d", "ll", "m", "re", "ve"})
# Negated contractions whose first word is not what precedes "n't".
_IRREGULAR_NEGATIONS = {"can't": "can", "won't": "will", "shan't": "shall", "ain't": "be"}

_local = threading.local()


def _stemmer() -> BaseStemmer:
    # Snowball stemmer objects keep their working string on the instance, so each thread needs its own.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball English stem of one lowercased word."""
    return str(_stemmer().stemWord(word))


def cjk_bigrams(run: str) -> list[str]:
    """Overlapping character bigrams of a CJK run; a single character stays as itself."""
    if len(run) < 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def word_terms(word: str) -> list[str]:
    """Terms of one lowercased letter run: contractions split, stopwords dropped, the rest stemmed."""
    parts = word.split("'")
    if len(parts) > 1 and parts[-1] in _CONTRACTION_ENDINGS:
        ending = parts.pop()
        if word in _IRREGULAR_NEGATIONS:
            parts = [_IRREGULAR_NEGATIONS[word], "not"]
        elif ending == "t" and parts[-1].endswith("n"):  # don't, isn't, couldn't
            parts[-1:] = [parts[-1][:-1], "not"]
    return [stem(part) for part in parts if part and part not in STOPWORDS]


@lru_cache(maxsize=64)
def _exact(normalised: str) -> tuple[Entity, ...]:
    # Indexing reads a text's entities twice in a row (tokens, then the filter set): parse it once.
    if _MAY_HOLD_EXACT.search(normalised) is None:
        return ()
    return tuple(e for e in find_entities(normalised) if e.kind in EXACT_KINDS)


def filter_entities(text: str) -> frozenset[str]:
    """The exact entities BM25 filters on (IPv4, paths, server aliases), read from the normalised text."""
    return frozenset(e.value for e in _exact(normalise(text)))


def entity_tokens(normalised: str) -> list[str]:
    """Whole-entity tokens: each IPv4 address, each path, each server alias ("146服务器").

    The parts (octets, the server number, path words) come from the ordinary split, once each.
    """
    return [e.value.lower() for e in _exact(normalised)]


def normalise(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII) with typographic apostrophes made plain."""
    return unicodedata.normalize("NFKC", text).replace("\u2019", "'")


@lru_cache(maxsize=200_000)
def _run_terms(run: str) -> tuple[str, ...]:
    # Words recur far more than they are new: a letter or digit run's terms are worked out once.
    return (run,) if run.isdigit() else tuple(word_terms(run))


def tokenize(text: str) -> list[str]:
    """Tokens of text for BM25: whole entities first, then terms of each script run, in order."""
    text = normalise(text)
    tokens = entity_tokens(text)
    for run in _RUNS.findall(text.lower()):
        if _CJK_RUN.match(run):
            tokens.extend(cjk_bigrams(run))  # Chinese runs are mostly unique: not worth caching
        else:
            tokens.extend(_run_terms(run))
    return tokens
