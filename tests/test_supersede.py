"""Supersession: a correction or a newer statement of the same attribute replaces the older memory."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memory_core import MemoryEngine, Scope, SQLiteStore
from memory_core.models import MemoryItem
from memory_core.tuning import Tuning
from memory_core.write.supersede import canonical_relation, superseded_by

Factory = Callable[..., MemoryEngine]


def item(text: str, **metadata: object) -> MemoryItem:
    return MemoryItem(f"id-{abs(hash(text))}", text, "chat_turn", "", "", "session", metadata, "p", "c", "l", "t", "t")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("My younger sister Anjali just moved to Toronto.", "Anjali actually moved to Vancouver, not Toronto."),
        ("My sister moved to Paris last year.", "My sister lives in Lyon now."),
        ("I love cilantro.", "I can't stand cilantro."),
        ("I work as a backend engineer at a startup.", "I switched teams, I'm on the data team now, not backend."),
        ("我老公在银行上班。", "对了，我老公不是在银行，是在证券公司。"),
        ("我妈住在苏州。", "我妈不住苏州了，她搬到杭州了。"),
    ],
)
def test_a_newer_statement_of_the_same_attribute_replaces_the_older(old: str, new: str) -> None:
    assert [i.text for i in superseded_by(new, [item(old)])] == [old]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("My sister lives in Lyon.", "My brother lives in Oslo."),
        ("I love cilantro.", "I love hiking on weekends."),
        ("My dog is called Biscuit.", "I'm allergic to peanuts."),
        ("我妹妹住在里斯本。", "我喜欢喝乌龙茶。"),
        # a relative's job or move is not the user's
        ("I work as a pharmacist in Bristol.", "My brother Tom just got a job at a bank in Leeds."),
        ("I teach maths at a secondary school.", "My wife quit her job at the council last week."),
        ("我在一家电商公司做产品经理。", "我老公在证券公司上班。"),
        ("我们家住在南京。", "我妈上个月搬去我姐家住了。"),
    ],
)
def test_statements_of_different_attributes_both_stay(old: str, new: str) -> None:
    assert superseded_by(new, [item(old)]) == ()


def test_what_is_already_superseded_or_a_summary_is_not_replaced_again() -> None:
    old = [item("My sister moved to Paris.", superseded_by="x"), MemoryItem(
        "s", "My sister moved to Paris.", "summary", "", "", "session", {}, "p", "c", "l", "t", "t")]  # fmt: skip
    assert superseded_by("My sister lives in Lyon now.", old) == ()


def test_a_relation_correction_names_the_canonical_fact() -> None:
    assert canonical_relation("不是女朋友，是前女友。", [item("我女朋友叫小雨")]) == "小雨是用户的前女友。"
    assert canonical_relation("不是女朋友，是前女友。", [item("我喜欢猫")]) == ""
    assert canonical_relation("我女朋友叫小雨", [item("我女朋友叫小雨")]) == ""


def current_texts(store: SQLiteStore, scope: Scope) -> list[str]:
    return sorted(i.text for i in store.iter_items(scope) if not i.metadata.get("superseded_by"))


def test_a_correction_supersedes_and_wins_the_next_recall(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    tuning = Tuning(summary_enabled=False)
    session = engine.open_session(scope, enabled=True, tuning=tuning)
    engine.run_turn(session, "My sister Anna moved to Paris last year.")
    correction = engine.run_turn(session, "Actually Anna lives in Lyon, not Paris.")
    assert correction.write is not None
    (new,) = correction.write.written
    (old,) = [i for i in store.iter_items(scope) if i.id != new.id]
    assert new.metadata["supersedes"] == [old.id] and old.metadata["superseded_by"] == new.id
    assert [e.event for e in store.history(scope, old.id)] == ["add", "superseded"]
    asked = engine.run_turn(engine.open_session(scope, enabled=True, tuning=tuning), "Where does my sister Anna live?")
    assert [h.item.text for h in asked.hits] == ["Actually Anna lives in Lyon, not Paris."]
    shown = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False, show_superseded=True))
    assert len(engine.run_turn(shown, "Where does my sister Anna live?").hits) == 2


def test_love_then_cannot_stand_leaves_one_current_preference(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False))
    engine.run_turn(session, "I love cilantro.")
    engine.run_turn(session, "I can't stand cilantro.")
    engine.run_turn(session, "I love hiking.")
    assert current_texts(store, scope) == ["I can't stand cilantro.", "I love hiking."]
    assert len(list(store.iter_items(scope))) == 3  # the old preference stays, with its history


def test_a_relation_correction_writes_the_canonical_item(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    engine = engine_factory()
    session = engine.open_session(scope, enabled=True, tuning=Tuning(summary_enabled=False))
    engine.run_turn(session, "我女朋友叫小雨，她是学医的。")
    trace = engine.run_turn(session, "其实不是女朋友，是前女友了，上周刚分手。")
    assert trace.write is not None
    texts = [i.text for i in trace.write.written]
    assert texts == ["其实不是女朋友，是前女友了，上周刚分手。", "小雨是用户的前女友。"]
    canonical = trace.write.written[1]
    assert (canonical.type, canonical.category, canonical.confidence) == ("fact", "entity_relation", "high")
    assert canonical.metadata["decision_reason"] == "relation_correction_context"
    assert current_texts(store, scope) == sorted(texts)


def test_an_import_supersedes_what_it_corrects(engine_factory: Factory, store: SQLiteStore, scope: Scope) -> None:
    engine = engine_factory()
    store.ensure_library(scope)
    (old,) = engine.import_turns(scope, [("user", "My sister Anna moved to Paris last year.")], source="wechat")
    (new,) = engine.import_turns(scope, [("user", "Actually Anna lives in Lyon now, not Paris.")], source="wechat")
    assert new.metadata["supersedes"] == [old.id]
    assert store.get_item(scope, old.id).metadata["superseded_by"] == new.id
    assert [(e.event, e.source) for e in store.history(scope, old.id)] == [("add", "import"), ("superseded", "import")]
