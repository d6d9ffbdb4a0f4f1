"""The Inspector shows the memory block's size against its token budget, and what the budget left out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import running_app
from gradio_client import Client

# gradio_client and uvicorn leave sockets and event loops for the garbage collector; not our resources.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning"),
    pytest.mark.usefixtures("collect_garbage"),
]

SCOPE = ("default", "demo", "demo", True, "rule", "hybrid")
TEA, DOG = "还记得我喜欢喝什么茶吗", "what is my dog called?"


def _inspect(tmp_path: Path, text: str, **env: str) -> tuple[str, list[list[object]], str]:
    """One turn under a 40-token budget: what the Inspector shows (its query line, hits and exact messages)."""
    with running_app(tmp_path, MEMTUNE_MEMORY_TOKEN_BUDGET="40", **env) as url:
        client = Client(url, verbose=False)
        client.predict(*SCOPE, api_name="/start_chat")
        client.predict(text, False, api_name="/send")
        _, _, query, hits, _, spans, *_ = client.predict(f"Turn 1: {text}", api_name="/inspect")
        client.close()
    return query, hits["data"], "".join(span["token"] for span in spans)


@pytest.fixture(scope="module")
def inspected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[str, list[list[object]], str]]]:
    """The tea turn with no fusion threshold (five memories recalled, which do not all fit), and the dog turn
    with the default one (its one memory fits)."""
    yield [_inspect(tmp_path_factory.mktemp("tea"), TEA, MEMTUNE_FUSION_MIN_SCORE="0"),
           _inspect(tmp_path_factory.mktemp("dog"), DOG)]  # fmt: skip


def test_the_inspector_lists_what_the_budget_left_out(inspected: list[tuple[str, list[list[object]], str]]) -> None:
    query, hits, prompt = inspected[0]
    first, *left_out = query.split("\n\n")[-1].split("\n")
    assert first.startswith("**Memory block** ≈ ") and " tokens of 40 · " in first
    assert first.endswith(f"{len(left_out)} of {len(hits)} memories left out to stay within 40 tokens")
    dropped = [line.split("`")[1] for line in left_out]
    assert dropped and set(dropped) < {hit[1] for hit in hits}  # some hits, by their ids, not all
    text_of = {hit[1]: hit[2] for hit in hits}
    assert all(line.startswith("- left out for the budget: `") for line in left_out)
    assert all((text_of[hit[1]] in prompt) == (hit[1] not in dropped) for hit in hits)


def test_the_inspector_shows_only_the_size_when_every_memory_fits(
    inspected: list[tuple[str, list[list[object]], str]],
) -> None:
    query, hits, prompt = inspected[1]
    size = query.split("\n\n")[-1]
    assert size.startswith("**Memory block** ≈ ") and size.endswith(" tokens of 40")
    assert hits and "left out" not in query and "Biscuit" in prompt
