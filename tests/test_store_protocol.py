"""The `Store` protocol: the SQLite stores satisfy it, and it holds only what callers outside the store use."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from postgres_server import PostgresServer, postgres

from memory_core import Mem0Store, PostgresStore, SQLiteStore, Store

__all__ = ["postgres"]  # the fixture, imported for this module

ROOT = Path(__file__).resolve().parents[1]
# The store package implements the protocol; transfer.py there is written against it, like any other caller.
IMPLEMENTATION = {path for path in (ROOT / "memory_core" / "store").glob("*.py") if path.name != "transfer.py"}
Parameter = inspect.Parameter
VARIADIC = (Parameter.VAR_POSITIONAL, Parameter.VAR_KEYWORD)


def protocol_parts(protocol: type) -> Iterator[type]:
    """The protocol and the protocols it is composed of."""
    for cls in protocol.__mro__:
        if cls is not Protocol and getattr(cls, "_is_protocol", False):
            yield cls


def methods(protocol: type) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in protocol_parts(protocol):
        for name, value in vars(part).items():
            if inspect.isfunction(value) and not (name.startswith("__") and name.endswith("__")):
                found.setdefault(name, value)
    return found


def attributes(protocol: type) -> set[str]:
    return {name for part in protocol_parts(protocol) for name in vars(part).get("__annotations__", {})}


def members(protocol: type) -> set[str]:
    return set(methods(protocol)) | attributes(protocol)


def mismatches(wanted: inspect.Signature, given: inspect.Signature) -> list[str]:
    """How `given` fails to accept every call `wanted` allows (by parameter name, kind and default)."""
    problems: list[str] = []
    offered = given.parameters
    takes_keywords = any(p.kind is Parameter.VAR_KEYWORD for p in offered.values())
    positional = [p for p in offered.values() if p.kind in (Parameter.POSITIONAL_ONLY, Parameter.POSITIONAL_OR_KEYWORD)]
    for index, param in enumerate(p for p in wanted.parameters.values() if p.name != "self"):
        match = offered.get(param.name)
        if param.kind is Parameter.KEYWORD_ONLY:
            if match is None and not takes_keywords:
                problems.append(f"no keyword {param.name!r}")
            elif match is not None and match.kind not in (Parameter.KEYWORD_ONLY, Parameter.POSITIONAL_OR_KEYWORD):
                problems.append(f"{param.name!r} cannot be passed by keyword")
        elif index + 1 >= len(positional) or positional[index + 1].name != param.name:
            problems.append(f"positional {param.name!r} is not in place {index}")
        if match is not None and param.default is not Parameter.empty and match.default is Parameter.empty:
            problems.append(f"{param.name!r} has no default")
    named = set(wanted.parameters)
    for param in offered.values():
        required = param.default is Parameter.empty and param.kind not in VARIADIC
        if required and param.name not in named:
            problems.append(f"requires {param.name!r}, which the protocol does not pass")
    return problems


@pytest.mark.parametrize("cls", [SQLiteStore, Mem0Store, PostgresStore])
def test_the_sql_stores_have_every_method_with_a_compatible_signature(cls: type) -> None:
    problems = {
        name: mismatches(inspect.signature(wanted), inspect.signature(getattr(cls, name)))
        for name, wanted in methods(Store).items()
        if hasattr(cls, name)
    }
    assert {name for name in methods(Store) if not hasattr(cls, name)} == set()
    assert {name: found for name, found in problems.items() if found} == {}


def test_a_store_has_the_protocols_attributes(tmp_path: Path) -> None:
    assert issubclass(Mem0Store, SQLiteStore)  # so it has what an SQLiteStore has
    with SQLiteStore(tmp_path / "memory.sqlite3") as store:
        assert {name for name in attributes(Store) if not hasattr(store, name)} == set()
        assert store.describe() == "embedded SQLite"
    with SQLiteStore(":memory:") as store:
        assert store.describe() == "SQLite in memory"


def test_the_postgresql_store_has_the_protocols_attributes(postgres: PostgresServer) -> None:
    with PostgresStore(postgres.url) as store:
        assert {name for name in attributes(Store) if not hasattr(store, name)} == set()
        assert store.describe() == f"PostgreSQL at 127.0.0.1:{postgres.port}/memtune"


def test_the_check_catches_a_missing_keyword_and_a_moved_argument() -> None:
    def wanted(self: object, scope: str, item_id: str, *, source: str = "api") -> None: ...

    def swapped(self: object, item_id: str, scope: str, source: str = "api") -> None: ...

    def strict(self: object, scope: str, item_id: str, *, source: str) -> None: ...

    assert mismatches(inspect.signature(wanted), inspect.signature(swapped)) != []
    assert mismatches(inspect.signature(wanted), inspect.signature(strict)) == ["'source' has no default"]


def test_the_protocol_is_composed_and_names_nothing_private() -> None:
    assert len(list(protocol_parts(Store))) > 1
    assert sorted(name for name in members(Store) if name.startswith("_")) == []
    assert "path" not in members(Store)  # the SQLite file is the SQLite store's own business
    assert "vector_matrix" not in members(Store)  # an optional fast path, detected by the dense index


def test_every_member_is_used_outside_the_store() -> None:
    callers = [*(ROOT / "memory_core").rglob("*.py"), *(ROOT / "console").rglob("*.py"), ROOT / "app.py"]
    text = "\n".join(path.read_text(encoding="utf-8") for path in callers if path not in IMPLEMENTATION)
    assert sorted(name for name in members(Store) if not re.search(rf"\.{name}\b", text)) == []
