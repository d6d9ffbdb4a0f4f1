"""Text patterns shared by the recall rules, the write gate and retrieval."""

from __future__ import annotations

import re

from . import lexicon as lx

# The user asks for their own name: "我叫什么", "我的名字是什么", "what's my name".
NAME_QUESTION = re.compile(
    r"我\s*(?:叫|是)\s*(?:什么|啥|谁)"
    r"|我的\s*(?:名字|称呼)\s*(?:是|叫)?\s*(?:什么|啥|多少|哪个)"
    r"|怎么称呼我"
    r"|\bwhat(?:'s|s| is)\s+my\s+(?:name|nickname)\b"
    r"|\b(?:do|did)\s+you\s+(?:know|remember)\s+my\s+name\b"
    r"|\bwhat\s+(?:do|should)\s+you\s+call\s+me\b"
    r"|\bwho\s+am\s+i\b",
    re.IGNORECASE,
)

# The text declares the user's name: "我叫小张", "我的名字是…", "以后叫我…", "call me Sam".
NAME_DECLARATION = re.compile(
    r"我叫(?!\s*(?:什么|啥|谁))\s*\S"
    r"|我的\s*(?:名字|称呼)\s*(?:是|叫)(?!\s*(?:什么|啥|多少|哪个))"
    r"|以后叫我|请叫我|你可以叫我|叫我(?=\S{1,6}就)"
    r"|\bmy\s+name\s+is\b|\bmy\s+name's\b|\bcall\s+me\b(?!\s+(?:back|later|when|if))"
    r"|\bi\s+go\s+by\b|\bi'm\s+called\b",
    re.IGNORECASE,
)


def asks_user_name(text: str) -> bool:
    """True when the text asks what the user's own name is."""
    return bool(NAME_QUESTION.search(text))


def declares_user_name(text: str) -> bool:
    """True when the text states the user's name or what to call them."""
    return bool(NAME_DECLARATION.search(text)) and not asks_user_name(text)


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


# A clause starts at the message start, after punctuation, or after a filler ("so", "ok", "hey", "wait").
_EN_LEAD = r"(?:^|[.!?;:,]\s*|\b(?:so|and|but|hey|ok|okay|oh|wait|um|btw|also|then|quick question|lol)\s+)"
_FIRST_PERSON = r"(?:i|i'm|im|i've|ive|i'd|my|mine|me|myself)"
# Wh-frames: "what food do I like", "which team am I on", "how old is my son", "who gave me this".
_EN_WH_FRAME = re.compile(
    _EN_LEAD + r"(?:what|what's|whats|where|where's|when|when's|who|who's|whom|whose|which|"
    r"how\s+(?:much|many|old|long|often|far|tall|big|soon))\b[^.!?;]*?\b(?P<who>" + _FIRST_PERSON + r")\b",
    re.IGNORECASE,
)
# Auxiliary-led and past "how" frames: "do I have a dentist appointment", "am I allergic", "how did I do".
_EN_AUX_FRAME = re.compile(
    _EN_LEAD + r"(?:(?:how\s+)?(?:do|did|does|am|was|have|had|is|are|were)\s+(?P<who>i|my)\b"
    r"|how\s+(?:do|did)\s+i\s+(?:" + _alternation(lx.HOW_DO_I_HABIT_EN) + r")\b)",
    re.IGNORECASE,
)
_EN_PRESENT_HOW_DO_I = re.compile(r"\bhow\s+do\s+i\b", re.IGNORECASE)
_EN_HABIT_AFTER_HOW = re.compile(r"\bhow\s+do\s+i\s+(?:" + _alternation(lx.HOW_DO_I_HABIT_EN) + r")\b", re.IGNORECASE)
# Requests that are questions about the user: "tell me about my sister", "remind me what my doctor said".
_EN_ASK_ME = re.compile(
    r"\b(?:tell|remind)\s+me\s+(?:about|of|what|where|when|who|which|how|if|whether)\b[^.!?;]*?\b(?:i|my|me)\b"
    r"|\bremind\s+me\s+(?!to\b)\w+[^.!?;]*?\b(?:i|my)\b"
    r"|\bdo\s+you\s+(?:know|remember)\s+(?:what|where|when|who|which|how|if|whether)\b[^.!?;]*?\b(?:i|my)\b",
    re.IGNORECASE,
)
_EN_PROCEDURE = re.compile(
    r"\b(?:where|when|how|what|who)\s+(?:do|can|should)\s+i\s+(?:" + _alternation(lx.PROCEDURE_VERBS_EN) + r")\b",
    re.IGNORECASE,
)
GENERAL_ADVICE_EN = re.compile("|".join(lx.GENERAL_ADVICE_EN), re.IGNORECASE)
_EN_MODAL_I = re.compile("|".join(lx.MODAL_I_EN), re.IGNORECASE)
_EN_HYPOTHETICAL = re.compile(r"\b(?:if|suppose|imagine|say)\s+(?:i|i'm|im|my)\b", re.IGNORECASE)
# "Mondays, am I right?": a tag after a comma asks for agreement, not for a fact.
_EN_TAG = re.compile(r",\s*(?:\w+\s+)?(?:am|aren't|don't|didn't|isn't|right|no|yeah|eh|huh)\b[\w\s']{0,12}\?*\s*$",
                     re.IGNORECASE)  # fmt: skip
_EN_YOU_BEFORE_ME = re.compile(r"\byou\b.*\bme\b", re.IGNORECASE)


def _english_self_question(text: str) -> str:
    if any(p.search(text) for p in (_EN_HYPOTHETICAL, GENERAL_ADVICE_EN, _EN_MODAL_I, _EN_PROCEDURE)):
        return ""
    if _EN_PRESENT_HOW_DO_I.search(text) and not _EN_HABIT_AFTER_HOW.search(text):
        return ""
    text = _EN_TAG.sub("", text)
    for frame in (_EN_ASK_ME, _EN_WH_FRAME, _EN_AUX_FRAME):
        if not (m := frame.search(text)):
            continue
        hit = str(m.group(0))
        # "what can you tell me about Rome": "me" after a "you" subject is the asker, not the topic
        if not (hit.lower().endswith("me") and _EN_YOU_BEFORE_ME.search(hit)):
            return hit.strip(" ,.")
    return ""


_ZH_CLAUSE = re.compile(r"[^，,。！!？?；;\n]+[？?]?")
_ZH_SUBJECT_ME = re.compile(rf"(?<![{lx.ZH_OBJECT_ME_BEFORE}])我(?!们)")
_ZH_QUESTION = re.compile("|".join(f"(?:{p})" for p in lx.ZH_QUESTION_AFTER_ME))
_ZH_GUARD_PATTERNS = (lx.ZH_HOW_TO, lx.ZH_ADVICE, lx.ZH_HYPOTHETICAL, lx.ZH_INTERJECTION, lx.ZH_TAG_QUESTION)
_ZH_GUARDS = re.compile("|".join(f"(?:{p})" for p in _ZH_GUARD_PATTERNS))
_ZH_ASKING = re.compile(lx.ZH_ASKING_PREFIX)
ZH_INTERJECTION = re.compile(lx.ZH_INTERJECTION)


def _chinese_self_question(text: str) -> str:
    for m in _ZH_CLAUSE.finditer(_ZH_ASKING.sub(" ", text)):
        clause = m.group(0)
        me = _ZH_SUBJECT_ME.search(clause)
        if not me or _ZH_GUARDS.search(clause):
            continue
        if _ZH_QUESTION.search(clause, me.end()):
            return clause.strip()
    return ""


def asks_about_user(text: str) -> str:
    """The part of the text that asks about the user's own facts ("what food do I like", "我在学什么语言")."""
    return _english_self_question(text) or _chinese_self_question(text)


MIN_WRITE_LENGTH = 4
MAX_WRITE_LENGTH = 1200
_ONLY_PUNCTUATION = re.compile(r"^[\W_]*$")
SENSITIVE = re.compile(
    r"api[\s_-]?key|token|secret|password|passwd|密码|口令|私钥|密钥|\bsk-[A-Za-z0-9_\-]{6,}",
    re.IGNORECASE,
)


def is_invalid(text: str) -> bool:
    """Too short, punctuation only, or too long to be a memory (the reference's `invalid`)."""
    stripped = text.strip()
    return (
        len(stripped) < MIN_WRITE_LENGTH or len(stripped) > MAX_WRITE_LENGTH or bool(_ONLY_PUNCTUATION.match(stripped))
    )


def is_sensitive(text: str) -> bool:
    """Credentials and secrets are never written to memory."""
    return bool(SENSITIVE.search(text))
