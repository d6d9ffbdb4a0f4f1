"""The fast tokenizer (entity pre-screen, cached run terms) gives exactly what the plain one gave."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from conftest import ROOT, SHARED_DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_core.eval.benchmarks import _synthetic_texts
from memory_core.recall import tokenizer as tk
from memory_core.recall.entities import find_entities


def plain_tokenize(text: str) -> list[str]:
    """The tokenizer as it was before the fast paths: every text parsed for entities, every run in full."""
    text = tk.normalise(text)
    tokens = [e.value.lower() for e in find_entities(text) if e.kind in tk.EXACT_KINDS]
    for match in tk._RUNS.finditer(text.lower()):
        run = match.group(0)
        if tk._CJK_RUN.match(run):
            tokens.extend(tk.cjk_bigrams(run))
        elif run.isdigit():
            tokens.append(run)
        else:
            tokens.extend(tk.word_terms(run))
    return tokens


def plain_filter_entities(text: str) -> frozenset[str]:
    return frozenset(e.value for e in find_entities(tk.normalise(text)) if e.kind in tk.EXACT_KINDS)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def corpus_texts() -> list[str]:
    """Every string in the data sets at hand: LoCoMo, the retrieval and conversation sets, labelled turns."""
    texts: list[str] = []
    for folder in (SHARED_DATA, ROOT / "tests" / "data"):
        for path in sorted(folder.glob("*.json*")) if folder.is_dir() else ():
            raw = path.read_text(encoding="utf-8")
            lines = raw.splitlines() if path.suffix == ".jsonl" else [raw]
            texts.extend(strings([json.loads(line) for line in lines if line.strip()]))
    return texts


TRICKY = [
    "ssh to 10.0.0.12 now",
    "check /var/log/nginx/error.log please",
    "C:\\Users\\mia\\notes.txt and ~/bin/run",
    "146服务器上部署, server 146, 12号服务器, box #77",
    "１４６号服务器 Caroline’s dogs don't can't won't o'brien",
    "gpt4模型 abc中文 ² ① ٣٤ ߁ x²y",
    "I'm not going, no; 2023-05-08 at 7am 她喜欢画画",
    "",
    "   ,.!?",
    "ǅemal İstanbul ſtraße Ⅻ ｆｕｌｌ",
]


def test_fast_tokenizer_equals_the_plain_one_on_every_text_at_hand() -> None:
    texts = list(dict.fromkeys(TRICKY + corpus_texts() + list(_synthetic_texts(3000, 5))))
    assert len(texts) > 6000
    for text in texts:
        assert tk.tokenize(text) == plain_tokenize(text), text
        assert tk.filter_entities(text) == plain_filter_entities(text), text


def test_cached_runs_give_the_same_tokens_on_a_second_pass() -> None:
    texts = TRICKY + list(_synthetic_texts(500, 9))
    first = [tk.tokenize(text) for text in texts]
    tk._run_terms.cache_clear()
    assert [tk.tokenize(text) for text in texts] == first


ALPHABET = st.sampled_from(list("aAbeiosnt '’-./\\:#0123456789 服务器号中文喜欢²①٣ſİ\u4dc0\u3400"))


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_fast_tokenizer_equals_the_plain_one_on_random_texts(text: str) -> None:
    assert tk.tokenize(text) == plain_tokenize(text)
    assert tk.filter_entities(text) == plain_filter_entities(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fast_tokenizer_equals_the_plain_one_on_any_unicode(text: str) -> None:
    assert tk.tokenize(text) == plain_tokenize(text)
