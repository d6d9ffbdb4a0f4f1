"""The write gate (spec §5) without the reference's declaration bug, and import classification."""

from __future__ import annotations

import pytest

from memory_core import classify_turn, decide_write, import_items
from memory_core.write.classify import context_kind
from memory_core.write.gate import WriteDecision, is_recall_question


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
    assert (decision.category, decision.confidence) == ("goal_progress", "high")
    assert decide_write("I prefer short answers without emoji", "ok").category == "user_preference"
    assert decide_write("不对，我不是程序员，是设计师", "抱歉").context == "correction"


def test_recall_question_needs_a_question() -> None:
    assert is_recall_question("我的名字是什么")
    assert not is_recall_question("我的名字是小张")
    assert not is_recall_question("我的目标是跑马拉松，今年一定要完成")


@pytest.mark.parametrize(
    ("text", "category", "confidence", "item_type"),
    [
        ("不是女朋友，是前女友", "entity_relation", "high", "fact"),  # a corrected relation is still a relation
        ("我女朋友叫小雨", "entity_relation", "high", "fact"),
        ("我家猫叫豆豆", "entity_relation", "high", "fact"),
        ("今天背完了100个单词", "goal_progress", "high", "fact"),
        ("我在准备雅思口语", "goal_progress", "high", "fact"),
        ("那就每天晚上九点提醒我复习", "decision_plan", "high", "fact"),
        ("我喜欢简洁一点的回答", "user_preference", "high", "preference"),
        ("最近想早点睡，调整一下状态", "decision_plan", "high", "fact"),
        ("今天心情不太好", "episode_summary", "low", "fact"),
        ("周末去了一趟杭州西湖边走了走", "entity_relation", "medium", "fact"),  # only an import files an outing
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
    assert [i.text for i in items] == ["我喜欢简洁一点的回答"]  # the outing is gone by the next week
    assert items[0].metadata == {
        "role": "user",
        "source": "wechat",
        "category": "user_preference",
        "confidence": "high",
        "decision_reason": "preference_statement",
        "source_type": "import",
    }


def test_context_kind() -> None:
    assert context_kind("好，以后就按这个方案来") == "confirmation"
    assert context_kind("that's not right, my sister lives in Porto") == "correction"
    assert context_kind("今天天气不错") == ""


def test_an_import_uses_the_write_gate() -> None:
    said = ["What's the capital of Australia?", "我叫小张，在成都当老师", "帮我写一首诗", "thanks!",
            "My name is Daniel and I work as a nurse."]  # fmt: skip
    items = import_items([*(("user", text) for text in said), ("assistant", "Nice to meet you")], source="wechat")
    assert [(i.text, i.category) for i in items] == [
        ("我叫小张，在成都当老师", "user_identity"),
        ("My name is Daniel and I work as a nurse.", "user_identity"),
    ]


# The write gate: statements about the user that last are written; everything else is not.


@pytest.mark.parametrize(
    "text",
    [
        "My name is Daniel and I work as a nurse.",
        "I'm allergic to peanuts, badly.",
        "My brother Tom moved to Oslo last spring.",
        "We adopted a rescue greyhound called Juno.",
        "I'd rather you kept answers short.",
        "I'm saving up for a trip to Peru next year.",
        "Actually my sister lives in Lyon now, not Paris.",
        "She's a paramedic, like her dad.",
        "我叫小张，在成都当老师。",
        "我对青霉素过敏。",
        "我女儿今年上三年级了。",
        "我打算明年去读研究生。",
        "其实不是上海，是苏州，我记错了。",
        "我家猫叫团子，三岁了。",
        "我在一家 fintech 公司做 product designer。",
        "Hi! 我是 Kevin，在上海做 UI designer。",
    ],
)
def test_lasting_statements_about_the_user_are_written(text: str) -> None:
    assert decide_write(text, "ok").action == "write"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("What year did the Berlin Wall fall?", "question"),
        ("What's the capital of Australia", "question"),
        ("Can you tell me a joke?", "command"),
        ("Translate 'good morning' into Spanish.", "command"),
        ("Are you still there?", "small_talk"),
        ("Thanks, that helps a lot!", "small_talk"),
        ("Anyway, gotta go. Bye!", "small_talk"),
        ("Ugh, so tired today.", "transient"),
        ("If I were a bird I'd be a crow.", "not_durable"),
        ("杭州有什么好玩的地方？", "question"),
        ("帮我写一首关于秋天的诗。", "command"),
        ("给我女儿编一个睡前故事", "command"),
        ("谢谢啦，拜拜", "small_talk"),
        ("今天加班到十点，累死了。", "transient"),
        ("Figma 和 Sketch 哪个更好用？", "question"),
    ],
)
def test_questions_commands_and_small_talk_are_not_written(text: str, reason: str) -> None:
    assert decide_write(text, "ok") == WriteDecision("reject", reason)


@pytest.mark.parametrize("text", ["我喜欢喝什么茶？", "我叫什么？", "What do I do for work", "what's my dog called"])
def test_a_question_about_the_user_is_never_written(text: str) -> None:
    assert decide_write(text, "ok").action == "reject"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("My name is Daniel and I work as a nurse.", "user_identity"),
        ("我叫小张", "user_identity"),
        ("I'm lactose intolerant.", "user_health"),
        ("我妹妹住在里斯本", "entity_relation"),
        ("I love spicy Sichuan food.", "user_preference"),
        ("I plan to move to Berlin next year.", "decision_plan"),
    ],
)
def test_realtime_writes_are_classified_with_a_confidence(text: str, category: str) -> None:
    decision = decide_write(text, "ok")
    assert (decision.category, decision.confidence) == (category, "high")
    assert decision.items[0].metadata["category"] == category


class AlwaysDurable:
    threshold = 0.5

    def __init__(self) -> None:
        self.asked: list[str] = []

    def durable_probability(self, text: str) -> float | None:
        self.asked.append(text)
        return 0.9


def test_a_scorer_is_asked_only_where_the_rules_find_nothing_lasting() -> None:
    scorer = AlwaysDurable()
    assert decide_write("The garden is lovely in June.", "ok", scorer=scorer).action == "write"
    assert decide_write("What's the capital of Peru?", "ok", scorer=scorer).reason == "question"
    assert decide_write("I'm allergic to cats.", "ok", scorer=scorer).action == "write"
    assert scorer.asked == ["The garden is lovely in June."]


def test_a_negative_request_is_not_a_question() -> None:
    assert decide_write("Please don't call me buddy, I hate it.", "ok").action == "write"
    assert decide_write("Don't you think so?", "ok").reason == "question"


def test_an_import_asks_the_scorer_too() -> None:
    scorer = AlwaysDurable()
    items = import_items([("user", "The garden is lovely in June.")], source="wechat", scorer=scorer)
    assert [i.text for i in items] == ["The garden is lovely in June."] and scorer.asked == [items[0].text]
    assert import_items([("user", "The garden is lovely in June.")], source="wechat") == ()


@pytest.mark.parametrize(
    ("text", "small_talk"),
    [("Hi there, Mia", True), ("hello my old friend", True), ("hi, I'm Priya and I'm a nurse", False),
     ("谢谢你呀朋友", True), ("你好，我是王芳，成都的老师", False), ("Hey! My name is Tom", False)],
)  # fmt: skip
def test_a_greeting_is_small_talk_only_with_little_around_it(text: str, small_talk: bool) -> None:
    from memory_core.write.utterance import is_small_talk

    assert is_small_talk(text) is small_talk


@pytest.mark.parametrize("text", ["I switched teams, I'm on the platform team now.", "行程改成下个月了。"])
def test_a_correction_of_something_unnamed_is_still_classified(text: str) -> None:
    decision = decide_write(text, "ok")
    assert decision.action == "write" and decision.confidence == "high" and decision.category
