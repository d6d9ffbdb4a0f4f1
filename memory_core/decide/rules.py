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

from ..recall.entities import find_entities, has_fact_entity
from . import lexicon as lx
from .patterns import GENERAL_ADVICE_EN, ZH_INTERJECTION, asks_about_user, asks_user_name

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


# The two pattern builders run once, at import, so a mutation testing run (which forks after importing) can
# never see a mutant of theirs: they are left out of it, and every rule test exercises what they build.
def _words(terms: tuple[str, ...]) -> re.Pattern[str]:  # pragma: no mutate block
    """One case-insensitive alternation; word-bounded where a term starts or ends with a letter."""
    parts = []
    for term in sorted(terms, key=len, reverse=True):
        piece = re.escape(term).replace(r"\ ", r"\s+")
        if term[:1].isascii() and term[:1].isalnum():
            piece = r"\b" + piece
        if term[-1:].isascii() and term[-1:].isalnum():
            piece += r"\b"
        parts.append(piece)
    return re.compile("|".join(parts), re.IGNORECASE)


def _any(patterns: tuple[str, ...]) -> re.Pattern[str]:  # pragma: no mutate block
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


_HAS_WORD = re.compile(r"[\w\u4e00-\u9fff]")
_EDGE_NOISE = re.compile(r"^[\W_]+|[\W_]+$")
_INNER_PUNCT = re.compile(r"[,.!?;:，。！？；：、~～…]+")
_QUOTED = re.compile(r"“[^”]*”|「[^」]*」|\"[^\"]*\"|(?:(?<=\s)|^)'[^']+'(?=[\s.,!?;:]|$)")
_AFTER_COLON_TASK = re.compile(r"(?:翻译|translate|convert|改写|润色|注释|rewrite)[^:：]*[:：].*$", re.IGNORECASE)
_QUESTION_EN = re.compile(
    r"\?|^\s*(?:what|whats|what's|when|where|which|who|whom|whose|why|how|do|does|did|is|are|was|were|can|"
    r"could|should|would|will|have|has|any)\b|\bagain\b|\bremind me\b|\bdo you know\b",
    re.IGNORECASE,
)
_HYPOTHETICAL = re.compile(r"\bif (?:i|i'm|im|my|we)\b|假如我|如果我|假设我", re.IGNORECASE)
_HOW_TO = re.compile(r"^\s*(?:how (?:do|can|should|would) (?:i|you|we)|how to)\b", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")

LOW_VALUE_ACK = re.compile(
    r"^(?:ok|okay|great|perfect|cool|nice|awesome|好|好的|行|嗯|可以|that's|thats)\b.*(?:"
    + "|".join(re.escape(t) for t in lx.THANKS_ENDINGS)
    + r")$",
    re.IGNORECASE,
)
_ACK_BLOCKERS = re.compile(
    r"\?|？|\b(?:can you|could you|would you|please|remind)\b|帮我|请|吗|什么|怎么", re.IGNORECASE
)
_ACCEPT_CURRENT = _words(lx.ACCEPT_CURRENT)

_ZH_POSSESSIVE = re.compile(
    r"(?:我的|我现在|我之前|我上次|我刚才|我那个|我那台|我那只|我那位|我家|我们家)"
    r".*?(?:是什么|是啥|叫啥|哪个|哪些|什么|多少|目标|项目|偏好|习惯|名字|几|哪|多久|生日|地址|怎么样|多大)"
)
_ZH_KIN = re.compile(r"我[^，。？?！!\s]{0,4}?(?:" + "|".join(sorted(lx.KIN_ZH, key=len, reverse=True)) + ")")
_ZH_RECALL_PARTICLE = re.compile(r"我.*来着|来着.*我")
_EN_OWNED = re.compile(
    r"\b(?:my|mine)\b|\bwhere i (?:live|work|stay|grew up)\b|\bi live\b|\bam i allergic\b", re.IGNORECASE
)

_RISK_ZH = _words(lx.RISK_WORDS_ZH)
_RISK_EN = _words(lx.RISK_WORDS_EN)
_COMFORT = _any(
    (_words(lx.COMFORT_ZH).pattern, *lx.COMFORT_ZH_PATTERNS, _words(lx.COMFORT_EN).pattern, *lx.COMFORT_EN_PATTERNS)
)
_TIRED_ZH = re.compile(r"累(?!计|积)")
_GOAL = _any((_words(lx.GOAL_ZH).pattern, _words(lx.GOAL_EN).pattern))
_PREFERENCE_ZH = _any((_words(lx.PREFERENCE_ZH).pattern, *lx.PREFERENCE_ZH_PATTERNS))
_LIKE_ZH = _words(lx.PREFERENCE_LIKE_ZH)
_ABOUT_CHARACTER_ZH = re.compile(r"你.{0,4}(?:喜欢|不喜欢)")
_REQUEST_ZH = _words(lx.REQUEST_OR_QUESTION_ZH)
_REQUEST_EN = _any(lx.REQUEST_EN)
_PERSONAL_TASTE_EN = _any(lx.PERSONAL_TASTE_EN)
_ANYTHING_GOES = re.compile(r"随便|whatever|any (?:random )?one|at random", re.IGNORECASE)
_TASK_FOR_PERSON = re.compile("|".join(f"(?:{p})" for p in lx.TASK_FOR_PERSON))
_EXPLICIT_ZH = _any((_words(lx.EXPLICIT_ZH).pattern, *lx.EXPLICIT_ZH_PATTERNS))
_LIKE_STATEMENT_ZH = _words(lx.EXPLICIT_LIKE_ZH)
_EXPLICIT_EN_PERSONAL = _any((_words(lx.EXPLICIT_EN_PERSONAL).pattern, *lx.EXPLICIT_EN_PATTERNS))
_EXPLICIT_EN_CONTEXTUAL = _words(lx.EXPLICIT_EN_CONTEXTUAL)
_REMIND_ME_TO = re.compile(r"\bremind me to\b", re.IGNORECASE)
_FIRST_PERSON_EN = re.compile(lx.FIRST_PERSON_EN, re.IGNORECASE)
_GENERIC_ZH = _words(lx.GENERIC_ZH)
_GENERIC_EN = _any(lx.GENERIC_EN)

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
_EN_RELATION = _words(lx.RELATION_WORDS_EN)
_EN_NOT_NAMES = frozenset(
    """
    I Im The A An This That What When Where Which Who Why How Do Does Did Is Are Can Could Should Would
    Will Please Hey Hi Wait Ok Okay So And But Or Monday Tuesday Wednesday Thursday Friday Saturday
    Sunday
    """.split()
)


def normalise_short(text: str) -> str:
    """Lowercase, drop outer punctuation/emoji and inner punctuation, collapse spaces: "OK, thanks!" -> "ok thanks"."""
    text = _EDGE_NOISE.sub("", text.strip().lower())
    return re.sub(r"\s+", " ", _INNER_PUNCT.sub(" ", text)).strip()


def is_low_value(text: str) -> bool:
    """Greetings, acknowledgements, fillers and bare control words (normalised exact match)."""
    short = normalise_short(text)
    if short in lx.LOW_VALUE:
        return True
    if _ACK_BLOCKERS.search(text):
        return False
    return bool(LOW_VALUE_ACK.search(short)) or (bool(_ACCEPT_CURRENT.search(short)) and len(short) <= 16)


def message_content(text: str) -> str:
    """The user's own words: quoted passages and the payload of translate/rewrite commands removed."""
    content = _QUOTED.sub(" ", text)
    return _AFTER_COLON_TASK.sub(lambda m: m.group(0).split(":")[0].split("：")[0], content)


def _is_english(text: str) -> bool:
    return not _CJK.search(text)


def _generic_question(content: str) -> bool:
    """A knowledge question with nothing of the user in it: memory would not change the answer."""
    if (_GENERIC_ZH.search(content) and "我" not in content) or _GENERIC_EN.search(content):
        return True
    if _is_english(content):
        return bool(_QUESTION_EN.search(content)) and not _FIRST_PERSON_EN.search(content)
    return False


def _search(pattern: re.Pattern[str], text: str) -> str:
    m = pattern.search(text)
    return m.group(0) if m else ""


def _user_owned(content: str) -> str:
    if hit := asks_user_name(content) and "name question":
        return hit
    if hit := _search(_ZH_POSSESSIVE, ZH_INTERJECTION.sub("", content)):
        return hit
    if hit := _search(_ZH_RECALL_PARTICLE, content):
        return hit
    if (hit := _search(_ZH_KIN, content)) and _REQUEST_ZH.search(content):
        return hit
    if _is_english(content) and _QUESTION_EN.search(content):
        if _HYPOTHETICAL.search(content) or _HOW_TO.search(content) or GENERAL_ADVICE_EN.search(content):
            return ""
        return _search(_EN_OWNED, content)
    return ""


def _high_risk(content: str) -> str:
    entities = find_entities(content)
    if not entities:
        return ""
    # Risk words inside an entity ("deploy-prod") are names, not commands.
    masked = list(content)
    for entity in entities:
        masked[entity.start : entity.end] = " " * (entity.end - entity.start)
    rest = "".join(masked)
    return _search(_RISK_ZH, rest) or _search(_RISK_EN, rest)


def _comfort(content: str) -> str:
    if _generic_question(content):
        return ""
    return _search(_COMFORT, content) or _search(_TIRED_ZH, content)


def _goal(content: str) -> str:
    return "" if _generic_question(content) else _search(_GOAL, content)


def _preference(content: str) -> str:
    if _generic_question(content) or (_ANYTHING_GOES.search(content) and "我" not in content):
        return ""
    if hit := _search(_PREFERENCE_ZH, content):
        return hit
    like = _search(_LIKE_ZH, content)
    if like and _REQUEST_ZH.search(content) and not _ABOUT_CHARACTER_ZH.search(content):
        return like
    if _REQUEST_EN.search(content) and (taste := _search(_PERSONAL_TASTE_EN, content)):
        return taste
    return ""


def _fact_entity(content: str) -> str:
    if has_fact_entity(content):
        return "entity"
    return _search(_TASK_FOR_PERSON, content)


def _explicit(content: str) -> str:
    if hit := _search(_EXPLICIT_ZH, content):
        return hit
    if (hit := _search(_LIKE_STATEMENT_ZH, content)) and _REQUEST_ZH.search(content):
        return hit
    if hit := _search(_EXPLICIT_EN_PERSONAL, content):
        return hit
    hit = _search(_EXPLICIT_EN_CONTEXTUAL, content)
    if hit and not _REMIND_ME_TO.search(content) and _FIRST_PERSON_EN.search(content):
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
    if _QUESTION_EN.search(text) and _EN_RELATION.search(text):
        names = [str(n) for n in _EN_CAPITALISED.findall(text) if n not in _EN_NOT_NAMES]
        if names:
            return names[0]
    return ""


# Positive rules in the reference's order; high-risk rejection sits where the reference has it.
_RULES: tuple[tuple[str, bool, Callable[[str], str]], ...] = (
    ("user_owned", True, _user_owned),
    ("high_risk_ignored", False, _high_risk),
    ("comfort_context", True, _comfort),
    ("goal_context", True, _goal),
    ("preference_context", True, _preference),
    ("fact_entity", True, _fact_entity),
    ("explicit_recall", True, _explicit),
    ("named_entity_question", True, _named_entity_question),
    # Any other question about the user's own facts: after the risk check and the more specific markers,
    # so that it widens recall without taking their reasons.
    ("user_owned", True, asks_about_user),
)


def decide_by_rules(text: str) -> RuleMatch:
    """Classify one user message; the first matching rule wins."""
    stripped = (text or "").strip()
    if not stripped or not _HAS_WORD.search(stripped):
        return RuleMatch(False, "empty")
    if is_low_value(stripped):
        return RuleMatch(False, "low_value", evidence=normalise_short(stripped))
    content = message_content(stripped)
    for reason, recall, rule in _RULES:
        if evidence := rule(content):
            return RuleMatch(recall, reason, CATEGORIES_BY_REASON.get(reason, ()), evidence)
    return RuleMatch(False, "no_marker")


def is_named_entity_question(text: str) -> bool:
    """A question about a person or pet in the user's life ("小雨是谁？", "who's Jenna?")."""
    return bool(_named_entity_question(message_content((text or "").strip())))
