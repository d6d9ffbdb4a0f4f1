"""How an LLM judge answers on labelled messages: whether its answers parse, whether any format placeholder
survives into a verdict, its accuracy and latency, beside the rules on the same messages.

Every message goes to the judge (as in llm mode), so the figures are the judge's own. Meant for a real
endpoint (a llama.cpp server with a small model, Ollama, a hosted model): `python -m memory_core bench judge`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..chat import ChatModel
from ..decide.llm_judge import JudgeVerdict, LLMJudge
from ..decide.rules import decide_by_rules
from ..prompts import JUDGE_EXAMPLES
from .metrics import binary_scores, percentile

# What the reference's answer template held: a verdict carrying any of these copied a format, not a value.
PLACEHOLDERS = ("true or false", "what to search the memory for", "short reason", "...", "|")


@dataclass(frozen=True)
class JudgedMessage:
    text: str
    expected: bool
    verdict: JudgeVerdict | None
    error: str
    latency_ms: float


def judge_all(judge: LLMJudge, rows: Sequence[tuple[str, bool]], *, timeout_ms: int) -> list[JudgedMessage]:
    """Ask the judge about every message, one at a time, timing each call."""
    judged = []
    for text, expected in rows:
        started = time.perf_counter()
        verdict, call = judge.ask(text, timeout_ms=timeout_ms)
        judged.append(JudgedMessage(text, expected, verdict, call.error, (time.perf_counter() - started) * 1000))
    return judged


def has_placeholder(verdict: JudgeVerdict, text: str) -> bool:
    """A template string kept as a value, or the prompt's own example query for a message that does not say it."""
    values = (verdict.query, verdict.reason, *verdict.categories)
    examples = {str(e["query"]).casefold() for e in JUDGE_EXAMPLES if e["query"]}
    copied = verdict.query.casefold() in examples and verdict.query.casefold() not in text.casefold()
    return copied or any(mark in value.casefold() for value in values for mark in PLACEHOLDERS)


def judge_report(judged: Sequence[JudgedMessage]) -> dict[str, Any]:
    """Parse rate, placeholders, accuracy of the judge and of the rules, latency, and the reasons of failures."""
    answered = [j for j in judged if j.verdict is not None]
    timeouts = sum(j.error.startswith("timeout") for j in judged)
    pairs = [(j.verdict.should_recall, j.expected) for j in answered if j.verdict is not None]
    rules = [(decide_by_rules(j.text).should_recall, j.expected) for j in judged]
    latencies = [j.latency_ms for j in judged]
    errors: dict[str, int] = {}
    for j in judged:
        if j.verdict is None:
            kind = j.error.split(":")[0] if j.error else "no verdict"
            errors[kind] = errors.get(kind, 0) + 1
    return {
        "benchmark": "judge", "messages": len(judged), "parsed": len(answered), "timeouts": timeouts,
        "unparsed_other": len(judged) - len(answered) - timeouts,
        "placeholders": sum(has_placeholder(j.verdict, j.text) for j in answered if j.verdict is not None),
        "judge_accuracy_parsed": round(binary_scores(pairs).accuracy, 3) if pairs else None,
        "rule_accuracy": round(binary_scores(rules).accuracy, 3) if rules else None,
        "latency_p50_ms": round(percentile(latencies, 50), 1), "latency_p95_ms": round(percentile(latencies, 95), 1),
        "failures": errors,
    }  # fmt: skip


def run_judge_bench(model: ChatModel, rows: Sequence[tuple[str, bool]], *, timeout_ms: int) -> dict[str, Any]:
    """The judge on every labelled message, against the model's endpoint."""
    return judge_report(judge_all(LLMJudge(model), rows, timeout_ms=timeout_ms))
