"""The Inspector shows the memory block's size against its token budget, and what the budget left out."""

from __future__ import annotations

from collections.abc import Iterator

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


@pytest.fixture(scope="module")
def inspected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[str, list[list[object]], str]]]:
    """Two turns with the demo character under a 40-token budget: for each, what the Inspector shows (its query
    line, hits and exact messages). The tea turn's three memories do not all fit; the dog's one does."""
    with running_app(tmp_path_factory.mktemp("budget"), MEMTUNE_MEMORY_TOKEN_BUDGET="40") as url:
        client = Client(url, verbose=False)
        client.predict(*SCOPE, api_name="/start_chat")
        shown = []
        for turn, text in enumerate((TEA, DOG), 1):
            client.predict(text, False, api_name="/send")
            _, _, query, hits, _, spans, *_ = client.predict(f"Turn {turn}: {text}", api_name="/inspect")
            shown.append((query, hits["data"], "".join(span["token"] for span in spans)))
        client.close()
        yield shown


def test_the_inspector_lists_what_the_budget_left_out(inspected: list[tuple[str, list[list[object]], str]]) -> None:
    query, hits, prompt = inspected[0]
    first, *left_out = query.split("\n\n")[-1].split("\n")
    assert first.startswith("**Memory block** ≈ ") and " tokens of 40 · " in first
    assert first.endswith(f"{len(left_out)} of {len(hits)} memories left out to stay within 40 tokens")
    assert [line.split("`")[1] for line in left_out] == [hits[2][1]]  # the third hit, by its id
    assert left_out[0].startswith("- left out for the budget: `") and left_out[0].endswith(f" · {hits[2][2]}")
    assert hits[0][2] in prompt and hits[1][2] in prompt and hits[2][2] not in prompt


def test_the_inspector_shows_only_the_size_when_every_memory_fits(
    inspected: list[tuple[str, list[list[object]], str]],
) -> None:
    query, hits, prompt = inspected[1]
    size = query.split("\n\n")[-1]
    assert size.startswith("**Memory block** ≈ ") and size.endswith(" tokens of 40")
    assert hits and "left out" not in query and "Biscuit" in prompt
