"""Text patterns shared by the recall rules, the write gate and retrieval, and how they are built to run fast."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import lexicon as lx

# -- texts as the patterns read them ------------------------------------------------------------------
#
# A case-insensitive pattern lowercases every character it compares, which makes the regex engine several
# times slower than a case-sensitive one. Where lowercasing maps a text one to one, the case-sensitive twin
# of a lowercase pattern finds on the lowercased text exactly what the pattern finds on the text.


def fold(text: str) -> str | None:
    r"""The text lowercased, when a lowercase pattern's case-sensitive twin may search that instead of the text.

    `str.lower` maps every character but "İ" to one character and keeps each character's \w, \s and \d
    class; "ı" and "ſ" are the only characters a case-insensitive ASCII letter matches that lowering does not
    turn into that letter (the tests check all three over every code point)."""
    lowered = text.lower()
    if len(lowered) != len(text) or "ı" in text or "ſ" in text:
        return None
    return lowered


# What a case-insensitive ASCII letter can match (the tests check this over every code point), and Chinese.
_LATIN = re.compile(r"[A-Za-z\u0130\u0131\u017f\u212a]")
_CHINESE = re.compile(r"[\u4e00-\u9fff]")


class Text:
    """A text, its folded form, and which scripts it holds, worked out once however many patterns search it.

    A plain slotted class, not a frozen dataclass: a message makes several, and this costs a third as much."""

    __slots__ = ("chinese", "folded", "latin", "raw")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.folded = fold(raw)
        self.latin = _LATIN.search(raw) is not None  # an English pattern could match here
        self.chinese = not raw.isascii() and _CHINESE.search(raw) is not None


def as_text(text: str | Text) -> Text:
    return text if isinstance(text, Text) else Text(text)


# -- case-insensitive patterns and their twins ---------------------------------------------------------
#
# The pattern builders run once, at import, so a mutation testing run (which forks after importing) can never
# see a mutant of theirs: they are left out of it, and every rule test exercises what they build.
_INLINE_FLAGS_OR_BACKREFERENCE = re.compile(r"\(\?[aiLmsux-]|\(\?P=|\(\?\(")
_GROUP_NAME = re.compile(r"\(\?P<\w+>")  # a name changes nothing the group matches
_ATOM = r"\\u[0-9a-fA-F]{4}|\\.|[^\\]"
_ATOM_OR_RANGE = re.compile(rf"({_ATOM})(?:-({_ATOM}))?", re.DOTALL)
_CASE_FREE_ESCAPES = frozenset("bBsSwWdDAZ")  # classes and anchors, the same on lowercased text


def _has_no_case(char: str) -> bool:  # pragma: no mutate block
    """A pattern character the twin matches as the pattern does: ASCII but not a capital, or without case."""
    return not char.isupper() if char.isascii() else char.lower() == char.upper()


def _atom_char(atom: str) -> str | None:  # pragma: no mutate block
    """The character an atom stands for; None for a class or an anchor escape."""
    if atom.startswith("\\u"):
        return chr(int(atom[2:], 16))
    if atom.startswith("\\") and atom[1].isalnum():
        return None
    return atom[-1]


def _atom_folds(atom: str) -> bool:  # pragma: no mutate block
    char = _atom_char(atom)
    return atom[1] in _CASE_FREE_ESCAPES if char is None else _has_no_case(char)


def _range_folds(low: str, high: str) -> bool:  # pragma: no mutate block
    first, last = _atom_char(low), _atom_char(high)
    ends_fold = _atom_folds(low) and _atom_folds(high)  # also "\s-x" or "z-a": no range, three characters
    if first is None or last is None:
        return ends_fold
    return ends_fold and all(_has_no_case(chr(code)) for code in range(ord(first), ord(last) + 1))


def folds_safely(source: str) -> bool:  # pragma: no mutate block
    r"""Whether a case-insensitive source's case-sensitive twin matches the same on folded text.

    Conservative: no inline flags or backreferences, no escape that could spell a letter (\x, \N, octal),
    no capital or other character with case, no range holding one (any "x-y" is checked as a range)."""
    if _INLINE_FLAGS_OR_BACKREFERENCE.search(source):
        return False
    for m in _ATOM_OR_RANGE.finditer(_GROUP_NAME.sub("(", source)):
        low, high = m.groups()
        if not (_range_folds(low, high) if high else _atom_folds(low)):
            return False
    return True


@dataclass(frozen=True)
class Source:
    """A pattern's source, and the scripts every one of its matches holds: a text without them needs no search."""

    regex: str
    needs_latin: bool = False
    needs_chinese: bool = False


@dataclass(frozen=True)
class Caseless:
    """A case-insensitive pattern, searched through its case-sensitive twin whenever the text folds, and not
    at all in a text without the scripts its every match needs."""

    pattern: re.Pattern[str]
    twin: re.Pattern[str] | None = None
    needs_latin: bool = False
    needs_chinese: bool = False

    @classmethod
    def compile(cls, source: str | Source) -> Caseless:  # pragma: no mutate block
        """The pattern, and its twin when the source folds safely (else it always runs case-insensitively)."""
        source = source if isinstance(source, Source) else Source(source)
        twin = re.compile(source.regex) if folds_safely(source.regex) else None
        return cls(re.compile(source.regex, re.IGNORECASE), twin, source.needs_latin, source.needs_chinese)

    # The three below repeat their first lines rather than call a shared helper: they run some thirty times a
    # message, and a Python call costs about as much as a short search.
    def span(self, text: Text) -> tuple[int, int] | None:
        """Where the pattern first matches the text, as `pattern.search(text.raw).span()` would say."""
        if (self.needs_latin and not text.latin) or (self.needs_chinese and not text.chinese):
            return None
        m = self.twin.search(text.folded) if self.twin and text.folded is not None else self.pattern.search(text.raw)
        return m.span() if m else None

    def find(self, text: Text) -> str:
        """The first match, in the text's own case; "" when there is none."""
        if (self.needs_latin and not text.latin) or (self.needs_chinese and not text.chinese):
            return ""
        m = self.twin.search(text.folded) if self.twin and text.folded is not None else self.pattern.search(text.raw)
        return text.raw[m.start() : m.end()] if m else ""

    def found(self, text: Text) -> bool:
        if (self.needs_latin and not text.latin) or (self.needs_chinese and not text.chinese):
            return False
        if self.twin and text.folded is not None:
            return self.twin.search(text.folded) is not None
        return self.pattern.search(text.raw) is not None


@dataclass(frozen=True)
class Either:
    """Parts of one alternation searched one by one, so that each can skip ahead in its own way.

    The leftmost match wins, and on a tie the earlier part: exactly what the alternation of the parts, in
    order, finds. A part of Chinese keywords alone, for one, scans a text for their first characters."""

    parts: tuple[Caseless, ...]

    @classmethod
    def compile(cls, sources: tuple[str | Source, ...]) -> Either:  # pragma: no mutate block
        return cls(tuple(Caseless.compile(source) for source in sources))

    def find(self, text: Text) -> str:
        """The first match, in the text's own case; "" when there is none."""
        found, start = "", len(text.raw) + 1
        for part in self.parts:
            span = part.span(text)
            if span is not None and span[0] < start:
                found, start = text.raw[span[0] : span[1]], span[0]
                if start == 0:
                    break
        return found

    def found(self, text: Text) -> bool:
        return any(part.found(text) for part in self.parts)


# -- building sources ----------------------------------------------------------------------------------
#
# Keyword lists as one alternation, factored like a trie ("stress(?:ed|ful)"): the same matches as the plain
# alternation of the terms longest first, but the engine tries a handful of branches at each place, not every
# term. Only alternatives with different first characters change places, and those never match at one place.
_END = ""  # a term's closing word boundary, after its last character


def _bounded(char: str) -> bool:  # pragma: no mutate block
    return char.isascii() and char.isalnum()


def _units(term: str) -> tuple[str, ...]:  # pragma: no mutate block
    """A term's characters, then _END when it ends with a letter or digit."""
    return (*term, _END) if _bounded(term[-1:]) else tuple(term)


def _piece(unit: str) -> str:  # pragma: no mutate block
    if unit == _END:
        return r"\b"
    return r"\s+" if unit == " " else re.escape(unit)


def _by_first_char(alternatives: list[tuple[str, ...]]) -> list[list[tuple[str, ...]]]:  # pragma: no mutate block
    """Alternatives gathered by first character, in order of appearance; nothing moves across an empty or
    zero-width one (the end of a term), which could match beside any."""
    groups: list[list[tuple[str, ...]]] = []
    open_groups: dict[str, list[tuple[str, ...]]] = {}
    for units in alternatives:
        if not units or units[0] == _END:
            groups.append([units])
            open_groups = {}
        elif units[0] in open_groups:
            open_groups[units[0]].append(units)
        else:
            groups.append(open_groups.setdefault(units[0], [units]))
    return groups


def _trie(alternatives: list[tuple[str, ...]]) -> str:  # pragma: no mutate block
    parts = []
    for group in _by_first_char(alternatives):
        if len(group) == 1:
            parts.append("".join(map(_piece, group[0])))
        else:
            parts.append(f"{_piece(group[0][0])}(?:{_trie([units[1:] for units in group])})")
    return "|".join(parts)


def _is_keyword(term: str) -> bool:  # pragma: no mutate block
    """Lowercase, stripped, single-spaced, and no character a folded text could match differently."""
    spaced = term == term.strip() and "  " not in term and not any(ch.isspace() and ch != " " for ch in term)
    return bool(term) and spaced and all(map(_has_no_case, term))


def _keyword_part(terms: list[str], *, bounded: bool) -> Source:  # pragma: no mutate block
    trie = _trie([_units(term) for term in terms])
    regex = rf"\b(?:{trie})" if bounded else trie
    return Source(regex, all(map(_LATIN.search, terms)), all(map(_CHINESE.search, terms)))


def keyword_parts(terms: tuple[str, ...]) -> tuple[Source, ...]:  # pragma: no mutate block
    r"""The terms as alternations, longest first, word-bounded where a term starts or ends with a letter or digit.

    Terms are lowercase, so a folded text can be searched case-sensitively. Terms starting with a letter or
    digit come last, under one leading `\b` (they never match where the others do): the parts, in order,
    make one alternation, and a part of Chinese terms alone is searched only in Chinese text, as quickly as
    the engine can skip to their first characters."""
    if not all(map(_is_keyword, terms)):
        raise ValueError(f"keywords must be lowercase, stripped and single-spaced: {terms}")
    ordered = sorted(terms, key=len, reverse=True)
    free = [term for term in ordered if not _bounded(term[0])]
    bounded = [term for term in ordered if _bounded(term[0])]
    return tuple(_keyword_part(part, bounded=part is bounded) for part in (free, bounded) if part)


def keyword_source(terms: tuple[str, ...]) -> str:  # pragma: no mutate block
    """The terms as one alternation (see `keyword_parts`)."""
    return "|".join(part.regex for part in keyword_parts(terms))


def keywords(terms: tuple[str, ...]) -> Caseless:  # pragma: no mutate block
    """The terms as a case-insensitive pattern (see `keyword_parts`)."""
    parts = keyword_parts(terms)
    needs = (all(part.needs_latin for part in parts), all(part.needs_chinese for part in parts))
    return Caseless.compile(Source("|".join(part.regex for part in parts), *needs))


def _has_top_level_bar(source: str) -> bool:  # pragma: no mutate block
    depth, in_class, escaped = 0, False, False
    for char in source:
        if escaped or char == "\\":
            escaped = not escaped
        elif in_class or char == "[":
            in_class = char != "]"
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            return True
    return False


def word_led(sources: tuple[str, ...]) -> str:  # pragma: no mutate block
    r"""Alternatives that each start with `\b`, under one `\b`: the same alternation, but the engine tests
    the boundary once at each place instead of once per alternative."""
    if any(not source.startswith(r"\b") or _has_top_level_bar(source) for source in sources):
        raise ValueError(f"each alternative must start with \\b and hold no top-level |: {sources}")
    return r"\b(?:" + "|".join(source[2:] for source in sources) + ")"


def english_source(*sources: str) -> Source:  # pragma: no mutate block
    r"""English alternatives under one `\b` (see `word_led`): every match holds a Latin letter."""
    return Source(word_led(sources), needs_latin=True)


def chinese_source(*sources: str) -> Source:  # pragma: no mutate block
    """Alternatives every match of which holds a Chinese character."""
    return Source("|".join(sources), needs_chinese=True)


# -- the shared patterns -------------------------------------------------------------------------------

# The user asks for their own name: "我叫什么", "我的名字是什么", "what's my name".
NAME_QUESTION = Either.compile(
    (
        chinese_source(
            r"我\s*(?:叫|是)\s*(?:什么|啥|谁)", r"我的\s*(?:名字|称呼)\s*(?:是|叫)?\s*(?:什么|啥|多少|哪个)",
            r"怎么称呼我",
        ),
        english_source(
            r"\bwhat(?:'s|s| is)\s+my\s+(?:name|nickname)\b", r"\b(?:do|did)\s+you\s+(?:know|remember)\s+my\s+name\b",
            r"\bwhat\s+(?:do|should)\s+you\s+call\s+me\b", r"\bwho\s+am\s+i\b",
        ),
    )
)  # fmt: skip

# The text declares the user's name: "我叫小张", "我的名字是…", "以后叫我…", "call me Sam".
NAME_DECLARATION = Caseless.compile(
    r"我叫(?!\s*(?:什么|啥|谁))\s*\S"
    r"|我的\s*(?:名字|称呼)\s*(?:是|叫)(?!\s*(?:什么|啥|多少|哪个))"
    r"|以后叫我|请叫我|你可以叫我|叫我(?=\S{1,6}就)"
    r"|\bmy\s+name\s+is\b|\bmy\s+name's\b|\bcall\s+me\b(?!\s+(?:back|later|when|if))"
    r"|\bi\s+go\s+by\b|\bi'm\s+called\b"
)


def asks_user_name(text: str | Text) -> bool:
    """True when the text asks what the user's own name is."""
    return NAME_QUESTION.found(as_text(text))


# Every declaration holds one of these: most texts are turned away without being folded (an index build
# asks this of every memory).
_NAME_CUE = re.compile(r"叫|名字|称呼|name|call|go\s+by", re.IGNORECASE)


def declares_user_name(text: str) -> bool:
    """True when the text states the user's name or what to call them."""
    if _NAME_CUE.search(text) is None:
        return False
    message = as_text(text)
    return NAME_DECLARATION.found(message) and not asks_user_name(message)


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


# A clause starts at the message start, after punctuation, or after a filler ("so", "ok", "hey", "wait").
_EN_LEAD = r"(?:^|[.!?;:,]\s*|\b(?:so|and|but|hey|ok|okay|oh|wait|um|btw|also|then|quick question|lol)\s+)"
_FIRST_PERSON = r"(?:i|i'm|im|i've|ive|i'd|my|mine|me|myself)"
# Wh-frames: "what food do I like", "which team am I on", "how old is my son", "who gave me this".
_EN_WH_FRAME = Caseless.compile(
    _EN_LEAD + r"(?:what|what's|whats|where|where's|when|when's|who|who's|whom|whose|which|"
    r"how\s+(?:much|many|old|long|often|far|tall|big|soon))\b[^.!?;]*?\b(?P<who>" + _FIRST_PERSON + r")\b"
)
# Auxiliary-led and past "how" frames: "do I have a dentist appointment", "am I allergic", "how did I do".
_EN_AUX_FRAME = Caseless.compile(
    _EN_LEAD + r"(?:(?:how\s+)?(?:do|did|does|am|was|have|had|is|are|were)\s+(?P<who>i|my)\b"
    r"|how\s+(?:do|did)\s+i\s+(?:" + _alternation(lx.HOW_DO_I_HABIT_EN) + r")\b)"
)
_EN_PRESENT_HOW_DO_I = Caseless.compile(r"\bhow\s+do\s+i\b")
_EN_HABIT_AFTER_HOW = Caseless.compile(r"\bhow\s+do\s+i\s+(?:" + _alternation(lx.HOW_DO_I_HABIT_EN) + r")\b")
# Requests that are questions about the user: "tell me about my sister", "remind me what my doctor said".
_EN_ASK_ME = Caseless.compile(
    r"\b(?:tell|remind)\s+me\s+(?:about|of|what|where|when|who|which|how|if|whether)\b[^.!?;]*?\b(?:i|my|me)\b"
    r"|\bremind\s+me\s+(?!to\b)\w+[^.!?;]*?\b(?:i|my)\b"
    r"|\bdo\s+you\s+(?:know|remember)\s+(?:what|where|when|who|which|how|if|whether)\b[^.!?;]*?\b(?:i|my)\b"
)
_EN_PROCEDURE = (
    r"\b(?:where|when|how|what|who)\s+(?:do|can|should)\s+i\s+(?:" + _alternation(lx.PROCEDURE_VERBS_EN) + r")\b"
)
GENERAL_ADVICE_EN = Caseless.compile(word_led(lx.GENERAL_ADVICE_EN))
_EN_HYPOTHETICAL = r"\b(?:if|suppose|imagine|say)\s+(?:i|i'm|im|my)\b"
# Not a question about a stored fact, whoever asks it: a hypothetical, general advice, what one may do, a procedure.
_EN_NOT_A_FACT = Caseless.compile(word_led((_EN_HYPOTHETICAL, *lx.GENERAL_ADVICE_EN, *lx.MODAL_I_EN, _EN_PROCEDURE)))
# "Mondays, am I right?": a tag after a comma asks for agreement, not for a fact.
_EN_TAG = re.compile(r",\s*(?:\w+\s+)?(?:am|aren't|don't|didn't|isn't|right|no|yeah|eh|huh)\b[\w\s']{0,12}\?*\s*$",
                     re.IGNORECASE)  # fmt: skip
_EN_YOU_BEFORE_ME = re.compile(r"\byou\b.*\bme\b", re.IGNORECASE)
# An opinion asked about the user's own facts is the fact asked: "how do you think I like my tea" asks "how do
# I like my tea", "would you say I prefer mornings" asks "do I prefer mornings". Not before a modal ("do you
# think I should…" is advice, which the not-a-fact guard declines).
_EN_OPINION_ABOUT_ME = re.compile(
    r"\b(?P<aux>do|did|would)\s+you\s+(?:really\s+)?(?:think|say|reckon|suppose|guess|imagine|believe|figure)\s+"
    r"(?=(?:i|i'm|im|i've|ive|i'd|my)\b)",
    re.IGNORECASE,
)


# Every frame above names the user: "i" also stands for "i'm", "i've" and "i'd", whose apostrophe ends the word.
_EN_ANY_FIRST_PERSON = Caseless.compile(Source(r"\b(?:i|im|ive|my|mine|me|myself)\b", needs_latin=True))


def _english_self_question(text: Text) -> str:
    if not _EN_ANY_FIRST_PERSON.found(text):  # no frame can match (the tag removed below only shortens it)
        return ""
    direct, opinions = _EN_OPINION_ABOUT_ME.subn(_asked_directly, text.raw)
    text = as_text(direct) if opinions else text  # "would you say I…" is no hypothetical "say I…"
    if _EN_NOT_A_FACT.found(text):
        return ""
    if _EN_PRESENT_HOW_DO_I.found(text) and not _EN_HABIT_AFTER_HOW.found(text):
        return ""
    untagged_raw, tags = _EN_TAG.subn("", text.raw)
    untagged = as_text(untagged_raw) if tags else text
    for frame in (_EN_ASK_ME, _EN_WH_FRAME, _EN_AUX_FRAME):
        if not (span := frame.span(untagged)):
            continue
        hit = untagged.raw[span[0] : span[1]]
        # "what can you tell me about Rome": "me" after a "you" subject is the asker, not the topic
        if not (hit.lower().endswith("me") and _EN_YOU_BEFORE_ME.search(hit)):
            return hit.strip(" ,.")
    return ""


def _asked_directly(match: re.Match[str]) -> str:
    return "did " if match.group("aux").lower() == "did" else "do "


_ZH_CLAUSE = re.compile(r"[^，,。！!？?；;\n]+[？?]?")
# The lookbehind after 我, not before it: a pattern that starts with 我 lets the engine skip ahead to one.
_ZH_SUBJECT_ME = re.compile(rf"我(?<![{lx.ZH_OBJECT_ME_BEFORE}]我)(?!们)")
_ZH_QUESTION = re.compile("|".join(f"(?:{p})" for p in lx.ZH_QUESTION_AFTER_ME))
_ZH_GUARD_PATTERNS = (lx.ZH_HOW_TO, lx.ZH_ADVICE, lx.ZH_HYPOTHETICAL, lx.ZH_INTERJECTION, lx.ZH_TAG_QUESTION)
_ZH_GUARDS = re.compile("|".join(f"(?:{p})" for p in _ZH_GUARD_PATTERNS))
_ZH_ASKING = re.compile(lx.ZH_ASKING_PREFIX)
ZH_INTERJECTION = re.compile(lx.ZH_INTERJECTION)


def _chinese_self_question(text: str) -> str:
    if "我" not in text:  # no clause can have 我 as its subject
        return ""
    for m in _ZH_CLAUSE.finditer(_ZH_ASKING.sub(" ", text)):
        clause = m.group(0)
        me = _ZH_SUBJECT_ME.search(clause)
        if not me or _ZH_GUARDS.search(clause):
            continue
        if _ZH_QUESTION.search(clause, me.end()):
            return clause.strip()
    return ""


def asks_about_user(text: str | Text) -> str:
    """The part of the text that asks about the user's own facts ("what food do I like", "我在学什么语言")."""
    text = as_text(text)
    return _english_self_question(text) or _chinese_self_question(text.raw)


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
