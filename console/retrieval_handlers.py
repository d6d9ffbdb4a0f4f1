"""Compare-tab callbacks for golden queries: a file of queries run against a library by every retrieval method."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr
import pandas as pd

from memory_core import InvalidInputError, MemoryEngine, Scope
from memory_core.eval.golden import GoldenReport, Miss, Scores, current_threshold, read_golden
from memory_core.eval.retrieval_bench import run_golden
from memory_core.markup import inert_code
from memory_core.recall.fusion import METHODS

from .chat_handlers import character_choices, library_choices, profile_choices
from .library_handlers import scope_of, store_of
from .session_state import ConsoleState
from .visitor import Visitor

SCORE_COLUMNS = ["method", "recall@k", "expected found", "precision", "false injection rate", "n", "threshold"]
MISS_COLUMNS = ["method", "query id", "query", "expected", "why", "rank", "score", "top score", "memory"]
PLOT_COLUMNS = ["threshold", "value", "series"]
CURRENT = "current threshold"  # drawn as a vertical rule: two points at the session's threshold
PLOT_COLORS = {"recall": "#4f46e5", "precision": "#f59e0b", CURRENT: "#dc2626"}


def golden_scope(
    engine: MemoryEngine, state: ConsoleState, visitor: Visitor, profile: str, character: str, library: str
) -> Scope:
    """The library chosen, a blank field meaning the open chat's; a sandbox visitor's profile is always theirs."""
    chat = state.session.scope if state.session else None
    character = (character or "").strip() or (chat.character_id if chat else "")
    if not character:
        raise InvalidInputError("Choose a character (or start a chat): golden queries search one of its libraries.")
    profile = (profile or "").strip() or (chat.profile_id if chat else "")
    library = (library or "").strip() or (chat.library_id if chat else "")
    return scope_of(engine, visitor.profile(profile), character, library)


def run_golden_file(
    engine: MemoryEngine, state: ConsoleState, scope: Scope, path: str | None, progress: Callable[..., Any]
) -> tuple[pd.DataFrame, pd.DataFrame, list[pd.DataFrame], str]:
    """Every available method over the file, at the session's top-k and thresholds: scores, misses, plots."""
    if not path:
        raise gr.Error("Choose a golden file (.jsonl, or JSON with a 'queries' list).")
    if engine.retriever is None:
        raise gr.Error("The memory provider is 'none': there is no library to search.")
    queries = read_golden(path)  # checked whole before the library is searched
    library = store_of(engine).get_library(scope)

    def step(done: int, total: int) -> None:
        progress(done / max(total, 1), desc=f"{done} of {total} queries")

    report = run_golden(queries, engine.retriever, scope, state.tuning, progress=step)
    plots = [plot_frame(report, method, state) for method in METHODS]
    where = f"{inert_code(library.id)} ({library.memory_count} memories)"
    status = f"Ran {len(queries)} golden queries against {where} at top-{report.k}: {_methods_note(report)}."
    return score_table(report), miss_table(report.misses), plots, status


def _methods_note(report: GoldenReport) -> str:
    ran = [s.method for s in report.scores]
    missing = [m for m in METHODS if m not in ran]
    return ", ".join(ran) + (f" ({', '.join(missing)} need an embedder)" if missing else "")


def score_table(report: GoldenReport) -> pd.DataFrame:
    return pd.DataFrame([_score_row(s) for s in report.scores], columns=SCORE_COLUMNS)


def _score_row(s: Scores) -> list[object]:
    return [s.method, _round(s.recall), _round(s.found), _round(s.precision), _round(s.false_injection_rate),
            s.queries, s.threshold]  # fmt: skip


def miss_table(missed: tuple[Miss, ...]) -> pd.DataFrame:
    rows = [[m.method, m.query_id, m.query, m.expected or "(unanswerable)", m.why, m.rank, _round(m.score),
             _round(m.top_score), m.text] for m in missed]  # fmt: skip
    return pd.DataFrame(rows, columns=MISS_COLUMNS)


def plot_frame(report: GoldenReport, method: str, state: ConsoleState) -> pd.DataFrame:
    """Recall and precision against the threshold at the report's k, and the current threshold as a rule."""
    points = [p for p in report.sweep if p.method == method and p.k == report.k]
    rows = [[p.threshold, value, name] for p in points
            for name, value in (("recall", p.recall), ("precision", p.precision)) if value is not None]  # fmt: skip
    if rows:
        current = current_threshold(method, state.tuning)
        rows += [[current, 0.0, CURRENT], [current, 1.0, CURRENT]]
    return pd.DataFrame(rows, columns=PLOT_COLUMNS)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def picker_choices(engine: MemoryEngine, visitor: Visitor, profile: str, character: str) -> dict[str, gr.Dropdown]:
    """What a visitor may pick for each field (the values stay as they are): their profiles, characters, and the
    libraries of the chosen character."""
    mine = visitor.profile((profile or "").strip() or engine.settings.default_profile_id)
    return {"profile": gr.Dropdown(choices=profile_choices(engine, visitor), interactive=visitor.sandbox is None),
            "character": gr.Dropdown(choices=character_choices(engine, visitor)),
            "library": gr.Dropdown(choices=library_choices(engine, mine, character))}  # fmt: skip
