"""Rule-based recall decision: should this message look up the user's long-term memory?

Same reasons, same order and the same Chinese keyword lists as the reference engine (spec §4), with
English coverage and a few guards that make the rules mean what they say: a preference *statement*
is not a request for recall, a public-knowledge question is not about the user, quoted text being
translated is not the user's own message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..recall.entities import Entity, find_entities
from . import lexicon as lx
from .patterns import (
    ZH_INTERJECTION,
    Caseless,
    Either,
    Source,
    Text,
    asks_about_user,
    asks_user_name,
    chinese_source,
    english_source,
    keyword_parts,
    keyword_source,
    keywords,
    word_led,
)

CATEGORIES_BY_REASON: dict[str, tuple[str, ...]] = {
    "user_owned": (
        "user_preference", "entity_relation", "goal_progress", "decision_plan", "user_identity", "user_health",
    ),
    "comfort_context": ("user_preference", "feedback_correction", "entity_relation"),
    "goal_context": ("goal_progress", "decision_plan", "user_preference"),
    "preference_context": ("user_preference", "feedback_correction", "decision_plan"),
    "fact_entity": ("entity_relation", "note"),
    "explicit_recall": (
        "user_preference", "decision_plan", "goal_progress", "entity_relation", "feedback_correction",
        "episode_summary",
    ),
    "named_entity_question": ("entity_relation", "feedback_correction", "episode_summary"),
}  # fmt: skip
HARD_REJECTS = frozenset({"empty", "low_value", "high_risk_ignored"})


@dataclass(frozen=True)
class RuleMatch:
    """What the rules concluded and the words that made them conclude it."""

    should_recall: bool
    reason: str
    categories: tuple[str, ...] = ()
    evidence: str = ""


_HAS_WORD = re.compile(r"[\w\u4e00-\u9fff]")
_INNER_PUNCT = re.compile(r"[,.!?;:，。！？；：、~～…]+")
_QUOTE_MARK = re.compile("[“「\"']")
_QUOTED = re.compile(r"“[^”]*”|「[^」]*」|\"[^\"]*\"|(?:(?<=\s)|^)'[^']+'(?=[\s.,!?;:]|$)")
_AFTER_COLON_TASK = re.compile(r"(?:翻译|translate|convert|改写|润色|注释|rewrite)[^:：]*[:：].*$", re.IGNORECASE)
_QUESTION_EN = Caseless.compile(
    r"\?|^\s*(?:what|whats|what's|when|where|which|who|whom|whose|why|how|do|does|did|is|are|was|were|can|"
    r"could|should|would|will|have|has|any)\b|\b(?:again\b|remind me\b|do you know\b)"
)
# Not a stored fact even when the question is the user's: a hypothetical, a how-to, general advice. Joined
# bare, not each in (?:...): the same alternation, but the engine sees each branch's first character.
_NOT_ABOUT_FACTS_EN = Caseless.compile(
    r"\bif (?:i|i'm|im|my|we)\b|假如我|如果我|假设我|^\s*(?:how (?:do|can|should|would) (?:i|you|we)|how to)\b|"
    + word_led(lx.GENERAL_ADVICE_EN)
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Every kind of entity `find_entities` knows holds one of these: a digit (addresses, server numbers), a dot
# (addresses, file names), a slash or backslash (paths, "a/b" hosts), a hyphen or underscore (host names).
# A message without any has no entity, and most messages have none (a test pins this to recall.entities).
_ENTITY_HINT = re.compile(r"[\d./\\_-]")

_ACK_WORDS = (
    "ok", "okay", "great", "perfect", "cool", "nice", "awesome", "好", "好的", "行", "嗯", "可以", "that's", "thats",
)  # fmt: skip
LOW_VALUE_ACK = re.compile(
    r"^(?:" + "|".join(_ACK_WORDS) + r")\b.*(?:" + "|".join(re.escape(t) for t in lx.THANKS_ENDINGS) + r")$",
    re.IGNORECASE,
)
# Normalising keeps every letter and digit, so a message with more of them than the longest greeting, control
# word or confirmation can only be an acknowledgement, and one starts like one.
_SHORT_LIMIT = max(16, *map(len, lx.LOW_VALUE))
_LONGER_THAN_SHORT = re.compile(rf"(?:[\W_]*[^\W_]){{{_SHORT_LIMIT + 1}}}")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
_ACK_STARTS = frozenset(word[0] for word in _ACK_WORDS)
_ACK_BLOCKERS = re.compile(
    r"\?|？|\b(?:can you|could you|would you|please|remind)\b|帮我|请|吗|什么|怎么", re.IGNORECASE
)
_ACCEPT_CURRENT = re.compile(keyword_source(lx.ACCEPT_CURRENT), re.IGNORECASE)  # on a short, lowercased text

_ZH_POSSESSIVE = re.compile(
    r"(?:我的|我现在|我之前|我上次|我刚才|我那个|我那台|我那只|我那位|我家|我们家)"
    r".*?(?:是什么|是啥|叫啥|哪个|哪些|什么|多少|目标|项目|偏好|习惯|名字|几|哪|多久|生日|地址|怎么样|多大)"
)
_ZH_KIN = re.compile(r"我[^，。？?！!\s]{0,4}?(?:" + "|".join(sorted(lx.KIN_ZH, key=len, reverse=True)) + ")")
_ZH_RECALL_PARTICLE = re.compile(r"我.*来着|来着.*我")
_EN_OWNED = Caseless.compile(r"\b(?:my|mine)\b|\bwhere i (?:live|work|stay|grew up)\b|\bi live\b|\bam i allergic\b")

_RISK_ZH = Either.compile(keyword_parts(lx.RISK_WORDS_ZH))
_RISK_EN = keywords(lx.RISK_WORDS_EN)
_COMFORT = Either.compile(
    (*keyword_parts(lx.COMFORT_ZH), chinese_source(*lx.COMFORT_ZH_PATTERNS),
     english_source(keyword_source(lx.COMFORT_EN), *lx.COMFORT_EN_PATTERNS))
)  # fmt: skip
_TIRED_ZH = re.compile(r"累(?!计|积)")
_GOAL = Either.compile((*keyword_parts(lx.GOAL_ZH), *keyword_parts(lx.GOAL_EN)))
_PREFERENCE_ZH = Either.compile((*keyword_parts(lx.PREFERENCE_ZH), chinese_source(*lx.PREFERENCE_ZH_PATTERNS)))
_LIKE_ZH = keywords(lx.PREFERENCE_LIKE_ZH)
_ABOUT_CHARACTER_ZH = re.compile(r"你.{0,4}(?:喜欢|不喜欢)")
_REQUEST_ZH = keywords(lx.REQUEST_OR_QUESTION_ZH)
_REQUEST_EN = Caseless.compile(english_source(*lx.REQUEST_EN))
_PERSONAL_TASTE_EN = Caseless.compile(english_source(*lx.PERSONAL_TASTE_EN))
_ANYTHING_GOES = Either.compile(
    (chinese_source("随便"), Source("whatever|any (?:random )?one|at random", needs_latin=True))
)
_TASK_FOR_PERSON = re.compile(lx.TASK_FOR_PERSON[0] + "|" + word_led(lx.TASK_FOR_PERSON[1:]))
_EXPLICIT_ZH = Either.compile((*keyword_parts(lx.EXPLICIT_ZH), chinese_source(*lx.EXPLICIT_ZH_PATTERNS)))
_LIKE_STATEMENT_ZH = keywords(lx.EXPLICIT_LIKE_ZH)
_EXPLICIT_EN_PERSONAL = Caseless.compile(
    english_source(keyword_source(lx.EXPLICIT_EN_PERSONAL), *lx.EXPLICIT_EN_PATTERNS)
)
_EXPLICIT_EN_CONTEXTUAL = keywords(lx.EXPLICIT_EN_CONTEXTUAL)
_REMIND_ME_TO = Caseless.compile(r"\bremind me to\b")
_FIRST_PERSON_EN = Caseless.compile(lx.FIRST_PERSON_EN)
_GENERIC_ZH = keywords(lx.GENERIC_ZH)
_GENERIC_EN = Caseless.compile(english_source(*lx.GENERIC_EN))

_NAME = r"[\u4e00-\u9fffA-Za-z·]{2,21}"
_ZH_NAMED_WHOLE = re.compile(rf"^({_NAME}?)(?:{'|'.join(lx.NAMED_ENTITY_SUFFIXES)})[?？]?$")
_ZH_NAMED_LEAD = re.compile(r"^([\u4e00-\u9fffA-Za-z]{2,12}?)(?:是谁|是我|是教我|是干什么|是做什么|跟我|和我)")
_ZH_PERSONAL_NAME = re.compile(rf"^(?:{lx.ZH_PERSONAL_NAME})$")
_ZH_PERSONAL_CUES = re.compile(r"来着|我|又|记得|关系")
_EN_WHO = re.compile(r"\bwho(?:'s|s| is| was)\s+([A-Za-z][a-z]+)(?:\s+again)?\s*(?:[?,.!]|$)", re.IGNORECASE)
_EN_NAME_ABOUT = re.compile(
    r"\b(?i:what|where|when)\s+(?i:does|did|is|was)\s+([A-Z][a-z]+)\b"
    r"|\b(?i:how(?:'s| is))\s+([A-Z][a-z]+)(?:\s+(?i:doing))?\s*[?.!]*$"
)
_ZH_NAME_LEAD_QUESTION = re.compile(
    r"^((?:小|阿|老)[\u4e00-\u9fff]|([\u4e00-\u9fff])\2|[\u4e00-\u9fff]{1,2}(?:老师|总|哥|姐|叔|阿姨|师傅|医生|经理|同学))"
    r".{0,12}(?:[?？吗呢谁哪]|什么|怎么样|几岁|多大|了$)"
)
_EN_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+)\b")
_EN_RELATION = keywords(lx.RELATION_WORDS_EN)
_EN_NOT_NAMES = frozenset(
    """
    I Im The A An This That What When Where Which Who Why How Do Does Did Is Are Can Could Should Would
    Will Please Hey Hi Wait Ok Okay So And But Or Monday Tuesday Wednesday Thursday Friday Saturday
    Sunday
    """.split()
)


def _strip_edge_noise(text: str) -> str:
    r"""What `^[\W_]+|[\W_]+$` leaves: a character is noise unless `isalnum()` (regex `\w` minus "_").

    A loop from each end, because a regex for the trailing run is tried at every position of the text."""
    start, end = 0, len(text)
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return text[start:end]


def normalise_short(text: str) -> str:
    """Lowercase, drop outer punctuation/emoji and inner punctuation, collapse spaces: "OK, thanks!" -> "ok thanks"."""
    text = _strip_edge_noise(text.strip().lower())
    return " ".join(_INNER_PUNCT.sub(" ", text).split())  # str.split's whitespace is the regex \s


def _too_long_to_be_low_value(text: str) -> bool:
    if not _LONGER_THAN_SHORT.match(text):
        return False
    first = _LETTER_OR_DIGIT.search(text)
    return first is None or first.group(0).lower()[:1] not in _ACK_STARTS


def is_low_value(text: str) -> bool:
    """Greetings, acknowledgements, fillers and bare control words (normalised exact match)."""
    if _too_long_to_be_low_value(text):  # most messages: no need to normalise them
        return False
    short = normalise_short(text)
    if short in lx.LOW_VALUE:
        return True
    # The blockers are the dearer search, and only matter when the message reads as an acknowledgement.
    acknowledges = bool(LOW_VALUE_ACK.search(short)) or (len(short) <= 16 and bool(_ACCEPT_CURRENT.search(short)))
    return acknowledges and not _ACK_BLOCKERS.search(text)


def message_content(text: str) -> str:
    """The user's own words: quoted passages and the payload of translate/rewrite commands removed."""
    # Both patterns need a quote or a colon; most messages have neither, and then there is nothing to remove.
    content = _QUOTED.sub(" ", text) if _QUOTE_MARK.search(text) else text
    if ":" not in content and "：" not in content:
        return content
    return _AFTER_COLON_TASK.sub(lambda m: m.group(0).split(":")[0].split("：")[0], content)


def _is_english(text: str) -> bool:
    return not _CJK.search(text)


class _Turn(Text):
    """A message's content, and what several rules ask of it, each worked out once: the dearer answers (a
    knowledge question? which entities?) only when a rule first asks."""

    __slots__ = ("_entities", "_generic", "english", "english_question")

    def __init__(self, content: str) -> None:
        super().__init__(content)
        self.english = not self.chinese
        self.english_question = self.english and _QUESTION_EN.found(self)
        self._generic: bool | None = None
        self._entities: tuple[Entity, ...] | None = None

    @property
    def generic(self) -> bool:
        """A knowledge question with nothing of the user in it: memory would not change the answer."""
        if self._generic is None:
            self._generic = _generic_question(self)
        return self._generic

    @property
    def entities(self) -> tuple[Entity, ...]:
        if self._entities is None:
            self._entities = find_entities(self.raw) if _ENTITY_HINT.search(self.raw) else ()
        return self._entities


def _generic_question(turn: _Turn) -> bool:
    if (_GENERIC_ZH.found(turn) and "我" not in turn.raw) or _GENERIC_EN.found(turn):
        return True
    return turn.english_question and not _FIRST_PERSON_EN.found(turn)


def _search(pattern: re.Pattern[str], text: str) -> str:
    m = pattern.search(text)
    return m.group(0) if m else ""


def _chinese_user_owned(turn: _Turn) -> str:
    content = turn.raw
    if hit := _search(_ZH_POSSESSIVE, ZH_INTERJECTION.sub("", content)):
        return hit
    if hit := _search(_ZH_RECALL_PARTICLE, content):
        return hit
    if (hit := _search(_ZH_KIN, content)) and _REQUEST_ZH.found(turn):
        return hit
    return ""


def _user_owned(turn: _Turn) -> str:
    content = turn.raw
    if hit := asks_user_name(turn) and "name question":
        return hit
    if "我" in content and (hit := _chinese_user_owned(turn)):  # every one of these patterns needs a 我
        return hit
    if turn.english_question:
        return "" if _NOT_ABOUT_FACTS_EN.found(turn) else _EN_OWNED.find(turn)
    return ""


def _high_risk(turn: _Turn) -> str:
    if not turn.entities:
        return ""
    # Risk words inside an entity ("deploy-prod") are names, not commands.
    masked = list(turn.raw)
    for entity in turn.entities:
        masked[entity.start : entity.end] = " " * (entity.end - entity.start)
    rest = Text("".join(masked))
    return _RISK_ZH.find(rest) or _RISK_EN.find(rest)


def _comfort(turn: _Turn) -> str:
    if turn.generic:
        return ""
    return _COMFORT.find(turn) or _search(_TIRED_ZH, turn.raw)


def _goal(turn: _Turn) -> str:
    return "" if turn.generic else _GOAL.find(turn)


def _preference(turn: _Turn) -> str:
    if turn.generic or (_ANYTHING_GOES.found(turn) and "我" not in turn.raw):
        return ""
    if hit := _PREFERENCE_ZH.find(turn):
        return hit
    like = _LIKE_ZH.find(turn)
    if like and _REQUEST_ZH.found(turn) and not _ABOUT_CHARACTER_ZH.search(turn.raw):
        return like
    if _REQUEST_EN.found(turn) and (taste := _PERSONAL_TASTE_EN.find(turn)):
        return taste
    return ""


def _fact_entity(turn: _Turn) -> str:
    if turn.entities:  # what `has_fact_entity` asks, without finding the entities a second time
        return "entity"
    return _search(_TASK_FOR_PERSON, turn.raw)


def _explicit(turn: _Turn) -> str:
    if hit := _EXPLICIT_ZH.find(turn):
        return hit
    if (hit := _LIKE_STATEMENT_ZH.find(turn)) and _REQUEST_ZH.found(turn):
        return hit
    if hit := _EXPLICIT_EN_PERSONAL.find(turn):
        return hit
    hit = _EXPLICIT_EN_CONTEXTUAL.find(turn)
    if hit and not _REMIND_ME_TO.found(turn) and _FIRST_PERSON_EN.found(turn):
        return hit
    return ""


def _named_entity_question(content: str) -> str:
    text = content.strip()
    if m := _ZH_NAMED_WHOLE.match(text) or _ZH_NAMED_LEAD.match(text):
        name = m.group(1)
        if _ZH_PERSONAL_NAME.match(name) or _ZH_PERSONAL_CUES.search(text[len(name) :]):
            return name
        return ""
    if (m := _ZH_NAME_LEAD_QUESTION.match(text)) and m.group(1) not in lx.ZH_NOT_NAMES:
        return m.group(1)
    if not _is_english(text):
        return ""
    if (m := _EN_WHO.search(text)) and m.group(1).capitalize() not in _EN_NOT_NAMES:
        return m.group(1)
    if (m := _EN_NAME_ABOUT.search(text)) and (name := m.group(1) or m.group(2)) not in _EN_NOT_NAMES:
        return name
    if _QUESTION_EN.found(message := Text(text)) and _EN_RELATION.found(message):
        names = [str(n) for n in _EN_CAPITALISED.findall(text) if n not in _EN_NOT_NAMES]
        if names:
            return names[0]
    return ""


# Positive rules in the reference's order; high-risk rejection sits where the reference has it.
_RULES: tuple[tuple[str, bool, Callable[[_Turn], str]], ...] = (
    ("user_owned", True, _user_owned),
    ("high_risk_ignored", False, _high_risk),
    ("comfort_context", True, _comfort),
    ("goal_context", True, _goal),
    ("preference_context", True, _preference),
    ("fact_entity", True, _fact_entity),
    ("explicit_recall", True, _explicit),
    ("named_entity_question", True, lambda turn: _named_entity_question(turn.raw)),
    # Any other question about the user's own facts: after the risk check and the more specific markers,
    # so that it widens recall without taking their reasons.
    ("user_owned", True, lambda turn: asks_about_user(turn)),
)


def decide_by_rules(text: str) -> RuleMatch:
    """Classify one user message; the first matching rule wins."""
    stripped = (text or "").strip()
    if not stripped or not _HAS_WORD.search(stripped):
        return RuleMatch(False, "empty")
    if is_low_value(stripped):
        return RuleMatch(False, "low_value", evidence=normalise_short(stripped))
    turn = _Turn(message_content(stripped))
    for reason, recall, rule in _RULES:
        if evidence := rule(turn):
            return RuleMatch(recall, reason, CATEGORIES_BY_REASON.get(reason, ()), evidence)
    return RuleMatch(False, "no_marker")


def is_named_entity_question(text: str) -> bool:
    """A question about a person or pet in the user's life ("小雨是谁？", "who's Jenna?")."""
    return bool(_named_entity_question(message_content((text or "").strip())))
