"""The demo character and library: seeded once, clearly marked, and gone for good once deleted."""

from __future__ import annotations

from memory_core import MemoryEngine, SQLiteStore, load_settings
from memory_core.demo import DEMO_CHARACTER_ID, DEMO_MEMORIES, demo_scope, seed_demo
from memory_core.recall.lexical import BM25Retriever


def test_seeded_once_and_deletion_is_respected(store: SQLiteStore) -> None:
    assert seed_demo(store) is True
    library = store.get_library(demo_scope())
    assert "demo" in library.name.lower() and library.memory_count == len(DEMO_MEMORIES)
    assert "demo" in store.get_character(DEMO_CHARACTER_ID).name.lower()
    assert all(item.metadata["demo"] is True for item in store.iter_items(demo_scope()))
    assert seed_demo(store) is False
    store.delete_library(demo_scope())
    store.delete_character(DEMO_CHARACTER_ID)
    assert seed_demo(store) is False
    assert store.list_characters() == ()


def test_a_first_visitor_can_chat_with_the_demo(store: SQLiteStore) -> None:
    seed_demo(store)
    engine = MemoryEngine(store, BM25Retriever(store), settings=load_settings({}))
    persona = store.get_character(DEMO_CHARACTER_ID).persona
    session = engine.open_session(demo_scope(), persona=persona, enabled=True)
    greeting = engine.greeting(session, name="Mia (demo)")
    assert greeting.startswith("Hi, I'm Mia (demo). Welcome back! Last time you ")
    trace = engine.run_turn(session, "还记得我喜欢喝什么茶吗")
    assert trace.hits[0].item.text == "我喜欢喝乌龙茶，不加糖"
    without = engine.reply_without_memory(session, "还记得我喜欢喝什么茶吗")
    assert without == "这个我还不了解你——能告诉我吗？" and "乌龙茶" not in without
