"""Chat, inspector and settings callbacks: each calls memory_core and formats what comes back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
import pandas as pd

from memory_core import InvalidInputError, MemoryEngine, NotFoundError, Scope, Trace
from memory_core.demo import DEMO_CHARACTER_ID, DEMO_LIBRARY_ID, DEMO_PROFILE_ID
from memory_core.markup import inert
from memory_core.views import (
    HIT_COLUMNS,
    block_size,
    decision_details,
    decision_title,
    env_snippet,
    hit_rows,
    llm_calls,
    message_spans,
    pipecat_snippet,
    query_line,
    score_bars,
    summary_state,
    threshold_of,
    timing_rows,
    turn_label,
    write_summary,
)

from .session_state import ConsoleState
from .visitor import Visitor

EMPTY_HITS = pd.DataFrame(columns=HIT_COLUMNS)
EMPTY_BARS = pd.DataFrame({"memory": [], "score": [], "kind": []})


def default_scope(engine: MemoryEngine, visitor: Visitor) -> tuple[str, str, str]:
    """Profile, character and library a visitor lands on: the demo when it exists."""
    settings = engine.settings
    profile = visitor.profile(settings.default_profile_id)
    if engine.store is not None:
        characters = [c.id for c in engine.store.list_characters(owner=visitor.owner)]
        if DEMO_CHARACTER_ID in characters:
            return visitor.profile(DEMO_PROFILE_ID), DEMO_CHARACTER_ID, DEMO_LIBRARY_ID
        if characters:
            return profile, characters[0], settings.default_library_id
    return profile, "assistant", settings.default_library_id


def character_choices(engine: MemoryEngine, visitor: Visitor) -> list[tuple[str, str]]:
    if engine.store is None:
        return []
    return [(f"{c.name} ({c.id})", c.id) for c in engine.store.list_characters(owner=visitor.owner)]


def library_choices(engine: MemoryEngine, profile: str, character: str) -> list[tuple[str, str]]:
    if engine.store is None or not (character or "").strip():
        return []
    scope = Scope.of(profile, character, default_profile_id=engine.settings.default_profile_id)
    return [(f"{lib.name} ({lib.id}, {lib.memory_count})", lib.id) for lib in engine.store.list_libraries(scope)]


def profile_choices(engine: MemoryEngine, visitor: Visitor) -> list[tuple[str, str]]:
    """Every profile for an operator; a sandbox visitor sees only their own."""
    if visitor.sandbox is not None:
        return [("you (private sandbox)", visitor.sandbox)]
    profiles = set(engine.store.list_profiles()) if engine.store is not None else set()
    return [(p, p) for p in sorted(profiles | {engine.settings.default_profile_id})]


def character_details(engine: MemoryEngine, visitor: Visitor, character: str) -> tuple[str, str]:
    """Name and persona of a stored character; empty for one that is not in the catalogue yet."""
    if engine.store is None or not (character or "").strip():
        return "", ""
    try:
        found = engine.store.get_character(character.strip(), owner=visitor.owner)
    except (NotFoundError, InvalidInputError):
        return "", ""
    return found.name, found.persona


def save_character(engine: MemoryEngine, visitor: Visitor, character: str, name: str, persona: str) -> tuple[Any, str]:
    """Create or update the character (persona = its system prompt); new chats with it use the persona."""
    if engine.store is None:
        raise gr.Error("The memory provider is 'none': characters cannot be stored.")
    check_length(engine, persona, "The persona")
    saved = engine.store.save_character(character, name, persona, owner=visitor.owner)
    choices = character_choices(engine, visitor)
    message = f"Saved character **{inert(saved.name)}**; start a chat to use it."
    return gr.Dropdown(choices=choices, value=saved.id), message


def check_length(engine: MemoryEngine, text: str, what: str) -> None:
    """A clear message for text over the deployment's limit (the sandbox quota on a public Space)."""
    limit = engine.settings.text_limit
    if len(text or "") > limit:
        raise gr.Error(f"{what} is {len(text)} characters long; the limit here is {limit}.")


def start_chat(
    engine: MemoryEngine,
    state: ConsoleState,
    visitor: Visitor,
    profile: str,
    character: str,
    library: str,
    memory_on: bool,
    mode: str,
    backend: str,
) -> ConsoleState:
    """A new session for the chosen scope, opened with a greeting built from what is stored."""
    settings = engine.settings
    tuning = state.tuning.with_changes(decision_mode=mode, recall_backend=backend)
    scope = Scope.of(visitor.profile(profile), character, library, default_profile_id=settings.default_profile_id,
                     default_library_id=settings.default_library_id)  # fmt: skip
    persona, name = "", scope.character_id
    if engine.store is not None:
        try:
            character_row = engine.store.get_character(scope.character_id, owner=visitor.owner)
            persona, name = character_row.persona, character_row.name
        except NotFoundError:
            pass
    session = engine.open_session(scope, persona=persona, enabled=memory_on, tuning=tuning, name=name)
    greeting = engine.greeting(session, name=name)
    return ConsoleState(tuning=tuning, session=session, character_name=name, sandbox=state.sandbox,
                        chat=[{"role": "assistant", "content": inert(greeting)}])  # fmt: skip


def send(
    engine: MemoryEngine, state: ConsoleState, text: str, both_ways: bool
) -> Iterator[tuple[ConsoleState, list[dict[str, Any]], str, str]]:
    """Run one turn, yielding the chat as the reply streams in, then the finished turn.

    Each yield is (state, chat shown, reply so far, reply without memory for the side-by-side view).
    """
    if state.session is None:
        raise gr.Error("Start a chat first.")
    text = (text or "").strip()
    if not text:
        raise gr.Error("Type a message first.")
    without = engine.reply_without_memory(state.session, text) if both_ways else ""
    partial = ""
    for event in engine.stream_turn(state.session, text):
        if isinstance(event, str):
            partial += event
            pending = [{"role": "user", "content": inert(text)}, {"role": "assistant", "content": inert(partial)}]
            yield state, [*state.chat, *pending], partial, without
            continue
        state.traces.append(event)
        state.chat += chat_messages(event)
        yield state, state.chat, event.reply, without


def chat_messages(trace: Trace) -> list[dict[str, Any]]:
    """The user message, a collapsible note on what memory did, and the reply, all shown as text."""
    note = {
        "role": "assistant",
        "content": decision_details(trace),
        "metadata": {"title": "🧠 " + inert(decision_title(trace.decision, len(trace.hits))), "status": "done"},
    }
    user, reply = inert(trace.user_text), inert(trace.reply)
    return [{"role": "user", "content": user}, note, {"role": "assistant", "content": reply}]


def end_session(engine: MemoryEngine, state: ConsoleState) -> ConsoleState:
    if state.session is None or state.session.ended:
        raise gr.Error("There is no open session to end.")
    record = engine.end_session(state.session)
    text = "Session ended. "
    if record is None:
        text += "Nothing was waiting in the summary window."
    elif record.note:
        text += inert(record.note)
    else:
        text += f"Summary stored ({record.by}): {inert(record.text)}"
    state.chat.append({"role": "assistant", "content": text, "metadata": {"title": "📝 Session summary"}})
    return state


def inspect(state: ConsoleState | None, label: str | None) -> tuple[Any, ...]:
    """Everything the inspector shows for one turn (the latest when none is chosen)."""
    trace = state.trace(label) if state else None
    choices = [turn_label(t) for t in state.traces] if state else []
    if trace is None:
        return (gr.Dropdown(choices=choices, value=None), {}, "", EMPTY_HITS, EMPTY_BARS, [], "", "", [], [])
    decision = trace.decision.to_dict() if trace.decision else {"memory": "off", "note": trace.recall_note}
    hits = pd.DataFrame(hit_rows(trace.hits), columns=HIT_COLUMNS)
    min_score = threshold_of(trace.hits, state.tuning) if state else 0.0
    bars = pd.DataFrame(score_bars(trace.hits, min_score))
    spans = message_spans(trace.messages, trace.memory_block, trace.block_index)
    return (
        gr.Dropdown(choices=choices, value=turn_label(trace)),
        decision,
        "\n\n".join(part for part in (query_line(trace), block_size(trace)) if part),
        hits,
        bars,
        spans,
        write_summary(trace.write),
        summary_state(trace),
        timing_rows(trace),
        llm_calls(trace),
    )


def apply_tuning(state: ConsoleState | None, engine: MemoryEngine, **knobs: Any) -> tuple[ConsoleState, str, str, str]:
    """Change this visitor's knobs (validated like their variables); the open session uses them at once."""
    base = state or ConsoleState(tuning=engine.settings.tuning())
    try:
        tuning = base.tuning.with_changes(**knobs)
    except Exception as exc:
        raise gr.Error(str(exc)) from exc
    base.tuning = tuning
    if base.session is not None:
        base.session.tuning = tuning
    return base, "Applied to this session.", env_snippet(tuning), pipecat_snippet(tuning)
