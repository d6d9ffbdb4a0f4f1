"""Putting recalled memories into the messages sent to the LLM, in two conventions.

`reference`: the memory block (flat, or grouped by category when any memory has one) replaces the
content of the last user message, followed by "Current user message:" and the original text.
`pipecat`: `system_prompt` plus numbered memories, inserted as one system (or user) message at
`position`; an earlier block is replaced, never piled up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .chat import ChatMessage
from .models import MemoryItem
from .prompts import CURRENT_USER_MESSAGE, MEMORY_HEADER_FLAT, MEMORY_HEADER_GROUPED
from .tuning import PIPECAT_SYSTEM_PROMPT

_Section = tuple[str, Callable[[MemoryItem], bool]]
SECTIONS: tuple[_Section, ...] = (
    ("About the user:", lambda m: m.category == "user_identity"),
    ("Health:", lambda m: m.category == "user_health"),
    ("Preferences:", lambda m: m.category == "user_preference" or (not m.category and m.type == "preference")),
    ("Important people/entities:", lambda m: m.category == "entity_relation"),
    ("Goals and progress:", lambda m: m.category == "goal_progress"),
    ("Decisions and plans:", lambda m: m.category == "decision_plan"),
    ("Interaction feedback:", lambda m: m.category == "feedback_correction"),
    ("Conversation summaries:", lambda m: m.category == "episode_summary"),
)
OTHER_SECTION = "Other memories:"


@dataclass(frozen=True)
class Injection:
    """The exact messages to send, the memory block in them, and where it sits."""

    messages: tuple[ChatMessage, ...]
    block: str
    block_index: int  # index of the message holding the block, -1 when nothing was injected


def _section_of(item: MemoryItem) -> str:
    for label, belongs in SECTIONS:
        if belongs(item):
            return label
    return OTHER_SECTION


def memory_block(items: Sequence[MemoryItem]) -> str:
    """The reference's memory text: flat without categories, grouped in a fixed order with them."""
    kept = [m for m in items if m.text.strip()]
    if not kept:
        return ""
    if not any(m.category for m in kept):
        return "\n".join([MEMORY_HEADER_FLAT, *(f"- {m.text.strip()}" for m in kept)])
    sections = []
    for label in [s for s, _ in SECTIONS] + [OTHER_SECTION]:
        lines = [f"- {m.text.strip()}" for m in kept if _section_of(m) == label]
        if lines:
            sections.append("\n".join([label, *lines]))
    return MEMORY_HEADER_GROUPED + "\n\n" + "\n\n".join(sections)


def inject_reference(messages: Sequence[ChatMessage], block: str) -> Injection:
    """Replace the last user message's content with the block, a blank line and the original text."""
    out = list(messages)
    if not block:
        return Injection(tuple(out), "", -1)
    for index in range(len(out) - 1, -1, -1):
        if out[index].role == "user":
            original = out[index].content
            out[index] = ChatMessage("user", f"{block}\n\n{CURRENT_USER_MESSAGE}\n{original}")
            return Injection(tuple(out), block, index)
    return Injection(tuple(out), "", -1)


def pipecat_block(items: Sequence[MemoryItem], system_prompt: str = PIPECAT_SYSTEM_PROMPT) -> str:
    """Pipecat's text: the system prompt, then "1. memory" entries separated by blank lines."""
    kept = [m.text.strip() for m in items if m.text.strip()]
    if not kept:
        return ""
    return system_prompt + "\n\n".join(f"{n}. {text}" for n, text in enumerate(kept, start=1))


def inject_pipecat(
    messages: Sequence[ChatMessage],
    block: str,
    *,
    system_prompt: str = PIPECAT_SYSTEM_PROMPT,
    position: int = 1,
    add_as_system_message: bool = True,
) -> Injection:
    """Insert the block at clamp(position), after removing any block an earlier turn inserted."""
    out = [m for m in messages if not _is_pipecat_block(m, system_prompt)]
    if not block:
        return Injection(tuple(out), "", -1)
    index = min(max(position, 0), len(out))
    out.insert(index, ChatMessage("system" if add_as_system_message else "user", block))
    return Injection(tuple(out), block, index)


def _is_pipecat_block(message: ChatMessage, system_prompt: str) -> bool:
    # A block is recognised by its exact prefix; an empty prefix could match any message, so never.
    return bool(system_prompt) and message.role in ("system", "user") and message.content.startswith(system_prompt)
