"""Text that must show literally where the UI renders Markdown and HTML (chat bubbles, notes, Compare).

Memory text, personas, user messages and replies are data, never markup: a memory that reads
`<img src=x onerror=…>` or `![](x)` must show those characters, not fetch an image. Escape at display
time only; values such as the engine's Trace keep the raw text.
"""

from __future__ import annotations

import re

_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Backslash, code, emphasis, links, headings, tables, strikethrough, `$` for Gradio's `$$…$$` LaTeX and
# `@` for GFM's e-mail autolinks. Left alone because they cannot form markup here, which keeps the source
# readable: quotes; `(`, `)` and `!`, which only make links and images after a `[` or `]`; and `_` inside
# a word (`fallback_rule`), which CommonMark never reads as emphasis.
_PUNCTUATION = re.compile(r"([\\`*\[\]#|~$@])|(?<![^\W_])_|_(?![^\W_])")
# GFM turns bare `https://…` and `www.…` into links; a backslash in `\://` or `www\.` stops that.
_BARE_LINK = re.compile(r"(?i)(?<=[a-z]):(?=//)|(?<=www)\.")
# List items, setext underlines and ordered lists are only markup at the start of a line.
_LINE_START = re.compile(r"^([ \t]*)([-+=:]|\d+[.)])", re.MULTILINE)
# A backslash before a newline is a hard line break in CommonMark, with or without Gradio's line_breaks,
# and unlike a blank line it never starts a new block.
_HARD_BREAK = "\\\n"


def inert(text: str) -> str:
    """Markdown that a Gradio Markdown or Chatbot bubble shows as exactly `text`, with its line breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    text = _PUNCTUATION.sub(lambda m: "\\" + m.group(0), text.translate(_HTML))
    text = _BARE_LINK.sub(lambda m: "\\" + m.group(0), text)
    text = _LINE_START.sub(_escape_marker, text)
    return text.replace("\n", _HARD_BREAK)


def inert_code(text: str) -> str:
    """An inline code span showing `text` literally, whatever backticks or newlines it holds."""
    text = " ".join(text.split()) or " "
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def _escape_marker(match: re.Match[str]) -> str:
    indent, marker = match.groups()
    return f"{indent}{marker[:-1]}\\{marker[-1]}"
