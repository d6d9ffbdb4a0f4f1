"""The offline responder's language rules: what kind of answer a message gets, and memories said back to the
user in the second person ("I take my oolong without sugar" → "you take your oolong without sugar").

Pure functions, no model: deterministic, so the console shows plainly what memory changes in a reply.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ADVERBS = r"usually|often|always|never|sometimes|really|also|still|only|rarely|generally|mostly|typically|now"
_CLAUSE_LEAD = r"(?P<lead>^|[.;:!?,]\s*|\b(?:and|but|that|because|when|if|so|while)\s+)"
_USER_POSSESSIVE = re.compile(r"\b(?:[Tt]he\s+user|[Uu]ser)['’]s\b")
_USER_SUBJECT = re.compile(
    _CLAUSE_LEAD + rf"(?:[Tt]he\s+user|User)\b(?P<adv>\s+(?:{_ADVERBS}))?\s+(?P<verb>[A-Za-z]+n['’]t|[A-Za-z]+)\b"
)
_USER_ELSEWHERE = re.compile(r"\b(?:[Tt]he\s+user|User)\b")
_THEIR = re.compile(r"\b(?:their|themselves|themself)\b")
_IRREGULAR = {"is": "are", "was": "were", "has": "have", "does": "do", "isn't": "aren't", "wasn't": "weren't",
              "hasn't": "haven't", "doesn't": "don't"}  # fmt: skip
# Longest first, so "I'm" is one token and never "I" then "'m".
_PRONOUN = re.compile(
    r"\b(?:i['’]m|i['’]ve|i['’]d|i['’]ll|i\s+am|i\s+was|myself|mine|my|me|i|"
    r"you['’]re|you['’]ve|you['’]d|you['’]ll|you\s+are|you\s+were|yourself|yours|your|you)\b",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(?:i|i['’]m|i['’]ve|i['’]d|i['’]ll|me|my|mine|myself)\b", re.IGNORECASE)
_TO_SECOND = {"i'm": "you're", "i've": "you've", "i'd": "you'd", "i'll": "you'll", "i am": "you are",
              "i was": "you were", "i": "you", "me": "you", "my": "your", "mine": "yours",
              "myself": "yourself"}  # fmt: skip
_TO_FIRST = {"you're": "I'm", "you've": "I've", "you'd": "I'd", "you'll": "I'll", "you are": "I am",
             "you were": "I was", "yourself": "myself", "yours": "mine", "your": "my", "you": "me"}  # fmt: skip
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)$")
_SUBJECT_BEFORE = re.compile(r"(?:^|[.;:!?,]\s*|\b(?:and|but|that|because|when|if|so|while)\s+)$", re.IGNORECASE)
_EN_IMPERATIVE = re.compile(r"^(?:please\s+)?(?P<neg>don['’]t|do\s+not|never)\s+(?P<rest>.+)$", re.IGNORECASE)
_EN_PLEASE = re.compile(r"^please\s+(?P<rest>.+)$", re.IGNORECASE)
_ZH_IMPERATIVE = re.compile(r"^(?:请|麻烦)(?P<rest>.+)$|^(?P<neg>(?:不要|别).+)$")
_ZH_PRONOUN = re.compile(r"用户|我|你|您")
_TRAILING = re.compile(r"[\s。．.!！?？;；,，、]+$")

_EN_QUESTION = re.compile(
    r"\?\s*$|^\s*(?:what|who|whom|whose|which|when|where|why|how|do|does|did|is|are|was|were|can|could|will|would|"
    r"should|have|has|tell me)\b",
    re.IGNORECASE,
)
_ZH_QUESTION = re.compile(r"[?？]\s*$|吗|什么|怎么|怎样|哪|谁|几|多少|为什么|是不是|呢\s*$")
_EN_ABOUT_USER = re.compile(r"\b(?:i|i['’]m|i['’]ve|i['’]d|me|my|mine|myself|remember)\b", re.IGNORECASE)
_ZH_ABOUT_USER = re.compile(r"我|记得")
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|good\s+(?:morning|afternoon|evening)|你好|您好|嗨|哈喽|早)", re.IGNORECASE)
_THANKS = re.compile(r"\b(?:thanks|thank\s+you|thx)\b|谢谢|多谢|感谢", re.IGNORECASE)
GENERAL_REASONS = frozenset({"general_knowledge", "one_off_command"})
SMALL_TALK_REASONS = frozenset({"greeting", "small_talk", "low_value", "empty"})


def is_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def second_person(text: str) -> str:
    """A memory said back to the user: the user's own words (I, my, 我) and notes about "the user" (用户) in
    the second person; text already addressed to the user stays as it is."""
    return _second_person_zh(text) if is_chinese(text) else _second_person_en(text)


def restate(memory: str) -> str:
    """A memory as a clause to the user, without closing punctuation; a request the user made becomes "you
    asked me to …" ("Please don't call me buddy" → "you asked me not to call you buddy")."""
    text = _TRAILING.sub("", memory.strip())
    if is_chinese(text):
        if match := _ZH_IMPERATIVE.match(text):
            return "你让我" + second_person(match.group("rest") or match.group("neg"))
        return second_person(text)
    if match := _EN_IMPERATIVE.match(text):
        negation = "never to" if match.group("neg").lower() == "never" else "not to"
        return f"you asked me {negation} {second_person(match.group('rest'))}"
    if match := _EN_PLEASE.match(text):
        return f"you asked me to {second_person(match.group('rest'))}"
    return second_person(text)


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def reply_kind(user_text: str, *, found: bool, recalled: bool | None, reason: str = "") -> str:
    """Which offline answer a message gets: "memory" (something was recalled), "not_found" (recall ran and
    found nothing), or, with no recall (``recalled`` False) or no decision at all (None, memory off),
    "general", "greeting", "thanks", "unknown" (a question about the user) or "statement"."""
    if found:
        return "memory"
    if recalled:
        return "not_found"
    if reason in GENERAL_REASONS:
        return "general"
    if _THANKS.search(user_text):
        return "thanks"
    if reason in SMALL_TALK_REASONS or _GREETING.match(user_text):
        return "greeting"
    if not is_question(user_text):
        return "statement"
    return "unknown" if about_user(user_text) else "general"


def is_question(text: str) -> bool:
    return bool(_ZH_QUESTION.search(text) if is_chinese(text) else _EN_QUESTION.search(text))


def about_user(text: str) -> bool:
    """The message is about the user (I, my, remember; 我, 记得) rather than about the world."""
    return bool(_ZH_ABOUT_USER.search(text) if is_chinese(text) else _EN_ABOUT_USER.search(text))


def shortened(text: str, limit: int = 80) -> str:
    """One line of at most ``limit`` characters, an ellipsis where it was cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _second_person_zh(text: str) -> str:
    if "我" not in text and "用户" not in text:
        return text
    return _ZH_PRONOUN.sub(lambda m: "你" if m.group() in ("用户", "我") else "我", text)


def _second_person_en(text: str) -> str:
    text = _USER_POSSESSIVE.sub(lambda m: _cased("your", text, m.start()), text)
    subject = bool(_USER_SUBJECT.search(text))
    text = _USER_SUBJECT.sub(_user_as_you, text)
    text = _USER_ELSEWHERE.sub(lambda m: _cased("you", text, m.start()), text)
    if subject:
        text = _THEIR.sub(lambda m: "your" if m.group() == "their" else "yourself", text)
    swap_back = bool(_FIRST_PERSON.search(text))
    return _PRONOUN.sub(lambda m: _swapped(m, text, swap_back), text)


def _user_as_you(match: re.Match[str]) -> str:
    lead, adverb = match.group("lead"), match.group("adv") or ""
    you = "You" if not lead or lead.strip() in (".", "!", "?") else "you"
    return f"{lead}{you}{adverb} {_base_verb(match.group('verb'))}"


def _base_verb(word: str) -> str:
    """The verb after "you" for the one after "the user": takes → take, is → are, studies → study."""
    lower = word.lower().replace("’", "'")
    if lower in _IRREGULAR:
        return _IRREGULAR[lower]
    if lower.endswith("ies") and len(lower) > 4:
        return word[:-3] + "y"
    if lower.endswith(("sses", "shes", "ches", "xes", "zes", "oes")):
        return word[:-2]
    if lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _swapped(match: re.Match[str], text: str, swap_back: bool) -> str:
    """One pronoun from the user's point of view to the character's; "you" only changes where the text also
    speaks as the user ("I told you" → "you told me"), so text already addressed to the user stays."""
    token = match.group()
    key = re.sub(r"\s+", " ", token.lower().replace("’", "'"))
    if key in _TO_SECOND:
        return _cased(_TO_SECOND[key], text, match.start())
    if not swap_back:
        return token
    if key == "you" and _SUBJECT_BEFORE.search(text[: match.start()]):
        return "I"
    return _cased(_TO_FIRST[key], text, match.start())


def _cased(word: str, text: str, start: int) -> str:
    """``word`` capitalised at the start of a sentence; "I" always."""
    if word.startswith("I") and (len(word) == 1 or not word[1].isalpha()):
        return word
    return capitalised(word) if _SENTENCE_START.search(text[:start]) else word


_LEADING_YOU = re.compile(r"^(?:You|Your|Yours|You're|You've|You'd|You'll)\b")


def clause(text: str) -> str:
    """A restated memory to go inside a sentence: a leading "You"/"Your" lowercased, names left as they are."""
    return text[0].lower() + text[1:] if _LEADING_YOU.match(text) else text
