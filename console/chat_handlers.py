"""Chat, inspector and settings callbacks: each calls memory_core and formats what comes back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
import pandas as pd

from memory_core import InvalidInputError, MemoryCoreError, MemoryEngine, NotFoundError, Scope, Trace, Tuning
from memory_core.demo import DEMO_CHARACTER_ID, DEMO_LIBRARY_ID, DEMO_PROFILE_ID
from memory_core.markup import inert, inert_code
from memory_core.reply.responder import Reply
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
    threshold_label,
    threshold_of,
    timing_rows,
    trouble_line,
    turn_label,
    write_summary,
)

from .session_state import ConsoleState
from .visitor import Visitor

EMPTY_HITS = pd.DataFrame(columns=HIT_COLUMNS)
EMPTY_BARS = pd.DataFrame({"memory": [], "score": [], "kind": []})
INSPECTOR_HINT = (
    "**Nothing to inspect yet.** Send a message in the *Chat* tab: each turn's recall decision, the search "
    "and its scores, the exact prompt sent and what was written show here; pick an earlier turn in *Turn*."
)


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
    return [(_labelled(c.name, c.id), c.id) for c in engine.store.list_characters(owner=visitor.owner)]


def _labelled(name: str, id_: str) -> str:
    """A name with its id, unless the name already shows it ("Mia (demo)", not "Mia (demo) (demo)")."""
    return name if id_ in name else f"{name} ({id_})"


def library_choices(engine: MemoryEngine, profile: str, character: str) -> list[tuple[str, str]]:
    if engine.store is None or not (character or "").strip():
        return []
    scope = Scope.of(profile, character, default_profile_id=engine.settings.default_profile_id)
    return [(f"{_labelled(lib.name, lib.id)}: {lib.memory_count} memories", lib.id)
            for lib in engine.store.list_libraries(scope)]  # fmt: skip


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


def status_line(engine: MemoryEngine, state: ConsoleState) -> str:
    """Who the visitor is chatting with, where, and how memory is set, in plain words; the engine's own
    notes (variables, reasons) follow in small print for engineers."""
    if state.session is None:
        return ""
    scope = state.session.scope
    memory = f"memory on · decision mode {state.tuning.decision_mode}" if state.memory_on else "memory off"
    ended = " · **session ended**" if state.session.ended else ""
    head = (f"Chatting with **{inert(state.character_name)}** · library {inert_code(scope.library_id)} · "
            f"profile {inert_code(scope.profile_id)} · {memory}{ended}")  # fmt: skip
    store, recall = _plain(engine.provider_note), _plain(engine.retrieval_note)
    details = inert(f"Store: {engine.provider_note}. Recall: {engine.retrieval_note}.")
    plain = f"Memories kept in {inert(store)}, found by {inert(recall)}; {_replier(engine)}."
    return f"{head}\n\n{plain}\n\n<sub>{details}</sub>"


def _replier(engine: MemoryEngine) -> str:
    llm = engine.settings.reply_llm
    if engine.chat_model is None or not llm.configured:
        return "replies by the offline responder (no chat model configured)"
    return f"replies by {inert_code(llm.model)}"


def _plain(note: str) -> str:
    """A note without its parenthesised reason (which names variables)."""
    return note.split(" (", 1)[0]


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
    """A new conversation for the chosen scope, opened with a greeting built from what is stored. The
    visitor's other knobs (Settings) carry over: only the mode and backend shown beside the chat change."""
    tuning = state.tuning.with_changes(decision_mode=mode, recall_backend=backend)
    scope = Scope.of(visitor.profile(profile), character, library,
                     default_profile_id=engine.settings.default_profile_id,
                     default_library_id=engine.settings.default_library_id)  # fmt: skip
    fresh = ConsoleState(tuning=tuning, memory_on=bool(memory_on), sandbox=state.sandbox)
    return _open(engine, fresh, visitor, scope)


def clear_chat(engine: MemoryEngine, state: ConsoleState, visitor: Visitor) -> ConsoleState:
    """The same scope and knobs, a new conversation: the session's settings survive."""
    if state.session is None:
        raise gr.Error("Start a chat first.")
    fresh = ConsoleState(tuning=state.tuning, memory_on=state.memory_on, sandbox=state.sandbox)
    return _open(engine, fresh, visitor, state.session.scope)


def reopen(engine: MemoryEngine, state: ConsoleState, visitor: Visitor) -> ConsoleState:
    """After End session: a new session on the same scope, its greeting appended below the old chat."""
    if state.session is None:
        raise gr.Error("Start a chat first.")
    kept = list(state.chat)
    _open(engine, state, visitor, state.session.scope)
    state.chat = [*kept, *state.chat]
    return state


def _open(engine: MemoryEngine, state: ConsoleState, visitor: Visitor, scope: Scope) -> ConsoleState:
    persona, name = _persona(engine, visitor, scope.character_id)
    state.session = engine.open_session(scope, persona=persona, enabled=state.memory_on, tuning=state.tuning,
                                        name=name)  # fmt: skip
    state.character_name = name
    greeting = engine.greet(state.session, name=name)
    state.chat = [{"role": "assistant", "content": with_note(greeting.text, greeting.note)}]
    return state


def with_note(text: str, note: str) -> str:
    """A reply as shown: its text, inert, and under it in small print who wrote it and why (the offline
    responder, a model that failed or timed out, a cut reply)."""
    return inert(text) + (f"\n\n<sub>{inert(note)}</sub>" if note else "")


def _persona(engine: MemoryEngine, visitor: Visitor, character: str) -> tuple[str, str]:
    """The stored character's persona and name; none and its id for one not in the catalogue."""
    if engine.store is not None:
        try:
            found = engine.store.get_character(character, owner=visitor.owner)
            return found.persona, found.name
        except NotFoundError:
            pass
    return "", character


def set_memory(state: ConsoleState, on: bool) -> ConsoleState:
    """Memory on or off for the visitor, applied to the open session's next turn."""
    state.memory_on = bool(on)
    if state.session is not None:
        state.session.enabled = state.memory_on
    return state


def set_knobs(state: ConsoleState, **knobs: Any) -> ConsoleState:
    """Some knobs changed beside the chat, validated, applied to the open session's next turn."""
    try:
        state.tuning = state.tuning.with_changes(**knobs)
    except MemoryCoreError as exc:
        raise gr.Error(str(exc)) from exc
    if state.session is not None:
        state.session.tuning = state.tuning
    return state


def send(
    engine: MemoryEngine, state: ConsoleState, text: str, both_ways: bool
) -> Iterator[tuple[ConsoleState, list[dict[str, Any]], str, str]]:
    """Run one turn, yielding the chat as the reply streams in, then the finished turn.

    Each yield is (state, chat shown, reply so far, reply without memory for the side-by-side view), the two
    replies as Markdown ready to show (inert, with their notes).
    """
    if state.session is None:
        raise gr.Error("Start a chat first.")
    text = (text or "").strip()
    if not text:
        raise gr.Error("Type a message first.")
    without = with_note(*_text_and_note(engine.answer_without_memory(state.session, text))) if both_ways else ""
    partial = ""
    for event in engine.stream_turn(state.session, text):
        if isinstance(event, str):
            partial += event
            pending = [{"role": "user", "content": inert(text)}, {"role": "assistant", "content": inert(partial)}]
            yield state, [*state.chat, *pending], inert(partial), without
            continue
        state.traces.append(event)
        state.chat += chat_messages(event)
        yield state, state.chat, with_note(event.reply, event.reply_note), without


def chat_messages(trace: Trace) -> list[dict[str, Any]]:
    """The user message, a collapsible note on what memory did, and the reply, all shown as text."""
    note = {
        "role": "assistant",
        "content": decision_details(trace),
        "metadata": {"title": "🧠 " + inert(decision_title(trace.decision, len(trace.hits))), "status": "done"},
    }
    user, reply = inert(trace.user_text), with_note(trace.reply, trace.reply_note)
    trouble = trouble_line(trace)  # in plain sight under the reply: the store gone away, what waits to be saved
    reply += f"\n\n{trouble}" if trouble else ""
    return [{"role": "user", "content": user}, note, {"role": "assistant", "content": reply}]


def _text_and_note(reply: Reply) -> tuple[str, str]:
    return reply.text, reply.note


SESSION_ENDED = "Session ended. Your next message starts a new session."


def end_session(engine: MemoryEngine, state: ConsoleState) -> tuple[ConsoleState, str]:
    """Flush the session (pending writes, the summary window) and close it; the chat says so. Ending one
    already ended changes nothing and says why."""
    if not state.live or state.session is None:
        return state, "This session has already ended: your next message starts a new one."
    record = engine.end_session(state.session)
    if record is None:
        text = "Nothing was waiting in the summary window."
    elif record.note:
        text = inert(record.note)
    else:
        text = f"Summary stored ({record.by}): {inert(record.text)}"
    state.chat.append({"role": "assistant", "content": f"{SESSION_ENDED} {text}",
                       "metadata": {"title": "📝 Session ended"}})  # fmt: skip
    return state, SESSION_ENDED


def inspect(state: ConsoleState | None, label: str | None) -> tuple[Any, ...]:
    """Everything the inspector shows for one turn (the latest when none is chosen)."""
    trace = state.trace(label) if state else None
    choices = [turn_label(t) for t in state.traces] if state else []
    if trace is None:
        return (gr.Dropdown(choices=choices, value=None), {}, INSPECTOR_HINT, EMPTY_HITS, EMPTY_BARS, [], "", "", [],
                [])  # fmt: skip
    decision = trace.decision.to_dict() if trace.decision else {"memory": "off", "note": trace.recall_note}
    hits = pd.DataFrame(hit_rows(trace.hits), columns=HIT_COLUMNS)
    tuning = state.tuning if state else Tuning()
    label = f"Final scores (blue) against the threshold (orange): {threshold_label(trace.hits, tuning)}"
    bars = gr.BarPlot(pd.DataFrame(score_bars(trace.hits, threshold_of(trace.hits, tuning))), label=label)
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


def apply_tuning(state: ConsoleState | None, engine: MemoryEngine, **knobs: Any) -> tuple[Any, ...]:
    """Change this visitor's knobs (validated like their variables); the open session uses them at once.
    A refused value leaves every knob as it was and says why beside the button."""
    base = state or ConsoleState(tuning=engine.settings.tuning())
    try:
        tuning = base.tuning.with_changes(**knobs)
    except MemoryCoreError as exc:
        current = base.tuning
        return (base, f"⚠️ Not applied: {inert(str(exc))}", env_snippet(current), pipecat_snippet(current),
                current.decision_mode, current.recall_backend)  # fmt: skip
    base.tuning = tuning
    if base.session is not None:
        base.session.tuning = tuning
    return (base, "Applied to this session.", env_snippet(tuning), pipecat_snippet(tuning), tuning.decision_mode,
            tuning.recall_backend)  # fmt: skip
