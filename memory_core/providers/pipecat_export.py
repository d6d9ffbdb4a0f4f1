"""What a Pipecat bot needs to read the memory tuned here: Mem0's config, the ids, the InputParams, the env.

The export is data (`BotExport`, printed as JSON by `python -m memory_core pipecat export`) and a ready
Python snippet (`bot_snippet`, shown in the Settings tab). Secrets never appear: each is replaced by
"$NAME", the variable that holds it ("$NAME#a.b.c" for a value inside the JSON in NAME), and the snippet
reads them from the bot's environment. Scope maps as the console's Mem0 store writes it: profile ->
`user_id`, character -> `agent_id`, library -> `run_id`, so the bot sees exactly one library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..models import Scope
from ..recall.embeddings import Embedder
from ..recall.threshold_advice import ThresholdAdvice, advise
from ..settings import Settings
from ..tuning import Tuning
from .mem0_config import MEM0_ENVIRONMENT, PLACEHOLDER_KEY, build_config, mem0_dir

DEFAULT_EMBEDDER_PORT = 8765
NO_LLM_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, a call fails at once
LOCAL_EMBEDDER_DIMS = 384
CONFIG_VARIABLE = "OPENTALKING_MEMORY_MEM0_CONFIG"
# Where each secret of the split variables sits in Mem0's config, and the variable that holds it.
SECRET_VARIABLES = {
    "llm.config.api_key": "OPENTALKING_MEMORY_MEM0_LLM_API_KEY",
    "embedder.config.api_key": "OPENTALKING_MEMORY_MEM0_EMBEDDER_API_KEY",
    "vector_store.config.api_key": "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_API_KEY",
}
_SECRET_WORDS = ("key", "token", "password", "secret")


@dataclass(frozen=True)
class BotExport:
    """Everything `Mem0MemoryService(...)` takes, plus the environment and the warnings that go with it."""

    user_id: str
    agent_id: str
    run_id: str
    params: Mapping[str, Any]
    env: Mapping[str, str]
    local_config: Mapping[str, Any] | None = None
    api_key: str = ""  # the hosted platform: "$MEM0_API_KEY" instead of a local_config
    host: str = ""
    secrets: tuple[str, ...] = ()
    embedder: str = ""  # the command that serves the embedder the config points at, when it is the local e5
    warnings: tuple[str, ...] = ()
    threshold: ThresholdAdvice | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["threshold"] = self.threshold.as_dict() if self.threshold else None
        data["secrets"], data["warnings"] = list(self.secrets), list(self.warnings)
        return {**data, "params": dict(self.params), "env": dict(self.env)}


def bot_params(tuning: Tuning) -> dict[str, Any]:
    """The session's knobs as `Mem0MemoryService.InputParams` fields."""
    return {
        "search_limit": tuning.recall_limit,
        "search_threshold": tuning.mem0_threshold,
        "system_prompt": tuning.pipecat_system_prompt,
        "add_as_system_message": tuning.pipecat_add_as_system_message,
        "position": tuning.pipecat_position,
    }


def bot_environment(settings: Settings) -> dict[str, str]:
    """Set before the bot imports mem0: telemetry off (Mem0, Chroma, onnxruntime), no hub, Mem0's files here."""
    return {**MEM0_ENVIRONMENT, "MEM0_DIR": str(mem0_dir(settings).resolve())}


def local_embedder_url(port: int = DEFAULT_EMBEDDER_PORT) -> str:
    return f"http://127.0.0.1:{port}/v1"


def bot_export(
    settings: Settings,
    tuning: Tuning,
    scope: Scope,
    *,
    texts: Sequence[str] = (),
    embedder: Embedder | None = None,
    embedder_port: int = DEFAULT_EMBEDDER_PORT,
) -> BotExport:
    """The export for one library; `texts` and `embedder` judge the threshold (skipped without them)."""
    scale = _score_scale(settings)
    advice = advise(tuning.mem0_threshold, texts, embedder, scale=scale) if embedder is not None and texts else None
    base = BotExport(scope.profile_id, scope.character_id, scope.library_id, bot_params(tuning),
                     bot_environment(settings), threshold=advice)  # fmt: skip
    if settings.mem0_api_key:
        warnings = (*_threshold_warnings(advice), _HOSTED_WARNING)
        return replace(base, api_key="$MEM0_API_KEY", host=settings.mem0_host, secrets=("MEM0_API_KEY",),
                       warnings=warnings)  # fmt: skip
    config, embedder_note = _bot_config(settings, embedder_port)
    warnings = _config_warnings(config, embedder_note)
    hidden, secrets = hide_secrets(config, from_json=bool(settings.mem0_config.strip()))
    warnings = (*_threshold_warnings(advice), *warnings)
    return replace(base, local_config=_closed_llm(hidden), secrets=secrets, embedder=embedder_note, warnings=warnings)


def _score_scale(settings: Settings) -> str:
    """The scale of Mem0's semantic score on the store the config names (only Chroma's differs from cosine)."""
    if settings.mem0_api_key:
        return "cosine"
    store = (build_config(settings).get("vector_store") or {}).get("provider", "qdrant")
    return "chroma" if store == "chroma" else "cosine"


def _bot_config(settings: Settings, embedder_port: int) -> tuple[dict[str, Any], str]:
    """Mem0's config as the console builds it, the local e5 reached through `serve embeddings`."""
    if settings.mem0_embedder_configured:
        return _absolute_paths(build_config(settings)), ""
    url = local_embedder_url(embedder_port)
    config = build_config(settings, embedder_url=url, embedder_dims=LOCAL_EMBEDDER_DIMS)
    return _absolute_paths(config), f"python -m memory_core serve embeddings --port {embedder_port}"


def _no_llm(config: Mapping[str, Any]) -> bool:
    llm = (config.get("llm") or {}).get("config") or {}
    return llm.get("api_key") == PLACEHOLDER_KEY and not (llm.get("openai_base_url") or llm.get("base_url"))


def _closed_llm(config: dict[str, Any]) -> dict[str, Any]:
    """Without an LLM, Mem0 would call api.openai.com with the placeholder key: point it at a closed port."""
    if _no_llm(config) and (config.get("llm") or {}).get("provider") == "openai":
        config["llm"]["config"]["openai_base_url"] = NO_LLM_URL
    return config


def _absolute_paths(config: dict[str, Any]) -> dict[str, Any]:
    """The console's relative paths (its data folder) made absolute, so a bot started elsewhere finds them."""
    store = (config.get("vector_store") or {}).get("config") or {}
    if store.get("path"):
        store["path"] = str(Path(store["path"]).resolve())
    if config.get("history_db_path"):
        config["history_db_path"] = str(Path(config["history_db_path"]).resolve())
    return config


def hide_secrets(config: Mapping[str, Any], *, from_json: bool) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The config with each secret replaced by "$VARIABLE" (the placeholder key is no secret), and the names."""
    names: list[str] = []

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            return {key: walk(item, f"{path}.{key}" if path else str(key)) for key, item in value.items()}
        if not _is_secret(path, value):
            return value
        name = f"{CONFIG_VARIABLE}#{path}" if from_json else SECRET_VARIABLES.get(path, CONFIG_VARIABLE)
        names.append(name.split("#")[0])
        return f"${name}"

    return walk(config, ""), tuple(dict.fromkeys(names))


def _is_secret(path: str, value: Any) -> bool:
    last = path.rsplit(".", 1)[-1].lower()
    return bool(value) and value != PLACEHOLDER_KEY and any(word in last for word in _SECRET_WORDS)


_HOSTED_WARNING = (
    "hosted platform: Pipecat ORs user_id, agent_id and run_id in its filters, so the bot sees every memory of "
    "the profile or the character, not one library"
)


def _threshold_warnings(advice: ThresholdAdvice | None) -> tuple[str, ...]:
    return (advice.note,) if advice is not None and advice.filters_nothing else ()


def _config_warnings(config: Mapping[str, Any], embedder_note: str) -> tuple[str, ...]:
    warnings = []
    store = config.get("vector_store") or {}
    path = (store.get("config") or {}).get("path")
    if store.get("provider", "qdrant") == "qdrant" and path:
        warnings.append(
            f"local Qdrant at {path} is held by one process at a time: stop the console before the bot starts, "
            "or share a Chroma server (OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PROVIDER=chroma, _HOST, _PORT)"
        )
    if store.get("provider") == "chroma" and path:
        warnings.append(f"Chroma on the folder {path} is for one process: share a `chroma run` server (_HOST, _PORT)")
    if _no_llm(config):
        warnings.append(
            "no Mem0 LLM is configured (OPENTALKING_MEMORY_MEM0_LLM_*): Pipecat writes with infer=True, which "
            f"calls it, so the bot's writes fail and are lost (searches still work); {NO_LLM_URL} stands in, "
            "so that nothing is sent to a public endpoint"
        )
    if embedder_note:
        warnings.append(f"the config embeds through the local e5 (model e5-query): start it with `{embedder_note}`")
    return tuple(warnings)


# -- the snippet -----------------------------------------------------------------------------------

_SNIPPET = '''import json
import os

# Mem0 reads these when it is imported: set them first.
os.environ.update({env})

from pipecat.services.mem0.memory import Mem0MemoryService


def resolved(value):
    """Secrets come from the environment: "$NAME", or "$NAME#a.b" for a value inside the JSON in NAME."""
    if isinstance(value, dict):
        return {{key: resolved(item) for key, item in value.items()}}
    if isinstance(value, str) and value.startswith("$"):
        name, _, path = value[1:].partition("#")
        found = os.environ[name]
        for part in path.split(".") if path else ():
            found = (json.loads(found) if isinstance(found, str) else found)[part]
        return found
    return value


memory = Mem0MemoryService(
{arguments}
    params=Mem0MemoryService.InputParams(**{params}),
)
'''


def bot_snippet(export: BotExport) -> str:
    """Python a bot can paste: the environment, then `Mem0MemoryService` built from the export."""
    source = {"local_config": export.local_config} if export.local_config is not None else {"api_key": export.api_key}
    arguments = [f"    {name}=resolved({_literal(value, 4)})," for name, value in source.items()]
    if export.host:
        arguments.append(f"    host={export.host!r},")
    arguments += [f"    {name}={getattr(export, name)!r}," for name in ("user_id", "agent_id", "run_id")]
    header = "".join(f"# {warning}\n" for warning in export.warnings)
    return header + _SNIPPET.format(
        env=_literal(dict(export.env), 0), arguments="\n".join(arguments), params=_literal(dict(export.params), 4)
    )


def _literal(value: Any, indent: int) -> str:
    """`value` as a Python literal, one key per line, nested dicts indented by four from `indent`."""
    if not isinstance(value, Mapping) or not value:
        return repr(dict(value) if isinstance(value, Mapping) else value)
    inner = " " * (indent + 4)
    lines = [f"{inner}{key!r}: {_literal(item, indent + 4)}," for key, item in value.items()]
    return "{\n" + "\n".join(lines) + "\n" + " " * indent + "}"
