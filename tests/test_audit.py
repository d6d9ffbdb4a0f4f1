"""What gets written: each memory says what produced it; a library's write audit counts what should not be there."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

from memory_core import LibraryAudit, MemoryEngine, Scope, SQLiteStore, audit_library
from memory_core.models import MemoryItem
from memory_core.tuning import Tuning
from memory_core.views import audit_markdown, item_rows, item_status, write_summary
from memory_core.write.audit import is_assistant_origin, is_question_item, seen_count

Factory = Callable[..., MemoryEngine]


_IDS = count(1)


def item(text: str, type: str = "chat_turn", source: str = "session", **metadata: Any) -> MemoryItem:
    return MemoryItem(f"m{next(_IDS)}", text, type, "", "", source, metadata, "p", "c", "l", "t", "t")


# Attribution


def test_a_chat_turn_memory_records_its_session_turn_role_and_decision(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False))
    engine.run_turn(session, "What's the capital of Peru?")  # turn 1 writes nothing
    trace = engine.run_turn(session, "I'm allergic to shellfish.")
    assert trace.write is not None
    (written,) = trace.write.written
    meta = store.get_item(scope, written.id).metadata
    assert (meta["session_id"], meta["turn"], meta["role"]) == (session.id, 2, "user")
    assert (meta["session_id"], meta["turn"]) == (trace.session_id, trace.turn)
    assert meta["write_action"] == "direct_write" and meta["decision_reason"] == trace.write.decision.reason


def test_a_supersession_and_its_canonical_fact_carry_the_turn_too(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False))
    engine.run_turn(session, "我女朋友叫小雨，她是学医的。")
    trace = engine.run_turn(session, "其实不是女朋友，是前女友了，上周刚分手。")
    assert trace.write is not None and len(trace.write.written) == 2
    for written in trace.write.written:
        assert {k: written.metadata[k] for k in ("session_id", "turn", "role")} == {
            "session_id": session.id, "turn": 2, "role": "user"}  # fmt: skip


def test_a_summary_records_its_session_and_turn_range(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_turn_window=2))
    engine.run_turn(session, "I'm allergic to shellfish.")
    engine.run_turn(session, "What's the capital of Peru?")  # rejected: not in the window
    trace = engine.run_turn(session, "My dog is called Biscuit.")
    assert trace.summary is not None and trace.summary.item is not None
    meta = trace.summary.item.metadata
    assert (meta["session_id"], meta["turn_from"], meta["turn_to"], meta["turn_count"]) == (session.id, 1, 3, 2)
    engine.run_turn(session, "I work as a nurse.")
    record = engine.end_session(session)
    assert record is not None and record.item is not None
    assert (record.item.metadata["turn_from"], record.item.metadata["turn_to"]) == (4, 4)
    assert session.summary_turns == []


def test_an_import_records_its_source(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    store.ensure_library(scope)
    (written,) = engine_factory().import_turns(scope, [("user", "I'm allergic to shellfish.")], source="crm-export")
    assert (written.metadata["source_type"], written.metadata["source"], written.source) == (
        "import", "crm-export", "crm-export")  # fmt: skip


# The audit


def test_each_count_and_share() -> None:
    items = [
        item("What's the capital of Peru?"),  # a question
        item("Where do I live? When is my exam"),  # every sentence a question, marks or not
        item("I live in Lyon. Do you know it?"),  # a statement too: not a question
        item("I like tea."),
        item("i like tea!"),  # the same text: both copies are stored repeats
        item("My dog is Biscuit.", seen=3, last_seen_at="t"),
        item("My sister lives in Paris.", superseded_by="m99"),
        item("Sure, I can help with that.", role="assistant"),
        item("Here is a poem.", source="assistant_reply"),
        item("I like tea. I work as a nurse.", type="summary"),
    ]
    audit = audit_library(items)
    assert audit.counts == {"questions": 2, "repeats_stored": 2, "seen_again": 1, "superseded": 1,
                            "assistant_origin": 2, "summaries": 1}  # fmt: skip
    assert (audit.total, audit.flagged) == (10, 6)
    shown = audit.to_dict()
    assert shown["shares"]["questions"] == 0.2 and shown["shares"]["seen_again"] == 0.1
    assert (shown["total"], shown["flagged"], shown["flagged_share"]) == (10, 6, 0.6)
    assert shown["verdict"] == audit.verdict
    assert audit.verdict == "not clean: questions 20%, repeats stored 20%, assistant-origin 20% (60% of items flagged)"


def test_the_verdict_names_the_high_share_and_is_clean_under_five_percent() -> None:
    facts = [item(f"I have {n} cousins.") for n in range(30)]
    assert audit_library(facts).verdict == "clean"
    one_question = audit_library([*facts, item("What's the capital of Peru?")])
    assert one_question.verdict == "clean"  # 1 of 31, about 3%
    questions = audit_library([*facts, *(item(f"What is {n} times {n}?") for n in range(3))])
    assert questions.verdict == "not clean: questions 9% (9% of items flagged)"
    replies = [item(f"Reply {n}.", role="assistant") for n in range(3)]
    mixed = audit_library([*facts, item("What is 2 times 2?"), *replies])
    assert mixed.verdict == "not clean: assistant-origin 9%, questions 3% (12% of items flagged)"
    seen_and_superseded = [item("I like tea.", seen=9), item("I like coffee.", superseded_by="x"), *facts]
    assert audit_library(seen_and_superseded).verdict == "clean"  # dedupe and supersession at work, not flaws


def test_an_empty_library_and_an_item_flagged_twice() -> None:
    empty = audit_library([])
    assert (empty.total, empty.verdict, empty.to_dict()["shares"]["questions"]) == (0, "empty: nothing stored", 0.0)
    twice = audit_library([item("Do you like tea?"), item("do you like tea")])
    assert (twice.questions, twice.repeats_stored, twice.flagged) == (2, 2, 2)


def test_the_audit_helpers_read_unusual_metadata_safely() -> None:
    assert seen_count(item("x", seen="many")) == 1 and seen_count(item("x", seen=4)) == 4
    assert is_assistant_origin(item("x", type="note", source_type="assistant"))
    assert not is_assistant_origin(item("x", source="assistants-guide-import", role="user"))
    assert not is_question_item(item("   ")) and is_question_item(item("你喜欢什么茶？"))
    assert isinstance(audit_library(iter([item("I like tea.")])), LibraryAudit)


def test_the_audit_markdown_keeps_the_library_id_inert() -> None:
    text = audit_markdown(audit_library([item("What's up with my [cat](x)?")]), "<b>lib</b>")
    assert text.startswith("**Write audit** of `<b>lib</b>`: **not clean:")
    assert "1 memory · questions 1 (100%)" in text and "[cat]" not in text
    assert audit_markdown(audit_library([]), "demo") == "**Write audit** of `demo`: empty: nothing stored."


# What the console shows


def test_the_status_column() -> None:
    superseded = item("My sister lives in Paris.", superseded_by="m-new", seen=2)
    repeat, plain = item("I like tea.", seen=3), item("I work as a nurse.")
    assert [item_status(i) for i in (superseded, repeat, plain)] == ["superseded by m-new", "seen ×3", "current"]
    assert item_rows([repeat])[0][:3] == [repeat.id, "I like tea.", "seen ×3"]


def test_a_library_written_by_chat_shows_each_status_and_audits_clean(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False))
    turns = ("My sister Anna moved to Paris last year.", "Actually Anna lives in Lyon, not Paris.",
             "I'm allergic to shellfish.", "i'm allergic to shellfish!", "What's the capital of Peru?")  # fmt: skip
    for text in turns:
        engine.run_turn(session, text)
    items = list(store.iter_items(scope))
    statuses = {i.text: item_status(i) for i in items}
    lyon = next(i for i in items if "Lyon" in i.text)
    assert statuses == {"My sister Anna moved to Paris last year.": f"superseded by {lyon.id}",
                        "Actually Anna lives in Lyon, not Paris.": "current",
                        "I'm allergic to shellfish.": "seen ×2"}  # fmt: skip
    audit = audit_library(items)
    assert (audit.total, audit.questions, audit.repeats_stored, audit.seen_again, audit.superseded) == (3, 0, 0, 1, 1)
    assert audit.verdict == "clean"


def test_the_write_summary_shows_seen_again_and_supersedes(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False))
    first = engine.run_turn(session, "My sister Anna moved to Paris last year.")
    correction = engine.run_turn(session, "Actually Anna lives in Lyon, not Paris.")
    engine.run_turn(session, "I'm allergic to shellfish.")
    repeat = engine.run_turn(session, "i'm allergic to shellfish!")
    assert first.write is not None and correction.write is not None and repeat.write is not None
    (old,) = first.write.written
    assert f" · supersedes `{old.id}`" in write_summary(correction.write)
    seen = write_summary(repeat.write)
    assert seen.startswith("**Seen again**, not stored twice ·") and "seen 2 times" in seen
    assert "supersedes" not in write_summary(first.write)
