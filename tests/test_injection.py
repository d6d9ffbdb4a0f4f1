"""Both injection conventions, as the exact messages that would be sent."""

from __future__ import annotations

from memory_core import ChatMessage, MemoryItem, inject_pipecat, inject_reference, memory_block, pipecat_block


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


def test_pipecat_block_and_insertion() -> None:
    block = pipecat_block([item("likes oolong"), item("sister Anna")])
    assert block == "Based on previous conversations, I recall: \n\n1. likes oolong\n\n2. sister Anna"
    messages = [ChatMessage("system", "You are Mia."), ChatMessage("user", "hello")]
    injection = inject_pipecat(messages, block)
    assert injection.messages == (
        ChatMessage("system", "You are Mia."),
        ChatMessage("system", block),
        ChatMessage("user", "hello"),
    )
    assert injection.block_index == 1


def test_pipecat_replaces_the_previous_block_instead_of_piling_up() -> None:
    first = inject_pipecat([ChatMessage("system", "persona"), ChatMessage("user", "a")], pipecat_block([item("x")]))
    context = [*first.messages, ChatMessage("assistant", "b"), ChatMessage("user", "c")]
    second = inject_pipecat(context, pipecat_block([item("y")]))
    blocks = [m for m in second.messages if m.content.startswith("Based on previous conversations")]
    assert len(blocks) == 1
    assert blocks[0].content.endswith("1. y")


def test_pipecat_position_is_clamped_and_role_configurable() -> None:
    messages = [ChatMessage("user", "hello")]
    injection = inject_pipecat(messages, "MEM: 1. x", system_prompt="MEM: ", position=99, add_as_system_message=False)
    assert injection.messages == (ChatMessage("user", "hello"), ChatMessage("user", "MEM: 1. x"))
    assert inject_pipecat(messages, "MEM: 1. x", system_prompt="MEM: ", position=-3).block_index == 0
