"""Recall decisions across modes: one message side by side, or a labelled batch scored per mode.

The console's Compare tab only formats what these functions return.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, NamedTuple

from ..decide.decider import MODES, Decider, RecallDecision
from ..errors import InvalidInputError
from ..models import Scope, TaughtExample
from ..recall.lexical import Retriever, ScoredMemory
from ..tuning import Tuning
from .metrics import BinaryScores, binary_scores, percentile

MAX_MESSAGES = 5000
COMPARED_FIELDS = ("should_recall", "reason", "query", "decided_by", "categories", "hits")
LABEL_COLUMNS = ("should_recall", "expected", "label")
METRIC_COLUMNS = ("mode", "n", "accuracy", "precision", "recall", "f1", "fallbacks", "p50_us")
CONFUSION_COLUMNS = ("mode", "tp", "fp", "tn", "fn")
_CSV_LABELS: dict[str, bool] = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _checked_modes(modes: Sequence[str]) -> tuple[str, ...]:
    chosen = (modes,) if isinstance(modes, str) else tuple(modes)
    if not chosen:
        raise InvalidInputError("choose at least one decision mode")
    unknown = [mode for mode in chosen if mode not in MODES]
    if unknown:
        raise InvalidInputError(f"decision modes must be among {', '.join(MODES)}, got {', '.join(map(repr, unknown))}")
    if len(set(chosen)) != len(chosen):
        raise InvalidInputError("each decision mode may be chosen once")
    return chosen


# One message, several modes


@dataclass(frozen=True)
class ModeOutcome:
    """One mode's decision on a message, what it recalled, and how long deciding and searching took."""

    mode: str
    decision: RecallDecision
    hits: tuple[ScoredMemory, ...]
    latency_ms: float

    @property
    def hit_ids(self) -> tuple[str, ...]:
        return tuple(hit.item.id for hit in self.hits)


@dataclass(frozen=True)
class Comparison:
    """A message's outcome in each mode, and the names of the fields that differ between them."""

    text: str
    outcomes: tuple[ModeOutcome, ...]
    differences: tuple[str, ...]


def compare_message(
    decider: Decider,
    text: str,
    *,
    tuning: Tuning,
    modes: Sequence[str] = MODES,
    retriever: Retriever | None = None,
    scope: Scope | None = None,
    taught: Sequence[TaughtExample] = (),
) -> Comparison:
    """Decide (and, when recalling, search) in each mode; searching needs both a retriever and a scope.
    ``taught`` are the character's taught examples, which hybrid and llm modes follow."""
    chosen = _checked_modes(modes)
    if (retriever is None) != (scope is None):
        raise InvalidInputError("pass both a retriever and a scope to search memories, or neither")
    outcomes = tuple(_outcome(decider, text, mode, tuning, retriever, scope, taught) for mode in chosen)
    return Comparison(text=text, outcomes=outcomes, differences=_differences(outcomes))


def _outcome(
    decider: Decider, text: str, mode: str, tuning: Tuning, retriever: Retriever | None, scope: Scope | None,
    taught: Sequence[TaughtExample],
) -> ModeOutcome:  # fmt: skip
    started = time.perf_counter()
    decision = decider.decide(text, mode=mode, timeout_ms=tuning.decision_timeout_ms, taught=taught)
    hits: tuple[ScoredMemory, ...] = ()
    if decision.should_recall and retriever is not None and scope is not None:
        hits = retriever.search(
            scope,
            decision.query,
            limit=tuning.recall_limit,
            min_score=tuning.recall_min_score,
            categories=decision.categories,
            category_boost=tuning.category_boost,
        )
    return ModeOutcome(mode, decision, hits, (time.perf_counter() - started) * 1000)


def _compared_value(outcome: ModeOutcome, name: str) -> object:
    return outcome.hit_ids if name == "hits" else getattr(outcome.decision, name)


def _differences(outcomes: Sequence[ModeOutcome]) -> tuple[str, ...]:
    return tuple(name for name in COMPARED_FIELDS if len({_compared_value(o, name) for o in outcomes}) > 1)


# Labelled messages from a file


@dataclass(frozen=True)
class LabelledMessage:
    """A message to decide on, with the expected answer when the file gives one."""

    id: str
    text: str
    expected: bool | None = None
    lang: str = ""


def parse_messages(content: str, *, filename: str) -> tuple[LabelledMessage, ...]:
    """Read JSONL (.jsonl/.json) or CSV (.csv) messages; any problem raises InvalidInputError naming its row."""
    path = PurePath(filename)
    name, kind = path.name or filename, path.suffix.lower()
    if kind not in (".jsonl", ".json", ".csv"):
        raise InvalidInputError(f"{name!r} is not a .jsonl, .json or .csv file")
    body = content.removeprefix("\ufeff")
    if not body.strip():
        raise InvalidInputError(f"{name} is empty")
    entries = _csv_entries(body, name) if kind == ".csv" else _jsonl_entries(body, name)
    messages = _collect(entries, name)
    if not messages:
        raise InvalidInputError(f"{name} has no messages")
    return messages


def _collect(entries: Iterator[tuple[str, LabelledMessage]], name: str) -> tuple[LabelledMessage, ...]:
    """Stop at the first row over the limit; ids must be unique so report rows can be told apart."""
    first_use: dict[str, str] = {}
    messages: list[LabelledMessage] = []
    for where, message in entries:
        if len(messages) == MAX_MESSAGES:
            raise InvalidInputError(f"{name} has more than {MAX_MESSAGES} messages; split it into smaller files")
        if message.id in first_use:
            raise InvalidInputError(f"{name} {where}: id {message.id!r} is already used on {first_use[message.id]}")
        first_use[message.id] = where
        messages.append(message)
    return tuple(messages)


def _jsonl_entries(body: str, name: str) -> Iterator[tuple[str, LabelledMessage]]:
    # split("\n"), not splitlines(): JSON strings may hold raw U+2028 and other breaks splitlines() cuts at.
    for number, line in enumerate(body.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{name} {where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InvalidInputError(f"{name} {where}: each line must be a JSON object")
        label = row.get("should_recall")
        if label is not None and not isinstance(label, bool):
            raise InvalidInputError(f"{name} {where}: should_recall must be true or false")
        yield where, _message(f"{name} {where}", number, row.get("id"), row.get("text"), label, row.get("lang"))


def _csv_entries(body: str, name: str) -> Iterator[tuple[str, LabelledMessage]]:
    reader = csv.reader(io.StringIO(body, newline=""), strict=True)
    number = 0  # the last row read; a CSV error belongs to the next one
    try:
        header, label_column = _csv_header(next(reader, []), name)
        number = 1
        # Rows are numbered as a spreadsheet shows them: the header is row 1.
        for number, row in enumerate(reader, start=2):
            if any(cell.strip() for cell in row):
                yield f"row {number}", _csv_message(header, label_column, row, number, f"{name} row {number}")
    except csv.Error as exc:
        raise InvalidInputError(f"{name} row {number + 1}: not valid CSV ({exc})") from None


def _csv_header(cells: Sequence[str], name: str) -> tuple[list[str], str | None]:
    header = [cell.strip().lower() for cell in cells]
    if len(set(header)) != len(header):
        raise InvalidInputError(f"{name} row 1: the header names a column twice")
    if "text" not in header:
        raise InvalidInputError(f"{name} row 1: the header has no 'text' column")
    labels = [column for column in LABEL_COLUMNS if column in header]
    if len(labels) > 1:
        raise InvalidInputError(f"{name} row 1: keep one label column, not {', '.join(labels)}")
    return header, labels[0] if labels else None


def _csv_message(
    header: list[str], label_column: str | None, row: list[str], number: int, where: str
) -> LabelledMessage:
    if len(row) != len(header):
        raise InvalidInputError(f"{where}: {len(row)} cells but the header has {len(header)}")
    cells = dict(zip(header, row, strict=True))
    label = None if label_column is None else _csv_label(cells[label_column], label_column, where)
    return _message(where, number, cells.get("id"), cells["text"], label, cells.get("lang"))


def _csv_label(cell: str, column: str, where: str) -> bool | None:
    value = cell.strip().lower()
    if not value:
        return None
    if value not in _CSV_LABELS:
        raise InvalidInputError(f"{where}: {column} must be true or false (1/0, yes/no) or empty, got {cell!r}")
    return _CSV_LABELS[value]


def _message(where: str, number: int, raw_id: Any, text: Any, label: bool | None, lang: Any) -> LabelledMessage:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"{where}: needs a non-empty string 'text'")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int | None):
        raise InvalidInputError(f"{where}: id must be a string or an integer")
    if lang is not None and not isinstance(lang, str):
        raise InvalidInputError(f"{where}: lang must be a string")
    ident = str(raw_id).strip() if raw_id is not None else ""
    return LabelledMessage(id=ident or str(number), text=text, expected=label, lang=(lang or "").strip())


# A batch of messages, scored per mode


class Verdict(NamedTuple):
    """What one mode said about one message."""

    should_recall: bool
    reason: str
    decided_by: str


@dataclass(frozen=True)
class BatchRow:
    """A message and each mode's verdict on it, in the report's mode order."""

    message: LabelledMessage
    verdicts: tuple[Verdict, ...]
    latencies_us: tuple[float, ...]

    @property
    def agree(self) -> bool:
        """Every mode gave the same should_recall."""
        return len({verdict.should_recall for verdict in self.verdicts}) == 1

    @property
    def matches_label(self) -> bool:
        """Every mode matches the label (true for an unlabelled message)."""
        expected = self.message.expected
        return expected is None or all(verdict.should_recall == expected for verdict in self.verdicts)


@dataclass(frozen=True)
class BatchReport:
    """Per-message verdicts and per-mode scores; `metrics` has no entry when no message is labelled."""

    modes: tuple[str, ...]
    rows: tuple[BatchRow, ...]
    metrics: Mapping[str, BinaryScores]
    disagreements: tuple[BatchRow, ...]
    fallbacks: Mapping[str, int]
    p50_us: Mapping[str, float]


def evaluate_batch(
    decider: Decider,
    messages: Sequence[LabelledMessage],
    *,
    modes: Sequence[str] = MODES,
    timeout_ms: int,
    progress: Callable[[int, int], None] | None = None,
    taught: Sequence[TaughtExample] = (),
) -> BatchReport:
    """Decide every message in every mode (hybrid and llm following ``taught``), calling progress(done, total)
    after each message."""
    chosen = _checked_modes(modes)
    rows: list[BatchRow] = []
    for done, message in enumerate(messages, start=1):
        timed = [_timed_verdict(decider, message.text, mode, timeout_ms, taught) for mode in chosen]
        rows.append(BatchRow(message, tuple(v for v, _ in timed), tuple(us for _, us in timed)))
        if progress is not None:
            progress(done, len(messages))
    return _summary(chosen, tuple(rows))


def _timed_verdict(
    decider: Decider, text: str, mode: str, timeout_ms: int, taught: Sequence[TaughtExample]
) -> tuple[Verdict, float]:
    started = time.perf_counter()
    decision = decider.decide(text, mode=mode, timeout_ms=timeout_ms, taught=taught)
    elapsed_us = (time.perf_counter() - started) * 1e6
    return Verdict(decision.should_recall, decision.reason, decision.decided_by), elapsed_us


def _summary(modes: tuple[str, ...], rows: tuple[BatchRow, ...]) -> BatchReport:
    labelled = [row for row in rows if row.message.expected is not None]
    return BatchReport(
        modes=modes,
        rows=rows,
        metrics={mode: _scores(labelled, i) for i, mode in enumerate(modes)} if labelled else {},
        disagreements=tuple(row for row in rows if not (row.agree and row.matches_label)),
        fallbacks={
            mode: sum(r.verdicts[i].decided_by == "fallback_rule" for r in rows) for i, mode in enumerate(modes)
        },
        p50_us={mode: percentile([row.latencies_us[i] for row in rows], 50) for i, mode in enumerate(modes)},
    )


def _scores(labelled: Sequence[BatchRow], index: int) -> BinaryScores:
    return binary_scores((row.verdicts[index].should_recall, row.message.expected is True) for row in labelled)


# Tables and files for the console


def _report_columns(modes: Sequence[str]) -> list[str]:
    """The CSV header: id, text, expected, three columns per mode, agree."""
    return ["id", "text", "expected", *(f"{mode}_{field}" for mode in modes for field in Verdict._fields), "agree"]


def report_csv(report: BatchReport) -> str:
    """One RFC-4180 row per message (CRLF line ends, fields quoted when needed); no BOM."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(_report_columns(report.modes))
    writer.writerows(_report_line(row) for row in report.rows)
    return buffer.getvalue()


def _report_line(row: BatchRow) -> list[str]:
    cells = [row.message.id, row.message.text, _flag(row.message.expected)]
    for verdict in row.verdicts:
        cells += [_flag(verdict.should_recall), verdict.reason, verdict.decided_by]
    return [*cells, _flag(row.agree)]


def _flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()


def metrics_rows(report: BatchReport) -> list[list[object]]:
    """A header row, then per mode: n, accuracy, precision, recall, f1 (None when unlabelled), fallbacks, p50_us."""
    rows: list[list[object]] = [list(METRIC_COLUMNS)]
    for mode in report.modes:
        scores = report.metrics.get(mode)
        ratios = (scores.accuracy, scores.precision, scores.recall, scores.f1) if scores else (None,) * 4
        shown = [None if ratio is None else round(ratio, 4) for ratio in ratios]
        rows.append([mode, scores.n if scores else 0, *shown, report.fallbacks[mode], round(report.p50_us[mode], 1)])
    return rows


def confusion_rows(report: BatchReport) -> list[list[object]]:
    """A header row, then per mode the labelled counts: tp, fp, tn, fn (zeros when unlabelled)."""
    rows: list[list[object]] = [list(CONFUSION_COLUMNS)]
    for mode in report.modes:
        scores = report.metrics.get(mode) or binary_scores(())
        rows.append([mode, scores.true_positive, scores.false_positive, scores.true_negative, scores.false_negative])
    return rows
