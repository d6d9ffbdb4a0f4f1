"""The recall decision in four modes (rule, hybrid, llm, always) behind one interface.

`always` recalls on every message with the message itself as the query, as Pipecat's Mem0MemoryService
does: no rules, no judge. In the other modes rules decide first. `hybrid` sends only the ambiguous
`no_marker` messages to the LLM judge, `llm` sends everything but the hard rejects. Whenever the judge is
missing, late, failing or unparseable the rule result stands, and the decision says so: never "no recall for
everything".

Taught examples (a user's corrections, per character) come before any judge in hybrid and llm modes: when
the local judge finds one within its TAUGHT_RADIUS of a message that is not a hard reject, that example
decides (`decided_by` "taught_example"). Rule mode stays pure rules.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..chat import LLMCall
from ..errors import InvalidInputError
from ..models import TaughtExample, check_text
from .llm_judge import JudgeError, JudgeVerdict, LLMJudge, parse_verdict
from .local_judge import LocalJudge, LocalVerdict
from .rules import CATEGORIES_BY_REASON, HARD_REJECTS, RuleMatch, decide_by_rules

__all__ = ["DECIDED_BY", "DECISION_MODES", "MODES", "Decider", "Judge", "JudgeError", "JudgeVerdict", "LLMJudge",
           "RecallDecider", "RecallDecision", "parse_verdict"]  # fmt: skip
MODES = ("rule", "hybrid", "llm")  # the modes that judge each message: compared side by side and benched
DECISION_MODES = (*MODES, "always")  # every mode a session may run
DECIDED_BY = ("rule", "llm", "fallback_rule", "local_judge", "taught_example", "always")
ALWAYS_EVIDENCE = "every user message, itself the query, as Pipecat's Mem0MemoryService recalls"


@dataclass(frozen=True)
class RecallDecision:
    """Whether to recall, what to search for, why, and who decided it how fast."""

    should_recall: bool
    query: str
    reason: str
    categories: tuple[str, ...]
    mode: str
    decided_by: str
    fallback_reason: str = ""
    rule_reason: str = ""
    evidence: str = ""
    latency_ms: float = 0.0
    judge_raw: str = ""
    llm_call: LLMCall | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "should_recall": self.should_recall,
            "query": self.query,
            "reason": self.reason,
            "categories": list(self.categories),
            "mode": self.mode,
            "decided_by": self.decided_by,
            "fallback_reason": self.fallback_reason,
            "rule_reason": self.rule_reason,
            "evidence": self.evidence,
            "latency_ms": round(self.latency_ms, 3),
        }


class Judge(Protocol):
    def ask(self, text: str, *, timeout_ms: int) -> tuple[JudgeVerdict | None, LLMCall]: ...


class Decider(Protocol):
    def decide(
        self, text: str, *, mode: str, timeout_ms: int, taught: Sequence[TaughtExample] = ()
    ) -> RecallDecision: ...


class RecallDecider:
    """Rule, hybrid or llm decisions; the judge is optional and bounded by a timeout that really cuts."""

    def __init__(self, judge: Judge | None = None, local: LocalJudge | None = None) -> None:
        self.judge = judge
        self.local = local  # the offline judge: in place of a missing LLM judge, and its fallback

    def decide(
        self, text: str, *, mode: str = "rule", timeout_ms: int = 2000, taught: Sequence[TaughtExample] = ()
    ) -> RecallDecision:
        """The decision for a message; ``taught`` are the character's taught examples (hybrid and llm only)."""
        if mode not in DECISION_MODES:
            raise InvalidInputError(f"decision mode must be one of {', '.join(DECISION_MODES)}, got {mode!r}")
        check_text(text, what="text")
        started = time.perf_counter()
        if mode == "always":
            return _always(text, started)
        rule = decide_by_rules(text)
        local = self._taught_verdict(text, rule, mode, taught)
        if local is not None and local.taught is not None:
            return _from_taught(local.taught, local.taught_similarity, rule, text, mode, started)
        needs_judge = mode == "llm" and rule.reason not in HARD_REJECTS
        needs_judge = needs_judge or (mode == "hybrid" and rule.reason == "no_marker")
        if not needs_judge:
            return _from_rule(rule, text, mode, "rule", "", started)
        if self.judge is None:
            if self.local is not None:
                return _from_local(local or self.local.judge(text), rule, text, mode, "", started)
            return _from_rule(rule, text, mode, "fallback_rule", "llm_unavailable", started)
        verdict, call = self.judge.ask(text, timeout_ms=timeout_ms)
        if verdict is None and self.local is not None:
            return _from_local(local or self.local.judge(text), rule, text, mode, call.error, started, call=call)
        if verdict is None:
            return _from_rule(rule, text, mode, "fallback_rule", call.error, started, call=call)
        return RecallDecision(
            should_recall=verdict.should_recall,
            query=verdict.query if verdict.should_recall else text.strip(),
            reason=verdict.reason,
            categories=verdict.categories,
            mode=mode,
            decided_by="llm",
            rule_reason=rule.reason,
            evidence=rule.evidence,
            latency_ms=(time.perf_counter() - started) * 1000,
            judge_raw=verdict.raw,
            llm_call=call,
        )

    def _taught_verdict(
        self, text: str, rule: RuleMatch, mode: str, taught: Sequence[TaughtExample]
    ) -> LocalVerdict | None:
        """The local judge's verdict with the taught examples, when they may apply; None when they may not."""
        if not taught or self.local is None or mode == "rule" or rule.reason in HARD_REJECTS:
            return None
        return self.local.judge(text, taught)


def _always(text: str, started: float) -> RecallDecision:
    """Pipecat's decision: recall, with the message as it came (not stripped) as the query."""
    return RecallDecision(should_recall=True, query=text, reason="always", categories=(), mode="always",
                          decided_by="always", evidence=ALWAYS_EVIDENCE,
                          latency_ms=(time.perf_counter() - started) * 1000)  # fmt: skip


def _from_taught(
    example: TaughtExample, similarity: float, rule: RuleMatch, text: str, mode: str, started: float
) -> RecallDecision:
    """A taught example's decision: the user's own correction, named with its similarity."""
    label = "recall" if example.should_recall else "no recall"
    categories = (rule.categories or CATEGORIES_BY_REASON["user_owned"]) if example.should_recall else ()
    return RecallDecision(
        should_recall=example.should_recall,
        query=text.strip(),
        reason="taught_example",
        categories=categories,
        mode=mode,
        decided_by="taught_example",
        rule_reason=rule.reason,
        evidence=f"taught example {example.id}: {example.text!r} ({label}), similarity {similarity:.2f}",
        latency_ms=(time.perf_counter() - started) * 1000,
    )


def _from_local(
    verdict: LocalVerdict,
    rule: RuleMatch,
    text: str,
    mode: str,
    fallback: str,
    started: float,
    *,
    call: LLMCall | None = None,
) -> RecallDecision:
    """The local judge's decision; its evidence is the probability and the nearest labelled examples."""
    nearest = "; ".join(f"{e.text!r} ({'recall' if e.should_recall else 'no recall'}, {e.similarity:.2f})"
                        for e in verdict.evidence)  # fmt: skip
    categories = (rule.categories or CATEGORIES_BY_REASON["user_owned"]) if verdict.should_recall else ()
    return RecallDecision(
        should_recall=verdict.should_recall,
        query=text.strip(),
        reason="local_judge",
        categories=categories,
        mode=mode,
        decided_by="local_judge",
        fallback_reason=fallback,
        rule_reason=rule.reason,
        evidence=f"p(recall) = {verdict.probability:.2f}; nearest: {nearest}",
        latency_ms=(time.perf_counter() - started) * 1000,
        judge_raw=call.answer if call else "",
        llm_call=call,
    )


def _from_rule(
    rule: RuleMatch,
    text: str,
    mode: str,
    decided_by: str,
    fallback: str,
    started: float,
    *,
    call: LLMCall | None = None,
) -> RecallDecision:
    return RecallDecision(
        should_recall=rule.should_recall,
        query=text.strip(),
        reason=rule.reason,
        categories=rule.categories,
        mode=mode,
        decided_by=decided_by,
        fallback_reason=fallback,
        rule_reason=rule.reason,
        evidence=rule.evidence,
        latency_ms=(time.perf_counter() - started) * 1000,
        judge_raw=call.answer if call else "",
        llm_call=call,
    )
