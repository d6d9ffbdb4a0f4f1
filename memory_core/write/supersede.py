"""Supersession: a newer statement of the same attribute, or a correction, replaces what it contradicts.

"My sister moved to Paris" and, later, "my sister lives in Lyon" are both about one attribute (the
sister's home); keeping both current makes them compete in every recall. The older one is marked
superseded: it stays in the store and in its history, recall leaves it out by default, and the newer
one lists it in `supersedes`.

An attribute is a subject (the user, a relative or pet, a person named) and a relation (where they
live, their work, their name, their age, their relationship, what they like or cannot eat). Both are
read from the words, in English and Chinese; a correction ("actually…", "不是…是…", "no longer") needs
only the subject, since it says itself that something earlier was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..models import MemoryItem
from .durable import is_correction

# Subjects: the words for a relative or pet, folded onto one name per role.
_PEOPLE: tuple[tuple[str, str], ...] = (
    ("sister", r"\bsister\b|姐姐|妹妹|我姐|我妹|姐|妹"),
    ("brother", r"\bbrother\b|哥哥|弟弟|我哥|我弟"),
    ("mother", r"\b(?:mum|mom|mother|mama)\b|妈妈|我妈|母亲|老妈"),
    ("father", r"\b(?:dad|father|papa)\b|爸爸|我爸|父亲|老爸"),
    (
        "partner",
        r"\b(?:wife|husband|partner|spouse|girlfriend|boyfriend|fianc[eé]e?|ex)\b"
        r"|老婆|老公|妻子|丈夫|爱人|对象|女朋友|男朋友|前女友|前男友",
    ),
    ("son", r"\bson\b|儿子"),
    ("daughter", r"\bdaughter\b|女儿"),
    ("grandparent", r"\bgrand(?:ma|pa|mother|father)\b|奶奶|爷爷|外婆|外公|姥姥|姥爷"),
    ("grandchild", r"\bgrand(?:son|daughter|child|kid)\b|孙子|孙女|外孙"),
    ("pet", r"\b(?:dog|puppy|cat|kitten|rabbits?|bunny|budgie|parrot|hamster|pet)\b|猫|狗|兔|仓鼠|鹦鹉|宠物"),
)
# Topics of the user's own life. In a text about a relative or pet they are that one's ("my sister moved for a
# job at a bank" says nothing about the user's job), so they are subjects only when no relative or pet is named.
_TOPICS: tuple[tuple[str, str], ...] = (
    ("job", r"\b(?:job|team|company|work|works|working)\b|工作|上班|公司|单位|实习"),
    ("home", r"\b(?:we|our family) (?:live|moved)\b|我们家|我家"),
    ("trip", r"\btrip\b|旅行|旅游|[去玩]几天"),
    ("exam", r"\b(?:exam|ielts|toefl|test)\b|雅思|托福|考试|证书|考研"),
)
_PEOPLE_PATTERNS = tuple((role, re.compile(pattern, re.IGNORECASE)) for role, pattern in _PEOPLE)
_TOPIC_PATTERNS = tuple((role, re.compile(pattern, re.IGNORECASE)) for role, pattern in _TOPICS)
_NAME = re.compile(
    r"(?<![.!?] )\b(?!(?:The|This|That|These|Those|There|It|Its|A|An|I|I'm|I've|My|Our|We|He|She|They|If|In|On|At|"
    r"Actually|Correction|Update|Oh|And|But|So|Also|Just|Not|No|Yes)\b)[A-Z][a-z]{2,}\b"
)
_RELATIONS: tuple[tuple[str, str], ...] = (
    ("lives", r"\b(?:lives?|living|moved|moving|based|relocat\w*)\b|住|搬"),
    ("works", r"\b(?:works?|working|job|team|teach\w*|employ\w*|hired|quit|intern\w*)\b|上班|工作|实习|做|教|当"),
    ("named", r"\b(?:named|called|name)\b|叫"),
    ("age", r"\b(?:years? old|turned|turns|grade|year)\b|岁|年级"),
    (
        "relationship",
        r"\b(?:girlfriend|boyfriend|ex|married|divorced|engaged|broke up|split)\b"
        r"|前女友|前男友|女朋友|男朋友|分手|结婚|离婚",
    ),
    ("likes", r"\b(?:like|love|enjoy|prefer|hate|can't stand|dislike|favou?rite)\b|喜欢|爱|讨厌|最爱"),
    (
        "when",
        r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december|pushed|"
        r"postponed)\b|[一二三四五六七八九十]+月|国庆|春节|暑假|寒假|推迟|改到|改成",
    ),
    ("target", r"\b(?:goal|target|aim|score)\b|目标|分|冲"),
)
_RELATION_PATTERNS = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _RELATIONS)


@dataclass(frozen=True)
class Attribute:
    subject: str  # a role ("sister", "job") or a name ("anjali"), or "user"
    relation: str  # lives | works | named | age | relationship | likes | when | target


def subjects(text: str) -> frozenset[str]:
    """Who or what the text is about: relatives, pets, names, else the user's topics; "user" when it names nothing."""
    found = {role for role, pattern in _PEOPLE_PATTERNS if pattern.search(text)}
    if not found:
        found = {role for role, pattern in _TOPIC_PATTERNS if pattern.search(text)}
    found |= {name.casefold() for name in _NAME.findall(text)}
    return frozenset(found or {"user"})


def attributes(text: str) -> frozenset[Attribute]:
    relations = [name for name, pattern in _RELATION_PATTERNS if pattern.search(text)]
    return frozenset(Attribute(subject, relation) for subject in subjects(text) for relation in relations)


def superseded_by(text: str, candidates: Sequence[MemoryItem]) -> tuple[MemoryItem, ...]:
    """The current memories ``text`` replaces: those it corrects (sharing a subject), or that state the same
    attribute of the same subject. The user's likes are one attribute per thing liked, so "I love tea" is
    replaced by "I can't stand tea" but not by "I love hiking"."""
    correction = is_correction(text)
    mine, named = attributes(text), subjects(text)
    return tuple(item for item in candidates if _current(item) and _replaces(text, item.text, correction, mine, named))


def _replaces(text: str, old: str, correction: bool, mine: frozenset[Attribute], named: frozenset[str]) -> bool:
    shared = named & subjects(old) - {"user"}
    if correction and shared:
        return True
    overlap = mine & attributes(old)
    if not overlap:
        return False
    if all(a.relation == "likes" for a in overlap):
        return _same_object(text, old)
    return any(a.subject != "user" for a in overlap) or correction


def _same_object(text: str, old: str) -> bool:
    """Two statements of a liking are about the same thing when what follows the verb is the same."""
    return bool(_liked(text)) and _liked(text) == _liked(old)


_LIKED = re.compile(
    r"\b(?:like|love|enjoy|prefer|hate|can't stand|dislike)s?\s+(?:to\s+)?(.+?)(?:[,.!;]|$)"
    r"|(?:喜欢|爱|讨厌)(?:吃|喝|看|玩)?(.+?)(?:[，。！；]|$)",
    re.IGNORECASE,
)


def _liked(text: str) -> str:
    match = _LIKED.search(text)
    if match is None:
        return ""
    return " ".join((match.group(1) or match.group(2) or "").casefold().split())


def _current(item: MemoryItem) -> bool:
    return item.type != "summary" and not item.metadata.get("superseded_by")


# The reference's canonical item after a relation correction: "我女朋友叫小雨", then "不是女朋友，是前女友"
# gives "小雨是用户的前女友。"
_ZH_RELATION_CORRECTION = re.compile(r"不是(?P<old>[^，,。是]{1,6})[，,]?\s*(?:而)?是(?P<new>[^，,。！!]{1,6})")
_ZH_NAMED = r"我(?:的)?{role}叫(?P<name>[^\s，,。！!]{{1,8}})"


def canonical_relation(text: str, candidates: Sequence[MemoryItem]) -> str:
    """The canonical fact a relation correction implies ("" when the text is not one or no name is known)."""
    match = _ZH_RELATION_CORRECTION.search(text)
    if match is None:
        return ""
    old, new = match.group("old"), re.sub(r"[了啦呢吧哦的]+$", "", match.group("new"))
    named = re.compile(_ZH_NAMED.format(role=re.escape(old)))
    for item in candidates:
        if found := named.search(item.text):
            return f"{found.group('name')}是用户的{new}。"
    return ""
