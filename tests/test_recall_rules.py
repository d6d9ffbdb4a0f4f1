"""Rule-mode recall decisions: the reference's samples and categories, English coverage, the guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import shared_data

from memory_core import decide_by_rules
from memory_core.decide.rules import CATEGORIES_BY_REASON, is_low_value, message_content
from memory_core.eval.metrics import binary_scores

EXTRA = Path(__file__).parent / "data" / "decisions-extra.jsonl"
FRESH2 = Path(__file__).parent / "data" / "decisions-fresh2.jsonl"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # the reference's sample classifications (spec §4)
        ("介绍一下这个项目？", "no_marker"),
        ("继续上次的话题", "explicit_recall"),
        ("146服务器上执行部署前检查一下", "high_risk_ignored"),
        ("连接 203.0.113.146 看看", "fact_entity"),
        ("小雨是谁？", "named_entity_question"),
        ("按我的习惯回答这个问题", "user_owned"),
    ],
)
def test_reference_samples(text: str, reason: str) -> None:
    assert decide_by_rules(text).reason == reason


def test_reference_shortcomings_are_fixed() -> None:
    # The reference recalled this ("delete"/"deployment" were not risk words); destructive ops on a named
    # entity are rejected here, and the test asserts on the decision itself.
    assert decide_by_rules("delete project-x before deployment").reason == "high_risk_ignored"
    # The reference left this English style reference to no_marker.
    assert decide_by_rules("Can you answer in the usual style?").should_recall


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("？？", "empty"),
        ("你好", "low_value"),
        ("你好！", "low_value"),  # the reference stopped treating it as low value once punctuated
        ("hi", "low_value"),
        ("ok thanks", "low_value"),
        ("好的谢谢", "low_value"),
        ("继续", "low_value"),
        ("continue", "low_value"),
        ("我的名字是什么", "user_owned"),
        ("我叫什么名字你还知道吗", "user_owned"),
        ("what's my shoe size?", "user_owned"),
        ("在146服务器上执行回滚", "high_risk_ignored"),
        ("drop table users on prod-db", "high_risk_ignored"),
        ("rm -rf build/ on 10.0.0.5", "high_risk_ignored"),
        ("工作压力好大，睡不着", "comfort_context"),
        ("I'm so stressed again", "comfort_context"),
        ("提醒我今天背单词", "goal_context"),
        ("skipped the gym again, am I falling behind on the plan?", "goal_context"),
        ("推荐几件适合我的衣服", "preference_context"),
        ("recommend a movie I'd like", "preference_context"),
        ("check disk usage on server 146", "fact_entity"),
        ("Open ~/projects/atlas/notes.md and summarize it", "fact_entity"),
        ("还记得我上周说的面试吗", "explicit_recall"),
        ("Same way as before please", "explicit_recall"),
        ("you told me something about cold brew before, what was it?", "explicit_recall"),
        ("who is Max again?", "named_entity_question"),
        ("豆豆是谁来着", "named_entity_question"),
    ],
)
def test_reasons(text: str, reason: str) -> None:
    assert decide_by_rules(text).reason == reason


@pytest.mark.parametrize(
    "text",
    [
        "我挺喜欢吃辣的",  # a preference statement: worth writing, nothing to look up
        "I like rainy days",
        "你平时喜欢干嘛呀",  # asks about the character
        "失眠一般是什么原因引起的？",  # general health knowledge
        "Do you remember what year the Berlin Wall fell?",  # "remember", but a public fact
        "If I'm born on March 3, what's my zodiac sign?",  # answerable from the message
        "Translate 'I miss my grandma' into French",  # the quoted text is not the user's own message
        "who is Taylor Swift",
        "鲁迅是谁",
        "随便推荐一本书",
        "recommend a movie",
        "deploy to staging",  # a risk word but no concrete entity: not high risk, and nothing to recall
        "用英语怎么说谢谢",
    ],
)
def test_not_recalled(text: str) -> None:
    assert not decide_by_rules(text).should_recall


@pytest.mark.parametrize(
    "text",
    [
        # English wh-, auxiliary-led and request frames about the user, with or without a question mark
        "What food do I like?",
        "What do I do for work?",
        "What team am I on at work?",
        "Where do I work now?",
        "how many kids do I have",
        "How old am I",
        "am I allergic to anything",
        "which school did I go to",
        "How do I like my tea?",  # "how do I" with a habit verb asks for a stored habit
        "how did I do on the driving test",
        "so who gave me this watch?",
        "Tell me about my sister",
        "remind me what time my flight is",
        "do you know where I parked",
        # Chinese: a subject 我 and a question word in the same clause
        "我对什么过敏？",
        "我在学什么语言？",
        "我在哪实习？",
        "我住在哪个区",
        "我平时几点睡觉",
        "我每周几去游泳",
        "我有没有说过我怕狗",
        "我家住哪",
        # mixed
        "我的 laptop 是什么牌子",
        "我在哪家 company 上班来着",
        "what's my 微信 name",
    ],
)
def test_first_person_questions_are_user_owned(text: str) -> None:
    match = decide_by_rules(text)
    assert (match.reason, match.should_recall) == ("user_owned", True)
    assert match.categories == CATEGORIES_BY_REASON["user_owned"]
    assert match.evidence


@pytest.mark.parametrize(
    "text",
    [
        # how-to, procedures and advice: memory would not change the answer
        "how do I boil an egg",
        "how can I improve my sleep in general",
        "how long should I boil an egg",
        "Can I freeze cooked rice?",
        "where do I find the settings menu",
        "how do I say thank you in Japanese",
        "what's the best way to store my bike in winter",
        "Why do I get hiccups?",
        "我该怎么煮面",
        "我要怎么才能早起",
        "我可以问你一个问题吗",
        "我想知道光速是多少",  # the 我 is the asker, not the topic
        # statements of a preference or fact: written, not recalled
        "I really love spicy Sichuan food.",
        "I work at a bakery now",
        "我在一家设计公司上班",
        "我有几本书要还",  # 几 as "a few", not "how many"
        "我什么都不想干",
        # tags, questions to the character, exclamations
        "Mondays, am I right?",
        "what can you tell me about Rome",
        "我这样说对吗",
        "我去吃饭了，你呢？",
        "我的天，这是什么",
    ],
)
def test_first_person_guards(text: str) -> None:
    assert not decide_by_rules(text).should_recall


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # the risk check and the more specific markers come before the first-person question class
        ("delete the old backups on 10.0.0.5, what do I lose?", "high_risk_ignored"),
        ("在146服务器上回滚之前，我要备份什么？", "high_risk_ignored"),
        ("what do I keep on web-07? wipe it", "high_risk_ignored"),
        ("考试又没过，我是不是很没用", "comfort_context"),
        ("我这个月的跑步目标完成了吗", "goal_context"),
        ("What does Tom do for work, remind me?", "explicit_recall"),
    ],
)
def test_first_person_questions_keep_the_earlier_rules_first(text: str, reason: str) -> None:
    assert decide_by_rules(text).reason == reason


def test_categories_follow_the_reference() -> None:
    assert decide_by_rules("继续上次的话题").categories == (
        "user_preference",
        "decision_plan",
        "goal_progress",
        "entity_relation",
        "feedback_correction",
        "episode_summary",
    )
    assert decide_by_rules("hi").categories == ()


@pytest.mark.parametrize(
    "text",
    ["就这么办", "就这么办吧", "就这么定", "按你说的", "听你的", "that works", "OK, that works!", "let's do that"],
)
def test_short_confirmations_are_low_value(text: str) -> None:
    assert decide_by_rules(text).reason == "low_value"
    assert is_low_value(text)


def test_a_long_message_that_starts_by_agreeing_is_not_low_value() -> None:
    text = "that works for me, though I also want to plan the whole trip to Lisbon next month"
    assert not is_low_value(text)
    assert decide_by_rules(text).reason == "no_marker"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # a question about the user's own things comes before the risk check (the reference's order)
        ("我的146服务器密码是什么，删除它", "user_owned"),
        ("what is my password for prod-db? then delete it", "user_owned"),
        ("按我的习惯在146服务器上部署", "user_owned"),
        # a risky operation outranks every later recall marker: comfort, goal, explicit recall
        ("我好累，帮我在146服务器上回滚", "high_risk_ignored"),
        ("提醒我今天在146服务器上部署", "high_risk_ignored"),
        ("记得我上次说的146服务器吗，帮我回滚", "high_risk_ignored"),
        ("remember what we decided about prod-db? drop it", "high_risk_ignored"),
    ],
)
def test_the_risk_check_sits_between_user_owned_and_the_other_markers(text: str, reason: str) -> None:
    assert decide_by_rules(text).reason == reason


def test_evidence_explains_the_match() -> None:
    assert decide_by_rules("I'm so stressed again").evidence == "stressed"
    assert decide_by_rules("看看 deploy-prod 最近的提交").reason != "high_risk_ignored"  # "deploy" inside a name


def test_helpers() -> None:
    assert is_low_value("OK, thanks!")
    assert not is_low_value("ok can you remind me what we decided, thanks")
    assert "grandma" not in message_content("Translate 'I miss my grandma' into French")


def _accuracy(rows: list[dict]) -> dict[str, float]:
    by_lang: dict[str, list[tuple[bool, bool]]] = {}
    for row in rows:
        by_lang.setdefault(row["lang"], []).append((decide_by_rules(row["text"]).should_recall, row["should_recall"]))
    result = {lang: binary_scores(pairs).accuracy for lang, pairs in by_lang.items()}
    result["all"] = binary_scores(p for pairs in by_lang.values() for p in pairs).accuracy
    return result


def test_own_bilingual_set() -> None:
    """160 turns written for this project (other frames, names and topics than the shared dev file)."""
    rows = [json.loads(line) for line in EXTRA.read_text(encoding="utf-8").splitlines() if line.strip()]
    accuracy = _accuracy(rows)
    assert accuracy["all"] >= 0.95
    assert min(accuracy["en"], accuracy["zh"]) >= 0.9


def test_fresh_set_written_before_the_first_person_rules() -> None:
    """60 turns written before the first-person question class, as its generalisation check (0.77 before)."""
    rows = [json.loads(line) for line in FRESH2.read_text(encoding="utf-8").splitlines() if line.strip()]
    accuracy = _accuracy(rows)
    assert accuracy["all"] >= 0.9
    assert min(accuracy["en"], accuracy["zh"], accuracy["mix"]) >= 0.85


@pytest.mark.data
def test_shared_dev_set() -> None:
    rows = [json.loads(line) for line in shared_data("decisions-dev.jsonl").read_text(encoding="utf-8").splitlines()]
    accuracy = _accuracy(rows)
    assert accuracy["all"] >= 0.85
    assert min(accuracy["en"], accuracy["zh"]) >= 0.80
