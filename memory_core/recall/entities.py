"""Exact entities in text: IPv4 addresses, file paths, file names, server aliases, host identifiers.

Both the recall rules (a concrete system entity makes a message recall-worthy, or a destructive
command risky) and BM25 (exact entities filter and boost hits) read them from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)")
# Unix paths start at /, ~/ or ./; Windows paths at a drive letter. Trailing punctuation is not part of them.
UNIX_PATH = re.compile(r"(?<![\w.~/])(?:~|\.{1,2})?/[\w.\-~]+(?:/[\w.\-~]*)*")
WINDOWS_PATH = re.compile(r"(?<![\w])[A-Za-z]:\\[\w.\-\\ ]*[\w.\-\\]")
FILE_NAME = re.compile(r"(?<![\w./])[A-Za-z0-9_][\w\-]*\.[A-Za-z][A-Za-z0-9]{1,5}\b(?!\.\w)")
ZH_SERVER = re.compile(r"(?<![A-Za-z0-9])(\d{2,4})\s*号?\s*服务器")
EN_SERVER = re.compile(
    r"\b(?:server|host|box|machine|node|vm)\s*(?:no\.?\s*|#\s*)?(\d{2,4})\b|\b(\d{2,4})\s+(?:server|box)\b",
    re.IGNORECASE,
)
# Hyphenated or underscored identifiers such as prod-db, web-07, billing-api, redis_01.
IDENTIFIER = re.compile(r"(?<![\w\-./])[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)+(?![\w\-])")
SLASHED = re.compile(r"(?<![\w/])[A-Za-z0-9]+/[A-Za-z0-9]+(?![\w/])")
_CJK = re.compile(r"[\u4e00-\u9fff]")

# Parts that make a hyphenated word look like a system name rather than an English compound.
INFRA_WORDS = frozenset(
    """
    api app apps backup bak bucket cache cdn ci cluster cron db dev disk docker etl gateway git host job
    k8s kafka lb master main mongo mysql nas nginx node ops pg pod postgres prod project proxy queue
    redis release repo server service shard site sql srv stage staging svc test vm web worker
    """.split()
)
_COMMON_FILE_ENDINGS = frozenset({"com", "net", "org", "io", "cn", "dev", "app", "ai"})


@dataclass(frozen=True)
class Entity:
    kind: str  # ip | path | file | server | host
    value: str  # canonical form, lowercased where case carries no meaning
    start: int
    end: int


def _strip_trailing(value: str) -> str:
    return value.rstrip(".,;:!?。，；：！？)'\"")


def _identifier_is_system_name(word: str, *, cjk_context: bool) -> bool:
    parts = re.split(r"[-_]", word.lower())
    if "_" in word or cjk_context:
        return True
    return any(any(ch.isdigit() for ch in part) or part in INFRA_WORDS for part in parts)


def find_entities(text: str) -> tuple[Entity, ...]:
    """Every entity in text, left to right, without overlaps (earlier, more specific kinds win)."""
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def claim(kind: str, value: str, start: int, end: int) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append(Entity(kind, value, start, end))

    for m in IPV4.finditer(text):
        claim("ip", m.group(0), m.start(), m.end())
    for pattern in (UNIX_PATH, WINDOWS_PATH):
        for m in pattern.finditer(text):
            value = _strip_trailing(m.group(0))
            if len(value) > 1:
                claim("path", value, m.start(), m.start() + len(value))
    for pattern in (ZH_SERVER, EN_SERVER):
        for m in pattern.finditer(text):
            number = next(g for g in m.groups() if g)
            claim("server", f"{number}服务器", m.start(), m.end())
    for m in FILE_NAME.finditer(text):
        claim("file", m.group(0).lower(), m.start(), m.end())
    cjk_context = bool(_CJK.search(text))
    for m in IDENTIFIER.finditer(text):
        if _identifier_is_system_name(m.group(0), cjk_context=cjk_context):
            claim("host", m.group(0).lower(), m.start(), m.end())
    if cjk_context:
        for m in SLASHED.finditer(text):
            claim("host", m.group(0).lower(), m.start(), m.end())
    found.sort(key=lambda e: e.start)
    return tuple(found)


def exact_entities(text: str) -> frozenset[str]:
    """The entities BM25 filters on, as the reference does: IPv4 addresses, paths and server aliases."""
    return frozenset(e.value for e in find_entities(text) if e.kind in ("ip", "path", "server"))


def has_fact_entity(text: str) -> bool:
    """True when the text names a concrete system entity (host, path, file, address, server)."""
    return bool(find_entities(text))
