"""The console's handlers through gradio_client against a launched app (the real HTTP/SSE path)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from memory_core import MemoryEngine
from memory_core.demo import demo_scope

# gradio_client and uvicorn leave sockets and event loops for the garbage collector; not our resources.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning"),
    pytest.mark.usefixtures("collect_garbage"),
]


def text_of(message: dict) -> str:
    """Chatbot content comes back as content blocks in Gradio 6; join their text."""
    content = message["content"]
    return content if isinstance(content, str) else "".join(block.get("text", "") for block in content)


SCOPE = ("default", "demo", "demo", True, "rule", "hybrid")
OFFLINE_TEA_REPLY = "你喜欢喝乌龙茶，不加糖，对吧？"
KNOBS = ("rule", 2000, "hybrid", 1, 0.0, 2000, 1.0, "pipecat", "MEM: ", 1, True, "hybrid", True, 8, 3, 30000, 20000,
         "fusion", 0.6, 0.6, 200, 600, 0.05, 0.7, False, 0.1)  # fmt: skip


def test_chat_turn_shows_the_decision_and_recalls(client: Client) -> None:
    chat, status, _ = client.predict(*SCOPE, api_name="/start_chat")
    assert "Welcome back! Last time you" in text_of(chat[0]) and "Mia (demo)" in status
    chat, _, with_memory, without_memory, *_ = client.predict("还记得我喜欢喝什么茶吗", True, api_name="/send")
    user, note, reply = chat[-3:]
    assert text_of(user) == "还记得我喜欢喝什么茶吗"
    assert note["metadata"]["title"].startswith("🧠 Recalled") and "preference_context" in text_of(note)
    assert "你喜欢喝乌龙茶，不加糖" in text_of(reply)
    assert "乌龙茶" in with_memory and "乌龙茶" not in without_memory and "还不了解你" in without_memory
    turn, decision, query, hits, *_ = client.predict("Turn 1: 还记得我喜欢喝什么茶吗", api_name="/inspect")
    assert turn["value"] == "Turn 1: 还记得我喜欢喝什么茶吗" and "还记得我喜欢喝什么茶吗" in query
    assert decision["reason"] == "preference_context" and decision["decided_by"] == "rule"
    assert hits["data"][0][2] == "我喜欢喝乌龙茶，不加糖"


def test_two_visitors_do_not_share_chats(running: tuple[str, MemoryEngine]) -> None:
    first, second = Client(running[0], verbose=False), Client(running[0], verbose=False)
    first.predict(*SCOPE, api_name="/start_chat")
    second.predict(*SCOPE, api_name="/start_chat")
    first_chat = first.predict("I prefer tea in the afternoon", False, api_name="/send")[0]
    second_chat = second.predict("hello", False, api_name="/send")[0]
    assert any("tea in the afternoon" in text_of(m) for m in first_chat)
    assert not any("tea in the afternoon" in text_of(m) for m in second_chat)
    first.close()
    second.close()


def test_item_edit_through_the_libraries_tab(client: Client, running: tuple[str, MemoryEngine]) -> None:
    engine = running[1]
    assert engine.store is not None
    item = next(i for i in engine.store.iter_items(demo_scope()) if i.text.startswith("My dog"))
    filters = ("", "", "", 1, 20)
    status, _, items, page, audit, view, shown_id, *_ = client.predict(
        "default", "demo", "demo", item.id, "My dog is called Biscuit, a four-year-old beagle", "fact",
        "entity_relation", "high", *filters, api_name="/save_item",
    )  # fmt: skip
    assert status == f"Saved `{item.id}`." and "matching memories" in page and view == "" and shown_id == item.id
    assert audit.startswith("**Write audit** of `demo`:") and "memories · questions" in audit
    edited = engine.store.get_item(demo_scope(), item.id)
    assert edited.text.endswith("four-year-old beagle")
    assert [e.event for e in engine.store.history(demo_scope(), item.id)] == ["add", "update"]
    assert any(row[1].endswith("four-year-old beagle") for row in items["data"])


def test_compare_and_batch(client: Client, tmp_path: Path) -> None:
    client.predict(*SCOPE, api_name="/start_chat")
    rule, hybrid, llm, differences = client.predict("介绍一下这个项目？", api_name="/compare")
    assert "### rule" in rule and "Decided by:** local_judge" in hybrid and "### llm" in llm
    assert "decided_by" in differences
    batch = tmp_path / "messages.jsonl"
    batch.write_text(
        "\n".join(json.dumps({"text": t, "should_recall": label}, ensure_ascii=False) for t, label in
                  [("继续上次的话题", True), ("hi", False), ("who is Max again?", True)]),
        encoding="utf-8",
    )  # fmt: skip
    metrics, confusion, chart, disagreements, csv_file, status = client.predict(
        handle_file(str(batch)), api_name="/batch"
    )
    assert status.startswith("Ran ") and "through rule, hybrid, llm" in status
    assert metrics["headers"][:3] == ["mode", "n", "accuracy"]
    assert [row[0] for row in metrics["data"]] == ["rule", "hybrid", "llm"]
    assert confusion["headers"] == ["mode", "tp", "fp", "tn", "fn"]
    assert chart["data"] == [["rule", 1.0], ["hybrid", 1.0], ["llm", 1.0]]
    assert disagreements["headers"][:3] == ["id", "text", "expected"]
    assert Path(csv_file).read_text(encoding="utf-8-sig").startswith("id,text,expected")
    # An empty message or a missing file clears what the last run showed, and says why beside the button.
    assert client.predict("  ", api_name="/compare") == ("", "", "", "⚠️ Type a message to compare.")
    *cleared, status = client.predict(None, api_name="/batch")
    assert status.startswith("⚠️ Choose a JSONL or CSV file") and not cleared[0]["data"] and cleared[4] is None


def test_settings_apply_to_this_session_only(client: Client) -> None:
    client.predict(*SCOPE, api_name="/start_chat")
    knobs = ("rule", 2000, "hybrid", 2, 0.0, 2000, 1.0, "pipecat", "MEM: ", 1, True, "hybrid", True, 8, 3, 30000, 20000,
             "fusion", 0.6, 0.6, 200, 600, 0.05, 0.7, False, 0.1)  # fmt: skip
    bad = (knobs[0], -1, *knobs[2:])  # a negative decision timeout: refused beside the button, nothing applied
    status, env, _, mode, backend = client.predict(*bad, api_name="/apply_settings")
    assert status.startswith("⚠️ Not applied") and "OPENTALKING_MEMORY_DECISION_TIMEOUT_MS" in status
    assert "OPENTALKING_MEMORY_RECALL_LIMIT=2" not in env and (mode, backend) == ("rule", "hybrid")
    status, env, pipecat, mode, backend = client.predict(*knobs, api_name="/apply_settings")
    assert status == "Applied to this session."
    assert (mode, backend) == ("rule", "hybrid")  # what the chat's radios now show
    assert "OPENTALKING_MEMORY_RECALL_LIMIT=2" in env and "search_limit=2" in pipecat
    chat = client.predict("还记得我喜欢喝什么茶吗", False, api_name="/send")[0]
    assert text_of(chat[-1]).startswith(OFFLINE_TEA_REPLY)
    *_, prompt_spans, _, _, _, calls = client.predict("Turn 1: 还记得我喜欢喝什么茶吗", api_name="/inspect")
    assert calls == []  # no chat model is configured: no model calls
    text = "".join(span["token"] for span in prompt_spans)
    assert "MEM: 1." in text  # the Pipecat block with the tuned prefix


def prompt_of(visitor: Client) -> tuple[str, list[list[object]]]:
    """The exact messages of the visitor's first turn, and its hits, as the inspector shows them."""
    _, _, _, hits, _, spans, *_ = visitor.predict("Turn 1: 还记得我喜欢喝什么茶吗", api_name="/inspect")
    return "".join(span["token"] for span in spans), hits["data"]


def test_one_visitors_settings_leave_another_visitors_session_alone(running: tuple[str, MemoryEngine]) -> None:
    tuned, other, late = (Client(running[0], verbose=False) for _ in range(3))
    tuned.predict(*SCOPE, api_name="/start_chat")
    other.predict(*SCOPE, api_name="/start_chat")
    assert tuned.predict(*KNOBS, api_name="/apply_settings")[0] == "Applied to this session."
    late.predict(*SCOPE, api_name="/start_chat")  # a session opened after the change
    for visitor in (tuned, other, late):
        visitor.predict("还记得我喜欢喝什么茶吗", False, api_name="/send")
    prompt, hits = prompt_of(tuned)
    assert "MEM: 1. 我喜欢喝乌龙茶，不加糖" in prompt and "Relevant user memories" not in prompt
    assert [row[2] for row in hits] == ["我喜欢喝乌龙茶，不加糖"]  # recall_limit 1
    for untouched in (other, late):
        prompt, hits = prompt_of(untouched)
        assert "MEM: " not in prompt  # the reference style and the default limit, not the tuned visitor's
        assert "[user]\nRelevant user memories:\n\nPreferences:\n- 我喜欢喝乌龙茶，不加糖\n" in prompt
        assert hits[0][2] == "我喜欢喝乌龙茶，不加糖" and len(hits) > 1
    for visitor in (tuned, other, late):
        visitor.close()


# Teaching recall decisions where the user sees them

HYBRID_SCOPE = ("default", "demo", "demo", True, "hybrid", "hybrid")
SISTER = "Tell me about my sister's new job"


@pytest.fixture
def teaching(client: Client, running: tuple[str, MemoryEngine]) -> Iterator[Client]:
    """A hybrid chat with the demo character; whatever the test taught is forgotten afterwards."""
    client.predict(*HYBRID_SCOPE, api_name="/start_chat")
    yield client
    store = running[1].store
    assert store is not None
    for example in store.taught_examples("demo", owner="default"):
        store.forget_example(example.id, character_id="demo", owner="default")


def hybrid_column(client: Client, text: str) -> str:
    return str(client.predict(text, api_name="/compare")[1])


def test_a_compared_message_taught_decides_itself_and_near_paraphrases(teaching: Client) -> None:
    before = hybrid_column(teaching, SISTER)
    assert "Decided by:** rule" in before  # the rules decide it (user_owned); a taught example overrides them
    label = "should not recall" if "**Recall:** yes" in before else "should recall"
    table, status = teaching.predict(SISTER, label, api_name="/teach")
    assert status.startswith(f"Taught: “{SISTER}” should") and [row[1] for row in table["data"]] == [SISTER]
    after = hybrid_column(teaching, SISTER)
    assert "Decided by:** taught_example" in after and ("**Recall:** yes" in after) == (label == "should recall")
    assert "Decided by:** taught_example" in hybrid_column(teaching, "tell me about my sister's new job!")
    assert "Decided by:** local_judge" in hybrid_column(teaching, "What's the weather like on Mars today?")
    example_id = table["data"][0][0]
    table, status = teaching.predict(example_id, api_name="/forget_example")
    assert table["data"] == [] and example_id in status
    assert "Decided by:** rule" in hybrid_column(teaching, SISTER)


def test_teaching_the_same_message_again_replaces_its_label(teaching: Client) -> None:
    teaching.predict(SISTER, "should recall", api_name="/teach")
    teaching.predict(SISTER, "should recall", api_name="/teach")
    table, _ = teaching.predict(SISTER, "should not recall", api_name="/teach")
    assert [row[1:3] for row in table["data"]] == [[SISTER, "no"]]
    assert teaching.predict(api_name="/taught_examples")["data"] == table["data"]


def test_an_inspector_turn_is_taught_and_the_next_turn_follows(teaching: Client) -> None:
    teaching.predict(SISTER, False, api_name="/send")
    _, decision, *_ = teaching.predict(None, api_name="/inspect")
    assert decision["decided_by"] == "rule"
    should = not decision["should_recall"]
    table, line = teaching.predict(None, api_name="/teach_turn_recall" if should else "/teach_turn_no_recall")
    assert [row[1:3] for row in table["data"]] == [[SISTER, "yes" if should else "no"]] and "Taught" in line
    teaching.predict(SISTER, False, api_name="/send")
    _, decision, *_ = teaching.predict(None, api_name="/inspect")
    assert (decision["decided_by"], decision["should_recall"]) == ("taught_example", should)


def test_a_reviewed_batch_is_taught_in_one_click(teaching: Client, tmp_path: Path) -> None:
    rows = [("What do I do for work?", False), ("Write me a haiku about autumn leaves", True),
            ("继续上次的话题", True), ("hi", False)]  # fmt: skip
    batch = tmp_path / "review.jsonl"
    batch.write_text("\n".join(json.dumps({"id": f"r{i}", "text": t, "should_recall": label}, ensure_ascii=False)
                               for i, (t, label) in enumerate(rows)), encoding="utf-8")  # fmt: skip
    metrics = teaching.predict(handle_file(str(batch)), api_name="/batch")[0]
    hybrid = next(row for row in metrics["data"] if row[0] == "hybrid")
    assert hybrid[2] < 1.0  # the two contrary labels are wrong
    table, status = teaching.predict("hybrid", api_name="/teach_batch")
    taught = {row[1]: row[2] for row in table["data"]}
    assert taught == {"What do I do for work?": "no", "Write me a haiku about autumn leaves": "yes"}
    assert status.startswith("Taught 2 rows")
    metrics, _, _, disagreements, _, _ = teaching.predict(handle_file(str(batch)), api_name="/batch")
    assert next(row for row in metrics["data"] if row[0] == "hybrid")[2] == 1.0
    hybrid_verdicts = [row[5] for row in disagreements["data"]]  # id, text, expected, why listed, rule, hybrid
    assert all(verdict.endswith("(taught_example)") for verdict in hybrid_verdicts)
    with pytest.raises(Exception, match="Nothing to teach"):  # every row is right now
        teaching.predict("hybrid", api_name="/teach_batch")


def test_teaching_needs_a_message_and_a_batch(teaching: Client) -> None:
    with pytest.raises(Exception, match="Type or pick the message"):
        teaching.predict("  ", "should recall", api_name="/teach")
    fresh = Client(teaching.src, verbose=False)
    with pytest.raises(Exception, match="Start a chat first"):
        fresh.predict("a message", "should recall", api_name="/teach")
    fresh.predict(*HYBRID_SCOPE, api_name="/start_chat")
    with pytest.raises(Exception, match="Nothing to teach: run a batch file first"):
        fresh.predict("hybrid", api_name="/teach_batch")
    fresh.close()


def test_settings_exports_the_chat_library_for_a_pipecat_bot(client: Client) -> None:
    client.predict(*SCOPE, api_name="/start_chat")
    exported, snippet, status = client.predict("", "", "", 8765, api_name="/bot_export")  # blank: the chat's library
    export = json.loads(exported)
    assert (export["user_id"], export["agent_id"], export["run_id"]) == ("default", "demo", "demo")
    assert export["params"]["search_threshold"] == 0.1 and export["threshold"]["filters_nothing"]
    assert "filters nothing" in status and "Mem0MemoryService(" in snippet and "run_id='demo'" in snippet
    with pytest.raises(AppError, match="between 1 and 65535"):
        client.predict("", "", "", 0, api_name="/bot_export")


def test_unfiled_memories_need_the_mem0_provider(client: Client) -> None:
    with pytest.raises(AppError, match="OPENTALKING_MEMORY_PROVIDER=mem0"):
        client.predict("default", "demo", "demo", api_name="/unfiled_list")
