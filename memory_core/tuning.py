"""The knobs a console session may change without a restart, each tied to its environment variable.

`Tuning` holds them; `TUNING_VARIABLES` names each knob's variable and parser. The configured values come
from `Settings.tuning()` (settings.py reads the environment, this module does not).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .config_values import (
    Parser,
    float_between,
    int_between,
    one_of,
    parse_bool,
    parse_decision_timeout,
    parse_raw_text,
)
from .errors import ConfigurationError

PIPECAT_SYSTEM_PROMPT = "Based on previous conversations, I recall: \n\n"


@dataclass(frozen=True)
class Tuning:
    """The knobs a session may change at run time; defaults are the reference's (spec §8)."""

    decision_mode: str = "rule"
    decision_timeout_ms: int = 2000
    recall_backend: str = "hybrid"
    recall_limit: int = 5
    recall_min_score: float = 0.0
    recall_timeout_ms: int = 2000
    category_boost: float = 1.0
    write_mode: str = "hybrid"
    smart_write_enabled: bool = True
    summary_enabled: bool = True
    summary_turn_window: int = 8
    summary_max_items: int = 3
    injection_style: str = "reference"
    pipecat_system_prompt: str = PIPECAT_SYSTEM_PROMPT
    pipecat_position: int = 1
    pipecat_add_as_system_message: bool = True
    # Pipecat's blocks pile up in the context, one a turn, and a query equal to the last one is not searched
    # again; off: this turn's block replaces the earlier one (our default, not Pipecat's)
    pipecat_pile_up: bool = False
    memory_token_budget: int = 600  # estimated tokens the memory block may take; 0: no budget
    reply_timeout_ms: int = 30_000
    partial_replies: str = "keep"  # a streamed reply cut at its bound: kept marked partial, or "drop"ped
    summary_timeout_ms: int = 20_000
    retrieval_method: str = "fusion"
    fusion_max_weight: float = 0.6
    fusion_candidates: int = 200
    fusion_min_score: float = 0.6
    fusion_relevance_floor: float = 0.05  # nothing is recalled when no memory's calibrated relevance reaches it
    mem0_threshold: float = 0.1
    dedupe_threshold: float = 0.985
    # The write judge writes what the rules left from this probability (write/durable_judge.py); 1: the rules alone
    write_judge_threshold: float = 0.7
    show_superseded: bool = False

    @property
    def piles_up(self) -> bool:
        """The Pipecat style with its blocks piling up, as Pipecat's own service does."""
        return self.injection_style == "pipecat" and self.pipecat_pile_up

    def with_changes(self, **changes: Any) -> Tuning:
        """A copy with some knobs changed, each validated like its environment variable."""
        parsed = {}
        for name, raw in changes.items():
            if name not in TUNING_VARIABLES:
                raise ConfigurationError(f"unknown tuning knob {name!r}")
            variable, parse = TUNING_VARIABLES[name]
            parsed[name] = parse(raw, f"{name} ({variable})")
        return replace(self, **parsed)

    def as_env(self) -> dict[str, str]:
        """The knobs as environment variables, ready for a `.env` file."""
        env = {}
        for f in fields(self):
            variable, _ = TUNING_VARIABLES[f.name]
            value = getattr(self, f.name)
            env[variable] = str(value).lower() if isinstance(value, bool) else str(value)
        return env


TUNING_VARIABLES: dict[str, tuple[str, Parser]] = {
    "decision_mode": ("OPENTALKING_MEMORY_DECISION_MODE", one_of("rule", "hybrid", "llm", "always")),
    "decision_timeout_ms": ("OPENTALKING_MEMORY_DECISION_TIMEOUT_MS", parse_decision_timeout),
    "recall_backend": ("OPENTALKING_MEMORY_RECALL_BACKEND", one_of("bm25", "mem0", "hybrid")),
    "recall_limit": ("OPENTALKING_MEMORY_RECALL_LIMIT", int_between(1, 100)),
    # BM25 scores are never negative and a memory no query word matches scores 0: below 0, every one passes.
    "recall_min_score": ("OPENTALKING_MEMORY_RECALL_MIN_SCORE", float_between(0.0, 1e6)),
    "recall_timeout_ms": ("OPENTALKING_MEMORY_RECALL_TIMEOUT_MS", int_between(1, 600_000)),
    "category_boost": ("MEMTUNE_CATEGORY_BOOST", float_between(0.0, 1000.0)),
    "write_mode": ("OPENTALKING_MEMORY_WRITE_MODE", one_of("raw", "mem0", "hybrid")),
    "smart_write_enabled": ("OPENTALKING_MEMORY_SMART_WRITE_ENABLED", parse_bool),
    "summary_enabled": ("OPENTALKING_MEMORY_SUMMARY_ENABLED", parse_bool),
    "summary_turn_window": ("OPENTALKING_MEMORY_SUMMARY_TURN_WINDOW", int_between(1, 1000)),
    "summary_max_items": ("OPENTALKING_MEMORY_SUMMARY_MAX_ITEMS", int_between(1, 50)),
    "injection_style": ("MEMTUNE_INJECTION_STYLE", one_of("reference", "pipecat")),
    "pipecat_system_prompt": ("MEMTUNE_PIPECAT_SYSTEM_PROMPT", parse_raw_text),
    "pipecat_position": ("MEMTUNE_PIPECAT_POSITION", int_between(0, 1000)),
    "pipecat_add_as_system_message": ("MEMTUNE_PIPECAT_ADD_AS_SYSTEM_MESSAGE", parse_bool),
    "pipecat_pile_up": ("MEMTUNE_PIPECAT_PILE_UP", parse_bool),
    "memory_token_budget": ("MEMTUNE_MEMORY_TOKEN_BUDGET", int_between(0, 100_000)),
    "reply_timeout_ms": ("OPENTALKING_LLM_TIMEOUT_MS", int_between(1, 600_000)),
    "partial_replies": ("MEMTUNE_PARTIAL_REPLIES", one_of("keep", "drop")),
    "summary_timeout_ms": ("MEMTUNE_SUMMARY_TIMEOUT_MS", int_between(1, 600_000)),
    "retrieval_method": ("MEMTUNE_RETRIEVAL_METHOD", one_of("bm25", "dense", "fusion")),
    "fusion_max_weight": ("MEMTUNE_FUSION_MAX_WEIGHT", float_between(0.0, 1.0)),
    "fusion_candidates": ("MEMTUNE_FUSION_CANDIDATES", int_between(10, 5000)),
    "fusion_min_score": ("MEMTUNE_FUSION_MIN_SCORE", float_between(0.0, 1.0)),
    "fusion_relevance_floor": ("MEMTUNE_FUSION_RELEVANCE_FLOOR", float_between(0.0, 1.0)),
    "mem0_threshold": ("MEMTUNE_MEM0_THRESHOLD", float_between(0.0, 1.0)),
    "dedupe_threshold": ("MEMTUNE_DEDUPE_THRESHOLD", float_between(0.5, 1.0)),
    "write_judge_threshold": ("MEMTUNE_WRITE_JUDGE_THRESHOLD", float_between(0.0, 1.0)),
    "show_superseded": ("MEMTUNE_SHOW_SUPERSEDED", parse_bool),
}
