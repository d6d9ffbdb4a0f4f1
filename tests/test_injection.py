"""Both injection conventions, as the exact messages that would be sent."""

from __future__ import annotations

import pytest

from memory_core import (
    ChatMessage,
    Injection,
    MemoryItem,
    PipecatInsertion,
    inject_pipecat,
    inject_reference,
    insert_pipecat,
    memory_block,
    pipecat_block,
)
from memory_core.injection import replay_pipecat


def item(text: str, category: str = "", item_type: str = "note") -> MemoryItem:
    return MemoryItem(text=text, category=category, type=item_type, id=text[:8], confidence="", source="t",
                      metadata={}, profile_id="p", character_id="c", library_id="l",
                      created_at="2025-11-01T00:00:00.000000Z", updated_at="2025-11-01T00:00:00.000000Z")  # fmt: skip


def test_flat_block_without_categories() -> None:
    assert memory_block([item("likes tea"), item("  "), item("lives in Lisbon")]) == (
        "Relevant long-term memories:\n- likes tea\n- lives in Lisbon"
    )


def test_grouped_block_in_the_fixed_order() -> None:
    block = memory_block(
        [
            item("summary of last week", "episode_summary"),
            item("a mem0 fact", "mem0_candidate"),
            item("sister Anna", "entity_relation"),
            item("prefers short answers", "user_preference"),
            item("likes tea", item_type="preference"),
            item("run a marathon", "goal_progress"),
            item("stop calling me buddy", "feedback_correction"),
            item("study at 9pm", "decision_plan"),
        ]
    )
    assert block == (
        "Relevant user memories:\n\n"
        "Preferences:\n- prefers short answers\n- likes tea\n\n"
        "Important people/entities:\n- sister Anna\n\n"
        "Goals and progress:\n- run a marathon\n\n"
        "Decisions and plans:\n- study at 9pm\n\n"
        "Interaction feedback:\n- stop calling me buddy\n\n"
        "Conversation summaries:\n- summary of last week\n\n"
        "Other memories:\n- a mem0 fact"
    )


def test_empty_block_injects_nothing() -> None:
    messages = [ChatMessage("user", "hi")]
    assert memory_block([]) == ""
    injection = inject_reference(messages, "")
    assert injection.messages == tuple(messages)
    assert injection.block_index == -1


def test_reference_injection_replaces_the_last_user_message() -> None:
    messages = [
        ChatMessage("system", "You are Mia."),
        ChatMessage("user", "earlier question"),
        ChatMessage("assistant", "earlier answer"),
        ChatMessage("user", "what tea do I like?"),
    ]
    injection = inject_reference(messages, "Relevant long-term memories:\n- likes oolong")
    assert [m.to_dict() for m in injection.messages] == [
        {"role": "system", "content": "You are Mia."},
        {"role": "user", "content": "earlier question"},
        {"role": "assistant", "content": "earlier answer"},
        {
            "role": "user",
            "content": "Relevant long-term memories:\n- likes oolong\n\nCurrent user message:\nwhat tea do I like?",
        },
    ]
    assert injection.block_index == 3
    assert messages[3].content == "what tea do I like?"  # the caller's history keeps the original text


PROMPT = "Based on previous conversations, I recall: \n\n"


def test_pipecat_block_is_pipecats_text_with_its_trailing_blank_line() -> None:
    block = pipecat_block([item("likes oolong"), item(" sister Anna ")])
    assert block == PROMPT + "1. likes oolong\n\n2.  sister Anna \n\n"  # each text as stored, not stripped
    assert pipecat_block([]) == ""
    assert pipecat_block([item("x")], "MEM: ") == "MEM: 1. x\n\n"


def test_pipecat_block_goes_in_as_developer_or_user() -> None:
    messages = [ChatMessage("system", "You are Mia."), ChatMessage("user", "hello")]
    block = pipecat_block([item("likes oolong")])
    injection = inject_pipecat(messages, block)
    assert injection.messages == (
        ChatMessage("system", "You are Mia."),
        ChatMessage("developer", block),
        ChatMessage("user", "hello"),
    )
    assert injection.block_index == 1
    as_user = inject_pipecat(messages, block, add_as_system_message=False)
    assert as_user.messages[1] == ChatMessage("user", block)


@pytest.mark.parametrize(("position", "index"), [(-3, 0), (0, 0), (1, 1), (2, 2), (99, 2)])
def test_pipecat_position_is_clamped_to_the_list(position: int, index: int) -> None:
    messages = [ChatMessage("system", "persona"), ChatMessage("user", "hello")]
    injection = insert_pipecat(messages, "MEM: 1. x\n\n", position=position)
    assert injection.block_index == index
    assert injection.messages[index] == ChatMessage("developer", "MEM: 1. x\n\n")
    assert [m for m in injection.messages if m.role != "developer"] == messages


def test_nothing_is_inserted_without_a_block() -> None:
    messages = [ChatMessage("user", "hello")]
    assert insert_pipecat(messages, "") == Injection((ChatMessage("user", "hello"),), "", -1)


@pytest.mark.parametrize("as_system", [True, False])
def test_pipecat_replaces_the_previous_block_of_either_role(as_system: bool) -> None:
    first = inject_pipecat([ChatMessage("system", "persona"), ChatMessage("user", "a")], pipecat_block([item("x")]),
                           add_as_system_message=as_system)  # fmt: skip
    context = [*first.messages, ChatMessage("assistant", "b"), ChatMessage("user", "c")]
    second = inject_pipecat(context, pipecat_block([item("y")]), add_as_system_message=as_system)
    assert [m.content for m in second.messages] == ["persona", PROMPT + "1. y\n\n", "a", "b", "c"]


def test_an_empty_prefix_never_recognises_a_block() -> None:
    messages = [ChatMessage("user", "a"), ChatMessage("developer", "1. x\n\n")]
    assert inject_pipecat(messages, "1. y\n\n", system_prompt="", position=0).messages[1:] == tuple(messages)


def test_replay_puts_each_earlier_block_where_it_went_then_the_new_one_at_position() -> None:
    persona = [ChatMessage("system", "persona")]
    turns = [ChatMessage("user", "u1"), ChatMessage("assistant", "a1"), ChatMessage("user", "u2"),
             ChatMessage("assistant", "a2"), ChatMessage("user", "u3")]  # fmt: skip
    earlier = [PipecatInsertion(ChatMessage("developer", "B1"), 1, 1),
               PipecatInsertion(ChatMessage("user", "B2"), 3, 99)]  # fmt: skip
    live = replay_pipecat(persona, turns, earlier)
    assert [m.content for m in live] == ["persona", "B1", "u1", "a1", "u2", "B2", "a2", "u3"]
    third = insert_pipecat(live, "B3", position=1)
    assert [m.content for m in third.messages] == ["persona", "B3", "B1", "u1", "a1", "u2", "B2", "a2", "u3"]


def test_replay_leaves_out_blocks_of_turns_the_history_no_longer_holds() -> None:
    kept, gone = ChatMessage("developer", "B1"), ChatMessage("user", "B2")
    earlier = [PipecatInsertion(kept, 1, 1), PipecatInsertion(gone, 5, 1)]
    assert [m.content for m in replay_pipecat([], [ChatMessage("user", "u")], earlier)] == ["u", "B1"]
