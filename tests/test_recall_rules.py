"""Rule-mode recall decisions: the reference's samples and categories, English coverage, the guards."""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import pytest
from conftest import shared_data

from memory_core import decide_by_rules
from memory_core.decide import lexicon as lx
from memory_core.decide import patterns, rules
from memory_core.decide.local_judge import TRAINING_FILE
from memory_core.decide.patterns import Caseless, Either, Text, fold, folds_safely
from memory_core.decide.rules import CATEGORIES_BY_REASON, is_low_value, message_content, normalise_short
from memory_core.eval.metrics import binary_scores
from memory_core.recall import entities

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
        # an opinion asked about the user's own facts is the fact asked ("how do you think I…" = "how do I…")
        "How do you think I take my coffee?",
        "Do you reckon I'd enjoy a jazz night?",
        "Would you say I'm an early riser?",
        "did you think I'd forget my brother's birthday",
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
        # an opinion asked about the user, but on advice or the world: still not a stored fact
        "Do you think I should switch to a standing desk?",
        "Do you think I need a passport for Canada?",
        "Do you think it will snow this weekend?",
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


# -- the fast patterns find what the plain ones did ---------------------------------------------------
#
# The rules search through tries of keywords, case-sensitive twins on lowercased text, alternations split into
# parts and skipped in texts without the script they need. Each must find exactly what the plain,
# case-insensitive alternation it replaced finds; these are those alternations, built as the rules once were.

_ODD = ["İ", "ı", "ſ", "K", "É", "ß", "Σ", "😀", "\u3000", "\xa0", "\x1c", "_", "7", "web-07", "我", "x"]
_GLUE = ["", " ", "  ", ",", ", ", "?", "？", "。", "'", "-", "\n", *_ODD]


def _case(rng: random.Random, text: str) -> str:
    return rng.choice([text, text.upper(), text.title(), "".join(c.upper() if rng.random() < 0.5 else c for c in text)])


def _glued(rng: random.Random, words: list[str]) -> str:
    pieces = [rng.choice(_GLUE) + _case(rng, rng.choice(words)) for _ in range(rng.randint(1, 4))]
    return "".join(pieces) + rng.choice(_GLUE)


def _probe_texts() -> list[str]:
    """The labelled turns in three cases, and lexicon words glued to letters, spaces, punctuation, odd characters."""
    turns = [json.loads(line)["text"] for path in (EXTRA, FRESH2, TRAINING_FILE)
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]  # fmt: skip
    source = "".join(Path(module.__file__ or "").read_text(encoding="utf-8") for module in (lx, rules, patterns))
    words = sorted(set(re.findall(r"[a-z']{2,}|[\u4e00-\u9fff]+", source)))
    rng = random.Random(3)
    glued = [_glued(rng, words) for _ in range(6000)]
    return turns + [t.upper() for t in turns] + [t.lower() for t in turns] + glued


PROBES = _probe_texts()


def _plain(terms: tuple[str, ...]) -> str:
    parts = []
    for term in sorted(terms, key=len, reverse=True):
        piece = re.escape(term).replace(r"\ ", r"\s+")
        if term[:1].isascii() and term[:1].isalnum():
            piece = r"\b" + piece
        if term[-1:].isascii() and term[-1:].isalnum():
            piece += r"\b"
        parts.append(piece)
    return "|".join(parts)


def _joined(*sources: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{source})" for source in sources), flags)


_HYPOTHETICAL = r"\bif (?:i|i'm|im|my|we)\b|假如我|如果我|假设我"
_HOW_TO = r"^\s*(?:how (?:do|can|should|would) (?:i|you|we)|how to)\b"
_QUESTION_EN = (
    r"\?|^\s*(?:what|whats|what's|when|where|which|who|whom|whose|why|how|do|does|did|is|are|was|were|can|"
    r"could|should|would|will|have|has|any)\b|\bagain\b|\bremind me\b|\bdo you know\b"
)
_NAME_QUESTION = (
    r"我\s*(?:叫|是)\s*(?:什么|啥|谁)|我的\s*(?:名字|称呼)\s*(?:是|叫)?\s*(?:什么|啥|多少|哪个)|怎么称呼我"
    r"|\bwhat(?:'s|s| is)\s+my\s+(?:name|nickname)\b|\b(?:do|did)\s+you\s+(?:know|remember)\s+my\s+name\b"
    r"|\bwhat\s+(?:do|should)\s+you\s+call\s+me\b|\bwho\s+am\s+i\b"
)
_PROCEDURE = (
    r"\b(?:where|when|how|what|who)\s+(?:do|can|should)\s+i\s+(?:"
    + patterns._alternation(lx.PROCEDURE_VERBS_EN)
    + r")\b"
)
_EN_HYPOTHETICAL = r"\b(?:if|suppose|imagine|say)\s+(?:i|i'm|im|my)\b"
_NOT_A_FACT = (_EN_HYPOTHETICAL, "|".join(lx.GENERAL_ADVICE_EN), "|".join(lx.MODAL_I_EN), _PROCEDURE)
FAST_AND_PLAIN = {
    "comfort": (rules._COMFORT, _joined(_plain(lx.COMFORT_ZH), *lx.COMFORT_ZH_PATTERNS, _plain(lx.COMFORT_EN),
                                        *lx.COMFORT_EN_PATTERNS)),
    "goal": (rules._GOAL, _joined(_plain(lx.GOAL_ZH), _plain(lx.GOAL_EN))),
    "preference": (rules._PREFERENCE_ZH, _joined(_plain(lx.PREFERENCE_ZH), *lx.PREFERENCE_ZH_PATTERNS)),
    "explicit zh": (rules._EXPLICIT_ZH, _joined(_plain(lx.EXPLICIT_ZH), *lx.EXPLICIT_ZH_PATTERNS)),
    "explicit en": (rules._EXPLICIT_EN_PERSONAL, _joined(_plain(lx.EXPLICIT_EN_PERSONAL), *lx.EXPLICIT_EN_PATTERNS)),
    "explicit context": (rules._EXPLICIT_EN_CONTEXTUAL, _joined(_plain(lx.EXPLICIT_EN_CONTEXTUAL))),
    "risk zh": (rules._RISK_ZH, _joined(_plain(lx.RISK_WORDS_ZH))),
    "risk en": (rules._RISK_EN, _joined(_plain(lx.RISK_WORDS_EN))),
    "like": (rules._LIKE_ZH, _joined(_plain(lx.PREFERENCE_LIKE_ZH))),
    "like statement": (rules._LIKE_STATEMENT_ZH, _joined(_plain(lx.EXPLICIT_LIKE_ZH))),
    "request zh": (rules._REQUEST_ZH, _joined(_plain(lx.REQUEST_OR_QUESTION_ZH))),
    "request en": (rules._REQUEST_EN, _joined(*lx.REQUEST_EN)),
    "taste": (rules._PERSONAL_TASTE_EN, _joined(*lx.PERSONAL_TASTE_EN)),
    "anything goes": (rules._ANYTHING_GOES, _joined(r"随便|whatever|any (?:random )?one|at random")),
    "generic zh": (rules._GENERIC_ZH, _joined(_plain(lx.GENERIC_ZH))),
    "generic en": (rules._GENERIC_EN, _joined(*lx.GENERIC_EN)),
    "relation": (rules._EN_RELATION, _joined(_plain(lx.RELATION_WORDS_EN))),
    "question": (rules._QUESTION_EN, _joined(_QUESTION_EN)),
    "not about facts": (rules._NOT_ABOUT_FACTS_EN, _joined(_HYPOTHETICAL, _HOW_TO, "|".join(lx.GENERAL_ADVICE_EN))),
    "general advice": (patterns.GENERAL_ADVICE_EN, _joined("|".join(lx.GENERAL_ADVICE_EN))),
    "not a fact": (patterns._EN_NOT_A_FACT, _joined(*_NOT_A_FACT)),
    "name question": (patterns.NAME_QUESTION, _joined(_NAME_QUESTION)),
    "task for a person": (rules._TASK_FOR_PERSON, _joined(*lx.TASK_FOR_PERSON, flags=0)),
    "accept current": (rules._ACCEPT_CURRENT, _joined(_plain(lx.ACCEPT_CURRENT))),
    "subject me": (patterns._ZH_SUBJECT_ME, re.compile(rf"(?<![{lx.ZH_OBJECT_ME_BEFORE}])我(?!们)")),
}  # fmt: skip


def _first_match(pattern: Caseless | Either | re.Pattern[str], text: str) -> tuple[bool, str]:
    if isinstance(pattern, re.Pattern):
        m = pattern.search(text)
        return m is not None, m.group(0) if m else ""
    folded = Text(text)
    return pattern.found(folded), pattern.find(folded)


@pytest.mark.parametrize("name", FAST_AND_PLAIN)
def test_each_fast_pattern_finds_what_its_plain_alternation_finds(name: str) -> None:
    fast, plain = FAST_AND_PLAIN[name]
    differ = [t for t in PROBES if _first_match(fast, t) != _first_match(plain, t)]
    assert not differ, f"{name}: {len(differ)} texts, such as {differ[:3]}"


def _caseless_patterns() -> list[tuple[str, Caseless]]:
    found = []
    for module in (rules, patterns):
        for name, value in vars(module).items():
            parts = value.parts if isinstance(value, Either) else (value,)
            found += [(f"{module.__name__}.{name}", part) for part in parts if isinstance(part, Caseless)]
    return found


@pytest.mark.parametrize(("name", "pattern"), _caseless_patterns(), ids=[name for name, _ in _caseless_patterns()])
def test_a_twin_on_folded_text_and_a_script_gate_change_no_match(name: str, pattern: Caseless) -> None:
    for text in PROBES:
        plain = pattern.pattern.search(text)
        expected = plain.span() if plain else None
        assert pattern.span(Text(text)) == expected, (name, text)
        if pattern.twin is not None and (folded := fold(text)) is not None:
            twin = pattern.twin.search(folded)
            assert (twin.span() if twin else None) == expected, (name, text)


def test_the_twins_are_not_lost() -> None:
    """Every keyword list and the English frames fold safely, else they would quietly run case-insensitively."""
    slow = [name for name, pattern in _caseless_patterns() if pattern.twin is None]
    assert slow == ["memory_core.decide.rules._PREFERENCE_ZH", "memory_core.decide.rules._PERSONAL_TASTE_EN"]


@pytest.mark.parametrize(
    "source",
    [r"[0-\]]", r"[!-~]", "Z-A", "A", "é", "K", "(?-i:a)", "(?i)a", r"(a)\1", "(?P<n>a)(?P=n)", r"\x41", r"\101",
     r"\N{LATIN SMALL LETTER A}", r"\u0041", "[\u0100-\u0200]", r"\U00000041", "(?(1)a|b)"],
)  # fmt: skip
def test_a_source_that_might_fold_differently_gets_no_twin(source: str) -> None:
    assert not folds_safely(source)


@pytest.mark.parametrize(
    "source", [r"\bfoo\b", r"[^']+", r"[\u4e00-\u9fff]{2}", r"[a-z0-9]", r"\S+\s*\d", "我(?P<W>天)"]
)
def test_a_lowercase_source_gets_a_twin(source: str) -> None:
    assert folds_safely(source)


def test_what_folding_relies_on_holds_for_every_code_point() -> None:
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    ascii_letters = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert set(re.findall(r"(?i)[a-z]", everything)) - ascii_letters == set("\u0130\u0131\u017f\u212a")
    changed = [c for c in everything if c.lower() != c]
    assert [c for c in changed if len(c.lower()) != 1] == ["\u0130"]
    for pattern in (re.compile(r"\w"), re.compile(r"\s"), re.compile(r"\d")):
        assert all(bool(pattern.match(c)) == bool(pattern.match(c.lower())) for c in changed if len(c.lower()) == 1)


def test_a_message_without_an_entity_hint_has_no_entity() -> None:
    samples = ["10.0.0.5", "~/notes.md", "C:\\Users\\a", "a.py", "146号服务器", "server 42", "prod-db", "db_01", "a/b"]
    for text in PROBES + [f"看看{s}吧" for s in samples] + [f"check {s} now" for s in samples]:
        assert rules._ENTITY_HINT.search(text) or not entities.find_entities(text), text


def test_the_entity_hint_is_checked_against_every_entity_pattern() -> None:
    """When this fails, recall/entities.py changed: check that every kind still needs a character of
    rules._ENTITY_HINT (a digit, . / \\ - _), then update this list."""
    kinds = sorted(name for name, value in vars(entities).items() if isinstance(value, re.Pattern))
    assert kinds == ["EN_SERVER", "FILE_NAME", "IDENTIFIER", "IPV4", "SLASHED", "UNIX_PATH", "WINDOWS_PATH",
                     "ZH_SERVER", "_CJK"]  # fmt: skip


def test_normalising_matches_the_regexes_it_replaced() -> None:
    for text in PROBES:
        edges_off = re.sub(r"^[\W_]+|[\W_]+$", "", text.strip().lower())
        assert normalise_short(text) == re.sub(r"\s+", " ", rules._INNER_PUNCT.sub(" ", edges_off)).strip(), text


def test_no_english_frame_matches_without_a_first_person_word() -> None:
    """The frames are skipped when the gate finds no first-person word: each frame must need one."""
    frames = (patterns._EN_ASK_ME, patterns._EN_WH_FRAME, patterns._EN_AUX_FRAME)
    matched = [text for text in PROBES if any(frame.found(Text(text)) for frame in frames)]
    assert len(matched) > 300  # the labelled turns hold plenty of first-person questions
    assert all(patterns._EN_ANY_FIRST_PERSON.found(Text(text)) for text in matched)
