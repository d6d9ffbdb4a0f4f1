"""Two `python app.py` processes on one PostgreSQL database: what is written through one, the other lists and
recalls within a second (its search indexes follow the store's change feed), and the load test against the
pair loses, duplicates and resurrects nothing."""

from __future__ import annotations

import json
import math
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, running_app
from postgres_server import PostgresServer, empty_database, postgres

__all__ = ["postgres"]

VISIBLE_WITHIN_S = 1.0
GIVE_UP_S = 10.0  # how long a poll waits, so that a failure says how late the change was rather than just "late"
PROFILE, CHARACTER = "alice", "tutor"
QUESTION = "do you remember what tea I like?"  # explicit recall for the rules


@contextmanager
def running_apps(*configs: tuple[Path, dict[str, str]]) -> Iterator[list[str]]:
    """Several `running_app`s, started at once (each takes seconds to start), stopped on the way out."""
    managers = [running_app(data, **env) for data, env in configs]
    with ThreadPoolExecutor(len(managers)) as pool:
        futures = [pool.submit(manager.__enter__) for manager in managers]
    with ExitStack() as started:
        for manager, future in zip(managers, futures, strict=True):
            if future.exception() is None:  # one that failed to start has stopped its process already
                started.push(manager.__exit__)
        yield [future.result() for future in futures]


@pytest.fixture(scope="module")
def pair(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, ...]]:
    """REST clients of two consoles with their own data folders and one database (and one token)."""
    token = secrets.token_urlsafe(16)
    env = {"MEMTUNE_DATABASE_URL": empty_database(postgres, "pair"), "MEMTUNE_API_TOKEN": token}
    folders = [tmp_path_factory.mktemp(name) for name in ("console-a", "console-b")]
    with running_apps(*((folder, env) for folder in folders)) as urls, ExitStack() as clients:
        headers = {"Authorization": f"Bearer {token}"}
        yield tuple(clients.enter_context(httpx.Client(base_url=url, headers=headers, timeout=10)) for url in urls)


def params() -> dict[str, str]:
    return {"profile_id": PROFILE, "character_id": CHARACTER}


def create_library(console: httpx.Client, library_id: str) -> None:
    body = {"id": library_id, **params()}
    console.post("/memory/libraries", json=body).raise_for_status()


def add(console: httpx.Client, library_id: str, text: str) -> str:
    response = console.post(f"/memory/libraries/{library_id}/items", params=params(), json={"text": text})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def listed(console: httpx.Client, library_id: str) -> dict[str, str]:
    response = console.get(f"/memory/libraries/{library_id}/items", params=params())
    response.raise_for_status()
    return {item["id"]: item["text"] for item in response.json()["items"]}


def recalled(console: httpx.Client, library_id: str) -> dict[str, str]:
    """The hits of QUESTION in the library, id to text; the rules must decide to recall for it to mean anything."""
    body = {"text": QUESTION, "library_id": library_id, **params()}
    response = console.post("/memory/recall", json=body)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    assert answer["decision"]["should_recall"], answer["decision"]
    return {hit["item"]["id"]: hit["item"]["text"] for hit in answer["hits"]}


def seconds_until(acknowledged: float, check: Callable[[], bool]) -> float:
    """Seconds from ``acknowledged`` (a time.monotonic()) until ``check()`` first holds; inf if it never does."""
    while not check():
        if time.monotonic() - acknowledged > GIVE_UP_S:
            return math.inf
        time.sleep(0.02)
    return time.monotonic() - acknowledged


def test_a_memory_added_through_one_console_is_listed_and_recalled_by_the_other_within_a_second(
    pair: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = pair
    create_library(a, "added")
    assert recalled(b, "added") == {}  # B has the library's indexes before the add: they must follow the feed
    item_id = add(a, "added", "I like oolong tea")
    acknowledged = time.monotonic()
    to_list = seconds_until(acknowledged, lambda: item_id in listed(b, "added"))
    to_recall = seconds_until(acknowledged, lambda: recalled(b, "added").get(item_id) == "I like oolong tea")
    assert to_list < VISIBLE_WITHIN_S and to_recall < VISIBLE_WITHIN_S, (to_list, to_recall)


def test_an_edit_and_a_delete_through_one_console_are_recalled_by_the_other_within_a_second(
    pair: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = pair
    create_library(a, "changed")
    item_id = add(a, "changed", "I like oolong tea")
    assert recalled(a, "changed") == {item_id: "I like oolong tea"}
    assert seconds_until(time.monotonic(), lambda: item_id in listed(b, "changed")) < VISIBLE_WITHIN_S
    path = f"/memory/libraries/changed/items/{item_id}"

    b.patch(path, params=params(), json={"text": "I like jasmine tea"}).raise_for_status()
    acknowledged = time.monotonic()
    to_edit = seconds_until(acknowledged, lambda: recalled(a, "changed") == {item_id: "I like jasmine tea"})
    assert to_edit < VISIBLE_WITHIN_S, to_edit

    b.delete(path, params=params()).raise_for_status()
    acknowledged = time.monotonic()
    to_delete = seconds_until(acknowledged, lambda: recalled(a, "changed") == {})
    assert to_delete < VISIBLE_WITHIN_S, to_delete
    assert listed(a, "changed") == {}


def test_sixteen_clients_against_the_pair_lose_duplicate_and_resurrect_nothing(postgres: PostgresServer) -> None:
    url = empty_database(postgres, "pair_load")
    command = [sys.executable, str(ROOT / "bench" / "load.py"), "--clients", "16", "--ops", "15",
               "--database-url", url, "--servers", "2", "--max-seconds", "60"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.stdout, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert (result["servers"], result["database"], result["ops"]) == (2, "postgresql", 16 * 15)
    assert result["lost"] == result["duplicated"] == result["resurrected"] == 0, result
    # An error is "kind:status", or "kind:ExceptionName" for a request that got no answer at all
    failed = [error for error in result["errors"] if not error.split(":")[1].startswith("4")]
    assert failed == [], result["errors"]
    assert done.returncode == 0 and result["ok"], done.stdout[-3000:]
