"""memory_core: the offline memory engine behind Memtune.

Decide whether to recall, recall from a durable store, inject into the prompt, decide what to write,
write, summarise, and explain every step as data. No API keys or network needed.

The rooms follow a turn (tests/test_layout.py keeps the arrows pointing down):

- ``decide/``: the rule decisions, their lexicon and patterns, the decider and its judges.
- ``recall/``: tokenizer, entities, BM25 index, lexical/dense/fused retrievers, the local embedder, the
  index memory budget.
- ``write/``: the write gate, classification of what is written, session summaries.
- ``store/``: the SQLite store and its schema migrations, JSON/CSV import and export.
- ``providers/``: what talks to the outside: chat models over openai, embeddings endpoints, Mem0.
- ``eval/``: benchmarks, LoCoMo and retrieval sets, metrics, modes compared.
- the top level: the engine and its stages, sessions and traces, injection, prompts, the offline
  responder, settings, errors, values (models), the demo, public sandboxes, and text made inert for
  display.
  Of those, ``settings.py`` holds ``Settings`` and ``load_settings`` (the one reader of the environment),
  ``tuning.py`` holds ``Tuning`` (the knobs a session may change without a restart), and
  ``config_values.py`` the parsers that validate every variable's value, for both. ``wiring.py`` builds the
  engine from settings (``build_engine``).

A turn: ``engine.run_turn`` -> ``decide`` (rules, then a judge if the mode asks) -> ``recall`` (BM25 and
dense, fused) -> ``injection`` -> the reply (``providers`` or the offline ``responder``) -> ``write``
(gate, classify) -> ``store`` -> ``write.summary`` every few turns; each stage's result lands in the Trace.
"""

from .chat import ChatMessage, ChatModel, Completion, LLMCall, StreamingChatModel, call_model
from .decide.decider import Decider, Judge, JudgeVerdict, LLMJudge, RecallDecider, RecallDecision, parse_verdict
from .decide.rules import RuleMatch, decide_by_rules
from .engine import MemoryEngine
from .errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    MemoryCoreError,
    NotFoundError,
    ProviderError,
    QuotaError,
)
from .injection import (
    Injection,
    PipecatInsertion,
    inject_pipecat,
    inject_reference,
    insert_pipecat,
    memory_block,
    pipecat_block,
)
from .models import (
    CATEGORIES,
    CONFIDENCES,
    ITEM_TYPES,
    ItemEvent,
    ItemFilter,
    Library,
    MemoryItem,
    NewItem,
    Page,
    Scope,
    TaughtExample,
)
from .providers.mem0_store import Mem0Store
from .providers.openai_chat import OpenAIChatModel, build_chat_model
from .providers.pipecat_export import BotExport, bot_export, bot_snippet
from .recall.entities import Entity, exact_entities, find_entities
from .recall.lexical import BM25Retriever, Retriever, ScoredMemory
from .recall.tokenizer import tokenize
from .reply.responder import OfflineResponder
from .session import Session, StageTiming, SummaryRecord, Trace, WriteRecord
from .settings import LLMConfig, Settings, load_settings
from .store.postgres import PostgresStore
from .store.protocol import Store
from .store.sqlite import SQLiteStore
from .store.transfer import (
    ImportReport,
    export_csv,
    export_library,
    import_csv,
    import_library,
    read_library_file,
    write_library_file,
)
from .tuning import Tuning
from .wiring import build_decider, build_engine, open_store
from .write.audit import LibraryAudit, audit_library
from .write.classify import Classification, classify_turn
from .write.gate import WriteDecision, decide_write, import_items
from .write.summary import SummaryText, fallback_summary, summarise_window

__all__ = [
    "CATEGORIES",
    "CONFIDENCES",
    "ITEM_TYPES",
    "BM25Retriever",
    "BotExport",
    "ChatMessage",
    "ChatModel",
    "Classification",
    "Completion",
    "ConfigurationError",
    "ConflictError",
    "Decider",
    "Entity",
    "ImportReport",
    "Injection",
    "InvalidInputError",
    "ItemEvent",
    "ItemFilter",
    "Judge",
    "JudgeVerdict",
    "LLMCall",
    "LLMConfig",
    "LLMJudge",
    "Library",
    "LibraryAudit",
    "Mem0Store",
    "MemoryCoreError",
    "MemoryEngine",
    "MemoryItem",
    "NewItem",
    "NotFoundError",
    "OfflineResponder",
    "OpenAIChatModel",
    "Page",
    "PipecatInsertion",
    "PostgresStore",
    "ProviderError",
    "QuotaError",
    "RecallDecider",
    "RecallDecision",
    "Retriever",
    "RuleMatch",
    "SQLiteStore",
    "Scope",
    "ScoredMemory",
    "Session",
    "Settings",
    "StageTiming",
    "Store",
    "StreamingChatModel",
    "SummaryRecord",
    "SummaryText",
    "TaughtExample",
    "Trace",
    "Tuning",
    "WriteDecision",
    "WriteRecord",
    "audit_library",
    "bot_export",
    "bot_snippet",
    "build_chat_model",
    "build_decider",
    "build_engine",
    "call_model",
    "classify_turn",
    "decide_by_rules",
    "decide_write",
    "exact_entities",
    "export_csv",
    "export_library",
    "fallback_summary",
    "find_entities",
    "import_csv",
    "import_items",
    "import_library",
    "inject_pipecat",
    "inject_reference",
    "insert_pipecat",
    "load_settings",
    "memory_block",
    "open_store",
    "parse_verdict",
    "pipecat_block",
    "read_library_file",
    "summarise_window",
    "tokenize",
    "write_library_file",
]
