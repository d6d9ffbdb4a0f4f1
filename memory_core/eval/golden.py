"""Golden retrieval queries: the file format, and the scores of what recall would inject (pure functions).

A golden file is JSONL (one query a line) or JSON ``{"queries": [...]}``. Each query has ``query``, the
memories that answer it (``expected_ids`` and/or ``expected_texts``) or ``unanswerable: true`` (nothing should
be injected), and optionally ``id``, ``lang`` and ``kind``. A memory is an expected text when the two texts,
stripped and casefolded, are equal or the expected text is contained in the memory's.

Each query is searched once per method, deep and with no threshold (a `MethodRun`); every k and threshold
point is then computed from those hits, never by searching again. A hit is injected at (k, threshold) when it
is in the top k and scores strictly above the threshold, as in a chat turn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..models import MAX_TEXT_LENGTH, check_text
from ..tuning import Tuning

K_VALUES = (1, 3, 5, 10)
MAX_QUERIES = 2_000
SWEEP_STEPS = 20  # thresholds per method: 0..1 in steps of 0.05, or BM25's score quantiles in 5% steps
_OPTIONAL_TEXT = ("lang", "kind")


@dataclass(frozen=True)
class GoldenQuery:
    """One query and what should be injected for it (nothing, when unanswerable)."""

    id: str
    query: str
    expected_ids: tuple[str, ...] = ()
    expected_texts: tuple[str, ...] = ()
    unanswerable: bool = False
    lang: str = ""
    kind: str = ""

    @property
    def expected(self) -> tuple[str, ...]:
        """Each expected memory once: its id, or its text."""
        return (*self.expected_ids, *self.expected_texts)


# The file format


def read_golden(path: str | Path) -> tuple[GoldenQuery, ...]:
    """Read and check a golden file; any problem is an InvalidInputError naming its line."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read golden file {file.name}: {exc}") from None
    return parse_golden(text, filename=file.name)


def parse_golden(text: str, *, filename: str = "golden file") -> tuple[GoldenQuery, ...]:
    """Every row checked before anything runs: JSON ``{"queries": [...]}``, else JSONL."""
    rows = _json_rows(text, filename)
    if rows is None:
        rows = list(_jsonl_rows(text, filename))
    if not rows:
        raise InvalidInputError(f'{filename}: no queries (one JSON object a line, or {{"queries": [...]}})')
    if len(rows) > MAX_QUERIES:
        raise InvalidInputError(f"{filename}: {len(rows)} queries; at most {MAX_QUERIES:,} per file")
    queries = tuple(_query(row, where, n) for n, (where, row) in enumerate(rows, start=1))
    _check_unique_ids(queries, [where for where, _ in rows])
    return queries


def _json_rows(text: str, filename: str) -> list[tuple[str, Any]] | None:
    """The rows of the JSON form, or None when the text is not that form (so it is read as JSONL)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, Mapping) or "query" in data:
        return None
    queries = data.get("queries")
    if not isinstance(queries, list):
        raise InvalidInputError(f'{filename}: expected {{"queries": [...]}} or one query a line')
    return [(f"{filename}: query {n}", row) for n, row in enumerate(queries, start=1)]


def _jsonl_rows(text: str, filename: str) -> Iterable[tuple[str, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{filename}: line {number}", json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{filename}: line {number}: not JSON ({exc.msg})") from None


def _query(row: Any, where: str, n: int) -> GoldenQuery:
    if not isinstance(row, Mapping):
        raise InvalidInputError(f"{where}: each query must be a JSON object")
    query = row.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError(f"{where}: 'query' is missing or empty")
    check_text(query, what=f"{where}: 'query'", max_length=MAX_TEXT_LENGTH)
    ids, texts = _strings(row, "expected_ids", where), _strings(row, "expected_texts", where)
    unanswerable = row.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise InvalidInputError(f"{where}: 'unanswerable' must be true or false")
    if unanswerable and (ids or texts):
        raise InvalidInputError(f"{where}: an unanswerable query cannot also expect memories")
    if not (unanswerable or ids or texts):
        raise InvalidInputError(f"{where}: give 'expected_ids' or 'expected_texts', or mark it 'unanswerable': true")
    extra = {key: _optional_text(row, key, where) for key in _OPTIONAL_TEXT}
    return GoldenQuery(_query_id(row, where, n), query, ids, texts, unanswerable, **extra)


def _strings(row: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = row.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise InvalidInputError(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(check_text(v.strip(), what=f"{where}: '{key}'", max_length=MAX_TEXT_LENGTH) for v in values)


def _optional_text(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key, "")
    if not isinstance(value, str):
        raise InvalidInputError(f"{where}: '{key}' must be a string")
    return value.strip()


def _query_id(row: Mapping[str, Any], where: str, n: int) -> str:
    value = row.get("id", "")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInputError(f"{where}: 'id' must be a string or a number")
    return str(value).strip() or f"q{n}"


def _check_unique_ids(queries: Sequence[GoldenQuery], places: Sequence[str]) -> None:
    seen: set[str] = set()
    for query, where in zip(queries, places, strict=True):
        if query.id in seen:
            raise InvalidInputError(f"{where}: id {query.id!r} is used twice")
        seen.add(query.id)


# What one method found


@dataclass(frozen=True)
class Hit:
    """A memory a search returned, reduced to what scoring needs."""

    id: str
    text: str
    score: float


@dataclass(frozen=True)
class QueryRun:
    """One query's hits by one method, best first; which hits are expected, and where each expected one is."""

    query: GoldenQuery
    hits: tuple[Hit, ...]
    relevant: tuple[bool, ...]  # per hit: it is one of the expected memories
    found_at: tuple[int | None, ...]  # per expected memory: the position of its first hit, if any


@dataclass(frozen=True)
class MethodRun:
    method: str
    runs: tuple[QueryRun, ...]


def text_matches(expected: str, memory: str) -> bool:
    """Equal once stripped and casefolded, or the expected text is contained in the memory's."""
    wanted = expected.strip().casefold()
    return bool(wanted) and wanted in memory.strip().casefold()


def query_run(query: GoldenQuery, hits: Sequence[Hit]) -> QueryRun:
    """Match the hits against the query's expected memories once, for every k and threshold after."""
    matched = [_matched(query, hit) for hit in hits]
    found_at = tuple(next((p for p, m in enumerate(matched) if e in m), None) for e in range(len(query.expected)))
    return QueryRun(query, tuple(hits), tuple(bool(m) for m in matched), found_at)


def _matched(query: GoldenQuery, hit: Hit) -> frozenset[int]:
    """The indices (into `query.expected`) of the expected memories this hit is."""
    by_id = {n for n, wanted in enumerate(query.expected_ids) if wanted == hit.id}
    offset = len(query.expected_ids)
    by_text = {offset + n for n, wanted in enumerate(query.expected_texts) if text_matches(wanted, hit.text)}
    return frozenset(by_id | by_text)


def injected(run: QueryRun, k: int, threshold: float) -> list[int]:
    """Positions of the hits that would be injected: in the top k and strictly above the threshold."""
    return [p for p, hit in enumerate(run.hits[:k]) if hit.score > threshold]


# Scores at one k and threshold


@dataclass(frozen=True)
class Scores:
    """One method at one k and threshold. A share whose denominator is 0 is None."""

    method: str
    k: int
    threshold: float
    queries: int
    answerable: int
    unanswerable: int
    recall: float | None  # answerable queries with at least one expected memory injected
    found: float | None  # mean share of each answerable query's expected memories injected
    precision: float | None  # injected hits that are expected, over every injected hit (all queries)
    false_injection_rate: float | None  # unanswerable queries with anything injected
    injected: int


def score_method(method_run: MethodRun, k: int, threshold: float) -> Scores:
    """recall@k, the share of expected found, precision of what is injected and the false injection rate."""
    pairs = [(run, injected(run, k, threshold)) for run in method_run.runs]
    answerable = [(run, shown) for run, shown in pairs if not run.query.unanswerable]
    unanswerable = [shown for run, shown in pairs if run.query.unanswerable]
    recalled = [_share_found(run, shown) for run, shown in answerable]
    relevant = sum(run.relevant[p] for run, shown in pairs for p in shown)
    total = sum(len(shown) for _, shown in pairs)
    return Scores(method_run.method, k, threshold, len(pairs), len(answerable), len(unanswerable),
                  _share(sum(share > 0 for share in recalled), len(answerable)), _mean(recalled),
                  _share(relevant, total), _share(sum(bool(shown) for shown in unanswerable), len(unanswerable)),
                  total)  # fmt: skip


def _share_found(run: QueryRun, shown: Sequence[int]) -> float:
    found = sum(p is not None and p in shown for p in run.found_at)
    return found / len(run.found_at)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Miss:
    """An expected memory that was not injected, or an unanswerable query that injected something."""

    method: str
    query_id: str
    query: str
    expected: str  # the expected id or text; empty for an unanswerable query
    why: str
    rank: int | None  # where the expected memory (or, for a false injection, the top hit) ranked
    score: float | None  # its score
    top_score: float | None  # the query's best score, injected or not
    text: str  # the memory's text, when it was found


def misses(method_run: MethodRun, k: int, threshold: float) -> tuple[Miss, ...]:
    """Every expected memory not injected at (k, threshold), and every false injection, in file order."""
    found: list[Miss] = []
    for run in method_run.runs:
        shown = injected(run, k, threshold)
        if run.query.unanswerable:
            found += [_false_injection(method_run.method, run, shown, threshold)] if shown else []
            continue
        found += [_miss(method_run.method, run, n, k, threshold) for n, p in enumerate(run.found_at)
                  if p is None or p not in shown]  # fmt: skip
    return tuple(found)


def _miss(method: str, run: QueryRun, n: int, k: int, threshold: float) -> Miss:
    position = run.found_at[n]
    hit = run.hits[position] if position is not None else None
    if hit is None or position is None:
        why = f"not among the {len(run.hits)} hits searched" if run.hits else "nothing was found at all"
    elif position >= k:
        why = f"ranked {position + 1}, below the top {k}"
    else:
        unmatched = " (nothing matched)" if hit.score <= 0 else ""
        why = f"score {hit.score:.3g} is not above the threshold {threshold:g}{unmatched}"
    return Miss(method, run.query.id, run.query.query, run.query.expected[n], why,
                None if position is None else position + 1, hit.score if hit else None, _top_score(run),
                hit.text if hit else "")  # fmt: skip


def _false_injection(method: str, run: QueryRun, shown: Sequence[int], threshold: float) -> Miss:
    top = run.hits[shown[0]]
    why = f"unanswerable, but {len(shown)} injected above the threshold {threshold:g}"
    return Miss(method, run.query.id, run.query.query, "", why, shown[0] + 1, top.score, _top_score(run), top.text)


def _top_score(run: QueryRun) -> float | None:
    return run.hits[0].score if run.hits else None


# The threshold and top-k sweep


@dataclass(frozen=True)
class SweepPoint:
    method: str
    k: int
    threshold: float
    recall: float | None
    precision: float | None
    false_injection_rate: float | None


def thresholds_for(method_run: MethodRun, current: float, steps: int = SWEEP_STEPS) -> tuple[float, ...]:
    """Fused and dense scores live on 0..1: even steps there. BM25's are raw: 0 and the quantiles of the scores
    it gave the memories it matched. The current threshold is always one of the points."""
    if method_run.method != "bm25":
        grid = np.linspace(0.0, 1.0, steps + 1)
    else:
        scores = np.array([hit.score for run in method_run.runs for hit in run.hits], dtype=np.float64)
        matched = scores[scores > 0]
        quantiles = np.quantile(matched, np.linspace(0.0, 1.0, steps + 1)) if matched.size else np.zeros(0)
        grid = np.concatenate(([0.0], quantiles))
    return tuple(sorted({round(float(t), 6) for t in grid} | {current}))


def sweep(method_run: MethodRun, thresholds: Sequence[float], ks: Sequence[int] = K_VALUES) -> tuple[SweepPoint, ...]:
    """recall, precision and false injections at every k and threshold, from the hits already found."""
    points = []
    for k in ks:
        for threshold in thresholds:
            s = score_method(method_run, k, threshold)
            points.append(SweepPoint(s.method, k, threshold, s.recall, s.precision, s.false_injection_rate))
    return tuple(points)


# All methods together


def current_threshold(method: str, tuning: Tuning) -> float:
    """The threshold a chat turn holds this method's hits to: BM25's min score, or the fused/dense one."""
    return tuning.recall_min_score if method == "bm25" else tuning.fusion_min_score


@dataclass(frozen=True)
class GoldenReport:
    """Every method's scores at the session's k and threshold, its misses there, and the sweep."""

    k: int
    scores: tuple[Scores, ...]
    misses: tuple[Miss, ...]
    sweep: tuple[SweepPoint, ...]


def golden_report(runs: Sequence[MethodRun], *, k: int, tuning: Tuning, ks: Sequence[int] = K_VALUES) -> GoldenReport:
    """Score each method's run at (k, its current threshold), and sweep thresholds at each k of ``ks`` and k."""
    every_k = tuple(sorted({*ks, k}))
    scores: list[Scores] = []
    missed: list[Miss] = []
    points: list[SweepPoint] = []
    for method_run in runs:
        current = current_threshold(method_run.method, tuning)
        scores.append(score_method(method_run, k, current))
        missed += misses(method_run, k, current)
        points += sweep(method_run, thresholds_for(method_run, current), every_k)
    return GoldenReport(k, tuple(scores), tuple(missed), tuple(points))


def report_dict(report: GoldenReport) -> dict[str, Any]:
    """The report as JSON-ready data, shares rounded to 4 places."""
    return {
        "k": report.k,
        "by_method": {s.method: _rounded(vars(s)) for s in report.scores},
        "misses": [_rounded(vars(m)) for m in report.misses],
        "sweep": [_rounded(vars(p)) for p in report.sweep],
    }


def _rounded(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: round(v, 4) if isinstance(v, float) else v for key, v in values.items()}
