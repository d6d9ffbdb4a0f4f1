"""The write gate (spec §5) without the reference's declaration bug, and import classification."""

from __future__ import annotations

import pytest

from memory_core import classify_turn, decide_write, import_items
from memory_core.write.classify import context_kind
from memory_core.write.gate import is_recall_question


@pytest.mark.parametrize(
    ("user", "assistant", "interrupted", "reason"),
    [
        ("我喜欢喝美式咖啡", "好的", True, "interrupted_or_empty_assistant"),
        ("我喜欢喝美式咖啡", "  ", False, "interrupted_or_empty_assistant"),
        ("你好", "你好呀", False, "low_value"),
        ("ok thanks", "anytime", False, "low_value"),
        ("abc", "?", False, "invalid"),
        ("。。。！！", "?", False, "invalid"),
        ("很长" * 601, "?", False, "invalid"),
        ("my api key is abc123", "noted", False, "sensitive"),
        ("我的密码是 hunter2", "好的", False, "sensitive"),
        ("use sk-abcdef123456 for it", "ok", False, "sensitive"),
        ("你还记得我喜欢什么吗", "记得", False, "memory_check_question"),
        ("记住了吗？", "记住了", False, "memory_check_question"),
        ("do you remember my sister's name?", "yes", False, "memory_check_question"),
        ("小雨是谁？", "你的朋友", False, "recall_question"),
        ("按我的习惯怎么回答？", "简短", False, "recall_question"),
        ("我的目标是什么", "跑马拉松", False, "recall_question"),
        ("what's my shoe size?", "42", False, "recall_question"),
    ],
)
def test_rejections(user: str, assistant: str, interrupted: bool, reason: str) -> None:
    decision = decide_write(user, assistant, interrupted=interrupted)
    assert (decision.action, decision.reason) == ("reject", reason)
    assert decision.items == ()


@pytest.mark.parametrize(
    "text",
    [
        "我的名字是小张",  # the reference dropped these as "recall questions"
        "我的目标是今年跑完一次全马",
        "我的习惯是睡前读半小时书",
        "我叫小张",
        "my goal is to run a marathon",
        "my name is Sam and I live in Lisbon",
        "I prefer short answers without emoji",
    ],
)
def test_declarations_are_written(text: str) -> None:
    decision = decide_write(text, "got it")
    assert decision.action == "write"
    (item,) = decision.items
    assert item.text == text
    assert item.type == "chat_turn"
    assert item.metadata["source_type"] == "realtime_turn"
    assert item.metadata["source"] == "session"


def test_written_turns_are_classified() -> None:
    decision = decide_write("我最近在准备雅思考试", "加油")
    assert (decision.category, decision.confidence) == ("entity_relation", "high")
    assert decide_write("I prefer short answers without emoji", "ok").category == "user_preference"
    assert decide_write("不对，我不是程序员，是设计师", "抱歉").context == "correction"


def test_recall_question_needs_a_question() -> None:
    assert is_recall_question("我的名字是什么")
    assert not is_recall_question("我的名字是小张")
    assert not is_recall_question("我的目标是跑马拉松，今年一定要完成")


@pytest.mark.parametrize(
    ("text", "category", "confidence", "item_type"),
    [
        ("不是女朋友，是前女友", "feedback_correction", "high", "fact"),
        ("我女朋友叫小雨", "entity_relation", "high", "fact"),
        ("我家猫叫豆豆", "entity_relation", "high", "fact"),
        ("今天背完了100个单词", "goal_progress", "high", "fact"),
        ("我在准备雅思口语", "goal_progress", "high", "fact"),
        ("那就每天晚上九点提醒我复习", "decision_plan", "high", "fact"),
        ("我喜欢简洁一点的回答", "user_preference", "high", "preference"),
        ("最近想早点睡，调整一下状态", "goal_progress", "medium", "fact"),
        ("今天心情不太好", "episode_summary", "low", "fact"),
        ("周末去了一趟杭州西湖边走了走", "entity_relation", "medium", "fact"),
        ("my sister is called Anna", "entity_relation", "high", "fact"),
        ("I finished the 10k race today", "goal_progress", "high", "fact"),
        ("I love spicy food", "user_preference", "high", "preference"),
    ],
)
def test_import_classification(text: str, category: str, confidence: str, item_type: str) -> None:
    c = classify_turn(text)
    assert (c.category, c.confidence, c.type) == (category, confidence, item_type)


def test_realtime_classification_has_no_import_fallback() -> None:
    assert classify_turn("周末去了一趟杭州西湖边走了走", import_mode=False).category == ""


def test_import_items_keeps_durable_user_turns() -> None:
    turns = [
        ("user", "我喜欢简洁一点的回答"),
        ("assistant", "好的，以后简洁回答"),
        ("user", "嗯"),
        ("user", "abc"),
        ("user", "周末去了一趟杭州西湖边走了走"),
    ]
    items = import_items(turns, source="wechat")
    assert [i.text for i in items] == ["我喜欢简洁一点的回答", "周末去了一趟杭州西湖边走了走"]
    assert items[0].metadata == {
        "role": "user",
        "source": "wechat",
        "category": "user_preference",
        "confidence": "high",
        "decision_reason": "preference_marker",
        "source_type": "import",
    }


def test_context_kind() -> None:
    assert context_kind("好，以后就按这个方案来") == "confirmation"
    assert context_kind("that's not right, my sister lives in Porto") == "correction"
    assert context_kind("今天天气不错") == ""


def test_an_import_keeps_a_turn_from_eight_characters_on() -> None:
    turns = [("user", "七个字的一句话"), ("user", "八个字的一句话呢"), ("user", "短"), ("user", "周末去了一趟杭州西湖")]
    items = import_items(turns, source="wechat")
    assert [i.text for i in items] == [
        "八个字的一句话呢",
        "周末去了一趟杭州西湖",
    ]  # a short turn does not end the import
    assert (
        items[0].metadata["category"] == "entity_relation" and items[0].metadata["decision_reason"] == "import_context"
    )
