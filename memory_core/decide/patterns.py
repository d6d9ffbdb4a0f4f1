"""Text patterns shared by the recall rules, the write gate and retrieval."""

from __future__ import annotations

import re

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
