"""`inert`: any text shows literally in a Gradio Markdown or Chatbot bubble (the browser test renders it)."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memory_core.markup import inert, inert_code

# Text with plenty of the characters Markdown and HTML care about.
MARKUP_TEXT = st.text(alphabet=st.sampled_from(list("\\`*_[]()#!|~$@<>&:=-+.1 \n\r\tab中")), max_size=60) | st.text()


def unescape(markdown: str) -> str:
    """What the escapes stand for: drop a backslash before punctuation, then decode the HTML entities."""
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<img src=x onerror="window.__pwned=1">', '&lt;img src=x onerror="window.\\_\\_pwned=1"&gt;'),
        ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
        ("![](x)", "!\\[\\](x)"),
        ("[a](javascript:alert(1))", "\\[a\\](javascript:alert(1))"),
        ("**bold** `code` ~~gone~~ | $$x$$", "\\*\\*bold\\*\\* \\`code\\` \\~\\~gone\\~\\~ \\| \\$\\$x\\$\\$"),
        ("# title", "\\# title"),
        ("> quote", "&gt; quote"),
        ("- a\n+ b\n= c\n1. d\n2) e", "\\- a\\\n\\+ b\\\n\\= c\\\n1\\. d\\\n2\\) e"),
        ("https://a.example www.a.example me@a.example", "https\\://a.example www\\.a.example me\\@a.example"),
        ("fallback_rule (llm_unavailable) _x_", "fallback_rule (llm_unavailable) \\_x\\_"),
        ("Tom & Jerry &amp; 'quotes'", "Tom &amp; Jerry &amp;amp; 'quotes'"),
        ("  line one\r\nline two\n\n", "line one\\\nline two"),
        ("我喜欢喝乌龙茶，不加糖", "我喜欢喝乌龙茶，不加糖"),
    ],
)  # fmt: skip
def test_markup_is_escaped(text: str, expected: str) -> None:
    assert inert(text) == expected


@given(MARKUP_TEXT)
def test_no_tag_or_markup_character_survives(text: str) -> None:
    shown = inert(text)
    assert "<" not in shown and ">" not in shown
    assert not re.search(r"(?<!\\)(?:\\\\)*[`*\[\]#|~$@]", shown), shown  # each one is backslash-escaped
    assert "#" not in shown.replace("\\#", "")  # entities never need one
    assert not re.search(r"&(?!amp;|lt;|gt;)", shown)


@given(MARKUP_TEXT)
def test_escapes_stand_for_the_text_itself(text: str) -> None:
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    assert unescape(inert(text)).replace("\\\n", "\n") == normalised


@given(MARKUP_TEXT)
def test_no_line_opens_a_block(text: str) -> None:
    for line in inert(text).split("\\\n"):
        assert not re.match(r"[-+=:*_#|~`]|\d+[.)]", line.lstrip(" \t")), line


@given(MARKUP_TEXT)
def test_newlines_are_hard_breaks_in_one_paragraph(text: str) -> None:
    shown = inert(text)
    assert shown == shown.strip()
    assert all(re.search(r"(?<!\\)\\(?:\\\\)*$", before) for before in shown.split("\n")[:-1]), shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("preference_context", "`preference_context`"),
        ("a `tick` <b>", "``a `tick` <b>``"),
        ("`edge`", "`` `edge` ``"),
        ("two\nlines", "`two lines`"),
        ("", "` `"),
    ],
)
def test_code_spans_hold_any_backticks(text: str, expected: str) -> None:
    assert inert_code(text) == expected
