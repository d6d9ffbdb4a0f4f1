"""Putting recalled memories into the messages sent to the LLM, in two conventions.

`reference`: the memory block (flat, or grouped by category when any memory has one) replaces the
content of the last user message, followed by "Current user message:" and the original text.
`pipecat`: what pipecat-ai 1.14's `Mem0MemoryService._enhance_context_with_memories` builds:
`system_prompt` then "N. memory" and a blank line for every memory (its text as stored), as one message
with role "developer" (or "user" when `add_as_system_message` is off), inserted at clamp(position, 0,
len(messages)). By default an earlier block is replaced; with `pipecat_pile_up` every turn inserts a new
one into the context as Pipecat does, and the earlier ones stay where they went (`PipecatInsertion`,
replayed by `replay_pipecat`).

A token budget (`fit_block`) keeps the block within an estimated size: memories are taken in rank order and
one that would take the block past the budget is left out whole, so a later, shorter one may still fit.
Blank memories are skipped. Sizes are estimated without a tokenizer (`estimate_tokens`): nothing is
downloaded, nothing is fetched.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from .chat import ChatMessage
from .models import MemoryItem
from .prompts import CURRENT_USER_MESSAGE, MEMORY_HEADER_FLAT, MEMORY_HEADER_GROUPED
from .tuning import PIPECAT_SYSTEM_PROMPT, Tuning

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


# How many tokens a text takes, estimated per character and rounded up over the whole text:
# - CJK (Han, kana, Hangul, CJK and full-width punctuation): one token each. Tokenizers with a CJK vocabulary
#   (Qwen, o200k) spend less than that on a Chinese character, so one is on the safe side for them.
# - ASCII letters and spaces: one token per 4 characters, OpenAI's rule of thumb for English ("1 token ≈ 4
#   characters", help.openai.com, *What are tokens and how to count them*); ASCII digits and punctuation: one
#   token each, since tokenizers split them off (many split numbers digit by digit).
# - Anything else (accented letters, Cyrillic, Greek, emoji): one token per 2 characters. A guess on the safe
#   side, not a measurement: byte-level tokenizers spend two or more bytes on these and merge fewer of them.
#
# Checked against the one real tokenizer installed here (SmolLM2-135M's BPE, 49k tokens, through llama.cpp's
# /tokenize) on the 90 English memories of tests/data/retrieval-fresh.json: 4 characters per token alone came
# to 0.98 of the real count and fell short on 42 of them (numbers, paths, hyphenated words); this rule comes to
# 1.12 of it and fell short on 4, by 12% at most. That tokenizer knows little Chinese (2 tokens a character), so
# it says nothing about the CJK rule.
_CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u2ff0-\u31ff\u3200-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]"
)
_ASCII_MARK = re.compile(r"[0-9!-/:-@\[-`{-~]")  # digits and punctuation
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def estimate_tokens(text: str) -> int:
    """The estimated tokens of `text`: CJK characters, digits and punctuation one each, letters and spaces
    a quarter each, other characters half each."""
    cjk = len(_CJK.findall(text))
    whole = cjk + len(_ASCII_MARK.findall(text))
    halves = len(_NON_ASCII.findall(text)) - cjk
    quarters = len(text) - whole - halves
    return math.ceil((4 * whole + 2 * halves + quarters) / 4)


@dataclass(frozen=True)
class LeftOut:
    """A memory the token budget left out of the block, and its text's estimated tokens."""

    id: str
    tokens: int


@dataclass(frozen=True)
class BlockBudget:
    """The block's estimated tokens, the budget it was held to (0: none) and what the budget left out."""

    tokens: int = 0
    budget: int = 0
    left_out: tuple[LeftOut, ...] = ()
    note: str = ""  # why memories were left out, or why nothing was injected


@dataclass(frozen=True)
class PipecatInsertion:
    """A block Pipecat inserted into its live context: the message, and when and where it went."""

    message: ChatMessage
    turns: int  # the conversation messages after the persona (history and the user's) the context held then
    position: int  # the position asked for; clamped to the context as Pipecat clamps it


@dataclass(frozen=True)
class Injection:
    """The exact messages to send, the memory block in them, and where it sits."""

    messages: tuple[ChatMessage, ...]
    block: str
    block_index: int  # index of the message holding the block, -1 when nothing was injected
    budget: BlockBudget = field(default_factory=BlockBudget)
    inserted: PipecatInsertion | None = None  # with pile-up, this turn's block for the session to keep


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


Render = Callable[[Sequence[MemoryItem]], str]


def fit_block(items: Sequence[MemoryItem], render: Render, budget: int) -> tuple[str, BlockBudget]:
    """The block of the memories that fit `budget` estimated tokens (0: all), headers and labels counted.

    Memories are taken in rank order and never displace an earlier one: one that would take the block past
    the budget is left out whole, and a later, shorter one may still fit.
    """
    kept: list[MemoryItem] = []
    left_out: list[LeftOut] = []
    for item in (m for m in items if m.text.strip()):
        tokens = estimate_tokens(item.text.strip())
        if budget and (tokens > budget or estimate_tokens(render([*kept, item])) > budget):
            left_out.append(LeftOut(item.id, tokens))
        else:
            kept.append(item)
    block = render(kept)
    note = _budget_note(budget, len(kept), left_out, items, render)
    return block, BlockBudget(estimate_tokens(block), budget, tuple(left_out), note)


def _budget_note(
    budget: int, kept: int, left_out: Sequence[LeftOut], items: Sequence[MemoryItem], render: Render
) -> str:
    if not left_out:
        return ""
    if kept:
        return f"{len(left_out)} of {kept + len(left_out)} memories left out to stay within {budget} tokens"
    smallest = min(estimate_tokens(render([m])) for m in items if m.text.strip())
    return f"nothing injected: no memory fits the budget of {budget} tokens (the smallest block takes ≈ {smallest})"


def tuned_block(items: Sequence[MemoryItem], tuning: Tuning) -> tuple[str, BlockBudget]:
    """The session's block: its injection style's format, held to its token budget."""
    if tuning.injection_style == "pipecat":
        render: Render = partial(pipecat_block, system_prompt=tuning.pipecat_system_prompt)
        return fit_block(items, render, tuning.memory_token_budget)
    return fit_block(items, memory_block, tuning.memory_token_budget)


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
    """Pipecat's text: the system prompt, then "N. memory" and a blank line for each memory, as stored."""
    if not items:
        return ""
    return system_prompt + "".join(f"{n}. {m.text}\n\n" for n, m in enumerate(items, start=1))


def pipecat_role(add_as_system_message: bool) -> str:
    """The block's role: Pipecat's instruction role "developer", or "user"."""
    return "developer" if add_as_system_message else "user"


def inject_pipecat(
    messages: Sequence[ChatMessage],
    block: str,
    *,
    system_prompt: str = PIPECAT_SYSTEM_PROMPT,
    position: int = 1,
    add_as_system_message: bool = True,
) -> Injection:
    """Insert the block at clamp(position), after removing any block an earlier turn inserted."""
    kept = [m for m in messages if not _is_pipecat_block(m, system_prompt)]
    return insert_pipecat(kept, block, position=position, add_as_system_message=add_as_system_message)


def insert_pipecat(
    messages: Sequence[ChatMessage], block: str, *, position: int = 1, add_as_system_message: bool = True
) -> Injection:
    """Pipecat's insertion: the block at clamp(position, 0, len(messages)), earlier blocks left in place."""
    out = list(messages)
    if not block:
        return Injection(tuple(out), "", -1)
    index = _clamped(position, out)
    out.insert(index, ChatMessage(pipecat_role(add_as_system_message), block))
    return Injection(tuple(out), block, index)


def replay_pipecat(
    persona: Sequence[ChatMessage], turns: Sequence[ChatMessage], earlier: Sequence[PipecatInsertion]
) -> list[ChatMessage]:
    """Pipecat's live context before this turn's block: the persona and the turns, each earlier block
    inserted, in order, where Pipecat put it when its context held that many turns (a block of turns the
    history no longer holds is left out)."""
    live, taken = list(persona), 0
    for insertion in earlier:
        if insertion.turns > len(turns):
            break
        live += turns[taken : insertion.turns]
        taken = max(taken, insertion.turns)
        live.insert(_clamped(insertion.position, live), insertion.message)
    return live + list(turns[taken:])


def _clamped(position: int, messages: Sequence[ChatMessage]) -> int:
    return max(0, min(position, len(messages)))


def _is_pipecat_block(message: ChatMessage, system_prompt: str) -> bool:
    # A block is recognised by its role and exact prefix; an empty prefix could match any message, so never.
    roles = (pipecat_role(True), pipecat_role(False))
    return bool(system_prompt) and message.role in roles and message.content.startswith(system_prompt)
