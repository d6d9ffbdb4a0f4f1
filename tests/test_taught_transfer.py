"""Taught examples travel with a library's JSON export: the profile's own, validated whole, never duplicated."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import HashingEmbedder
from postgres_server import open_store, postgres
from test_local_judge import ROWS

from memory_core import InvalidInputError, NewItem, NotFoundError, RecallDecider, Scope
from memory_core.cli import main
from memory_core.decide.local_judge import LocalJudge, train
from memory_core.models import NewTaughtExample, TaughtExample
from memory_core.store.sqlite import SQLStore
from memory_core.store.transfer import (
    MAX_VECTOR_DIMENSION,
    export_csv,
    export_library,
    import_csv,
    import_library,
    read_library_file,
    write_library_file,
)

__all__ = ["open_store", "postgres"]  # the fixtures, imported for this module

SOURCE = Scope("alice", "luna", "main")
TARGET = Scope("carol", "sol", "copy")
EMBEDDER = HashingEmbedder(dims=64)
MODEL = EMBEDDER.name
TAUGHT = "how tall is the eiffel tower"  # the judge's training says: no recall (see test_teaching)
PARAPHRASE = "so how tall is the eiffel tower"


def embed(text: str) -> bytes:
    return bytes(EMBEDDER.embed([text], kind="query")[0].astype(np.float32).tobytes())


@pytest.fixture
def source(open_store: Callable[..., SQLStore]) -> Iterator[SQLStore]:
    """Alice's library of Luna, with two examples she taught, one shared one and one of Bob's."""
    with open_store("source") as store:
        store.add_items(SOURCE, [NewItem(text="likes green tea", id="tea")], create_library_name="Luna")
        store.teach("luna", TAUGHT, True, embed(TAUGHT), MODEL, owner="alice")
        store.teach("luna", "我们上次聊到哪了", True, embed("我们上次聊到哪了"), "other/model-v2", owner="alice")
        store.teach("luna", "shared lesson", False, embed("shared lesson"), MODEL)
        store.teach("luna", "bob's lesson", False, embed("bob's lesson"), MODEL, owner="bob")
        yield store


@pytest.fixture
def target(open_store: Callable[..., SQLStore]) -> Iterator[SQLStore]:
    with open_store("target") as store:
        yield store


def document_of(store: SQLStore, scope: Scope = SOURCE) -> dict[str, Any]:
    """An export as it comes back from a file: through JSON text."""
    return dict(json.loads(json.dumps(export_library(store, scope), ensure_ascii=False)))


def lessons(examples: tuple[TaughtExample, ...]) -> list[tuple[str, bool, str, bytes, str]]:
    return [(e.text, e.should_recall, e.model, e.vector, e.created_at) for e in examples]


def library_file(examples: Any, items: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """A hand-written version 1 document."""
    return {"format": "memtune.library", "version": 1, "items": list(items), "taught_examples": examples}


def one_example(**changes: Any) -> dict[str, Any]:
    vector = base64.b64encode(embed("x")).decode("ascii")
    return {"text": "remember me", "should_recall": True, "model": MODEL, "vector": vector, **changes}


# Export


def test_the_export_carries_the_profiles_own_examples_only(source: SQLStore) -> None:
    exported = document_of(source)["taught_examples"]
    assert [row["text"] for row in exported] == [TAUGHT, "我们上次聊到哪了"]
    assert set(exported[0]) == {"text", "should_recall", "model", "vector", "created_at"}
    assert (exported[0]["should_recall"], exported[1]["model"]) == (True, "other/model-v2")
    assert exported[0]["created_at"] == source.taught_examples("luna", owner="alice")[0].created_at


def test_the_exported_vector_decodes_to_the_same_floats(source: SQLStore) -> None:
    row = document_of(source)["taught_examples"][0]
    floats = np.frombuffer(base64.b64decode(row["vector"], validate=True), dtype=np.float32)
    expected = EMBEDDER.embed([TAUGHT], kind="query")[0].astype(np.float32)
    assert floats.shape == (64,) and np.array_equal(floats, expected)


def test_a_profile_without_examples_exports_an_empty_list(source: SQLStore) -> None:
    source.add_items(Scope("dora", "luna"), [NewItem(text="hers")], create_library_name="Dora's")
    assert export_library(source, Scope("dora", "luna"))["taught_examples"] == []


def test_csv_stays_items_only(source: SQLStore, target: SQLStore) -> None:
    table = export_csv(source, SOURCE)
    assert TAUGHT not in table and table.splitlines()[0].startswith("id,text,")
    report = import_csv(target, TARGET, table)
    assert (report.imported, report.examples_imported, report.examples_skipped) == (1, 0, 0)
    assert target.taught_examples("sol", owner="carol") == ()


# Import


def test_round_trip_into_another_store_and_profile(source: SQLStore, target: SQLStore) -> None:
    report = import_library(target, TARGET, document_of(source))
    assert (report.imported, report.skipped, report.examples_imported, report.examples_skipped) == (1, 0, 2, 0)
    copied = target.taught_examples("sol", owner="carol")
    assert lessons(copied) == lessons(source.taught_examples("luna", owner="alice"))
    assert {(e.owner, e.character_id) for e in copied} == {("carol", "sol")}


def test_examples_belong_to_the_importing_scope_not_the_files(source: SQLStore, target: SQLStore) -> None:
    import_library(target, TARGET, document_of(source))
    assert target.taught_examples("luna", owner="alice") == ()
    assert target.taught_examples("sol") == () and target.taught_examples("luna") == ()
    assert len(target.taught_examples("sol", owner="carol")) == 2


def test_a_file_from_before_examples_imports_unchanged(target: SQLStore) -> None:
    old = library_file(None, ({"id": "k", "text": "kept"},))
    del old["taught_examples"]
    report = import_library(target, TARGET, old)
    assert (report.imported, report.skipped, report.examples_imported, report.examples_skipped) == (1, 0, 0, 0)
    assert [item.text for item in target.iter_items(TARGET)] == ["kept"]
    assert import_library(target, TARGET, {**old, "taught_examples": None}, on_conflict="skip").skipped == 1


def test_reimporting_does_not_duplicate(source: SQLStore, target: SQLStore) -> None:
    document = document_of(source)
    import_library(target, TARGET, document)
    again = import_library(target, TARGET, document, on_conflict="skip")
    assert (again.imported, again.skipped, again.examples_imported, again.examples_skipped) == (0, 1, 0, 2)
    other_library = import_library(target, Scope("carol", "sol", "second"), document)
    assert (other_library.imported, other_library.examples_imported, other_library.examples_skipped) == (1, 0, 2)
    assert len(target.taught_examples("sol", owner="carol")) == 2


def test_an_example_repeated_in_one_file_is_stored_once(target: SQLStore) -> None:
    document = library_file([one_example(), one_example(text="  remember me "), one_example(should_recall=False)])
    report = import_library(target, TARGET, document)
    assert (report.examples_imported, report.examples_skipped) == (2, 1)
    assert [e.should_recall for e in target.taught_examples("sol", owner="carol")] == [True, False]


def test_an_imported_example_without_a_date_is_dated_now(target: SQLStore) -> None:
    import_library(target, TARGET, library_file([one_example()]))
    (example,) = target.taught_examples("sol", owner="carol")
    assert example.created_at.endswith("Z") and example.id.startswith("ex_")


def test_an_imported_example_decides_for_the_importing_profile(source: SQLStore, target: SQLStore) -> None:
    decider = RecallDecider(None, LocalJudge(EMBEDDER, train(ROWS, EMBEDDER)))
    assert not decider.decide(PARAPHRASE, mode="hybrid").should_recall
    import_library(target, TARGET, document_of(source))
    decision = decider.decide(PARAPHRASE, mode="hybrid", taught=target.taught_examples("sol", owner="carol"))
    assert decision.should_recall and decision.decided_by == "taught_example"


def test_the_largest_vector_is_accepted(target: SQLStore) -> None:
    largest = np.linspace(-1, 1, MAX_VECTOR_DIMENSION, dtype=np.float32)
    vector = base64.b64encode(largest.tobytes()).decode("ascii")
    assert import_library(target, TARGET, library_file([one_example(vector=vector)])).examples_imported == 1
    assert target.taught_examples("sol", owner="carol")[0].vector == largest.tobytes()


NOT_FINITE = base64.b64encode(np.array([1.0, np.nan], dtype=np.float32).tobytes()).decode("ascii")
INFINITE = base64.b64encode(np.array([np.inf, 1.0], dtype=np.float32).tobytes()).decode("ascii")
TOO_LONG = base64.b64encode(np.ones(MAX_VECTOR_DIMENSION + 1, dtype=np.float32).tobytes()).decode("ascii")


@pytest.mark.parametrize(
    ("example", "message"),
    [
        ("not an object", "Taught example 2 must be an object"),
        (one_example(label=True), "Taught example 2 has unknown fields: label"),
        (one_example(vector="not base64!"), "Taught example 2: vector is not base64"),
        (one_example(vector="ünïcode"), "Taught example 2: vector is not base64"),
        (one_example(vector=[1.0, 2.0]), "Taught example 2: vector must be a base64 string"),
        (one_example(vector=None), "Taught example 2: vector must be a base64 string"),
        (one_example(vector=""), "Taught example 2: vector is 0 bytes"),
        (one_example(vector="AAAAAAA="), "Taught example 2: vector is 5 bytes"),
        (one_example(vector=NOT_FINITE), "Taught example 2: vector holds a value that is not finite"),
        (one_example(vector=INFINITE), "Taught example 2: vector holds a value that is not finite"),
        (one_example(vector=TOO_LONG), f"Taught example 2: vector has more than {MAX_VECTOR_DIMENSION} dimensions"),
        (one_example(text="   "), "Taught example 2: text is empty"),
        (one_example(text=None), "Taught example 2: text must be a string"),
        (one_example(text="x" * 20_001), "Taught example 2: text is longer than 20000"),
        (one_example(text="\ud800"), "Taught example 2: text"),
        (one_example(should_recall=1), "Taught example 2: should_recall must be a boolean, got int"),
        (one_example(should_recall="true"), "Taught example 2: should_recall must be a boolean, got str"),
        (one_example(model=""), "Taught example 2: model is empty"),
        (one_example(model=7), "Taught example 2: model must be a string"),
        (one_example(created_at="yesterday"), "Taught example 2: created_at 'yesterday' is not an ISO-8601"),
        (one_example(created_at=5), "Taught example 2: created_at must be a string"),
    ],
)
def test_a_bad_example_rejects_the_whole_file(target: SQLStore, example: Any, message: str) -> None:
    document = library_file([one_example(), example], ({"text": "not written either"},))
    with pytest.raises(InvalidInputError, match="^" + re.escape(message)):
        import_library(target, TARGET, document)
    assert_nothing_written(target)


def test_taught_examples_must_be_a_list(target: SQLStore) -> None:
    with pytest.raises(InvalidInputError, match=r"^taught_examples must be a list$"):
        import_library(target, TARGET, library_file({}, ({"text": "no"},)))
    assert_nothing_written(target)


def assert_nothing_written(store: SQLStore) -> None:
    with pytest.raises(NotFoundError):
        store.get_library(TARGET)
    assert store.taught_examples("sol", owner="carol") == ()


# The store's batch


def test_a_batch_skips_what_the_owner_already_has(target: SQLStore) -> None:
    vector = embed("lesson")
    known = target.teach("sol", "lesson", True, vector, MODEL, owner="carol")
    batch = [
        NewTaughtExample("lesson", True, MODEL, vector),  # the same lesson: skipped
        NewTaughtExample("lesson", False, MODEL, vector),  # another label
        NewTaughtExample("lesson", True, "other-model", vector),  # another model
        NewTaughtExample(" dated ", True, MODEL, vector, created_at="2020-01-02T03:04:05+00:00"),
    ]
    stored = target.add_taught_examples("sol", batch, owner="carol")
    assert [(e.text, e.should_recall, e.model) for e in stored] == [("lesson", False, MODEL),
            ("lesson", True, "other-model"), ("dated", True, MODEL)]  # fmt: skip
    assert stored[-1].created_at == "2020-01-02T03:04:05.000000Z"
    assert set(target.taught_examples("sol", owner="carol")) == {known, *stored}
    assert target.add_taught_examples("sol", batch, owner="carol") == ()
    assert len(target.add_taught_examples("sol", batch)) == 4  # shared examples are another owner's


def test_a_bad_example_in_a_batch_writes_nothing(target: SQLStore) -> None:
    batch = [NewTaughtExample("fine", True, MODEL, embed("fine")), NewTaughtExample("bad", True, MODEL, b"abc")]
    with pytest.raises(InvalidInputError, match="vector must be non-empty float32 bytes"):
        target.add_taught_examples("sol", batch, owner="carol")
    assert target.taught_examples("sol", owner="carol") == ()


# Files and the CLI


def test_files_carry_examples_in_json_only(source: SQLStore, target: SQLStore, tmp_path: Path) -> None:
    assert write_library_file(source, SOURCE, tmp_path / "luna.json") == 1
    written = json.loads((tmp_path / "luna.json").read_text(encoding="utf-8"))
    assert [row["text"] for row in written["taught_examples"]] == [TAUGHT, "我们上次聊到哪了"]
    report = read_library_file(target, TARGET, tmp_path / "luna.json")
    assert (report.imported, report.examples_imported) == (1, 2)
    write_library_file(source, SOURCE, tmp_path / "luna.csv")
    assert TAUGHT not in (tmp_path / "luna.csv").read_text(encoding="utf-8-sig")


def test_the_cli_import_counts_examples(source: SQLStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMTUNE_DATA_DIR", str(tmp_path / "data"))
    write_library_file(source, SOURCE, tmp_path / "luna.json")
    scope = ["import", str(tmp_path / "luna.json"), "--profile", "carol", "--character", "sol", "--library", "copy"]
    assert run_cli(*scope) == {"library": "copy", "imported": 1, "skipped": 0, "examples_imported": 2}
    assert run_cli(*scope, "--on-conflict", "skip") == {"library": "copy", "imported": 0, "skipped": 1,
                                                        "examples_skipped": 2}  # fmt: skip


def run_cli(*argv: str) -> dict[str, Any]:
    out = io.StringIO()
    assert main(list(argv), out=out) == 0
    return dict(json.loads(out.getvalue()))
