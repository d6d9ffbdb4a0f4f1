"""The memory block's token budget: the estimate, the fit in rank order, the setting, the trace, the view."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fakes import ScriptedChatModel

from memory_core import ConfigurationError, MemoryEngine, NewItem, Scope, SQLiteStore, Tuning, load_settings
from memory_core.injection import (
    BlockBudget,
    LeftOut,
    estimate_tokens,
    fit_block,
    memory_block,
    pipecat_block,
    tuned_block,
)
from memory_core.models import MemoryItem
from memory_core.reply.offline import restate
from memory_core.views import block_size

Factory = Callable[..., MemoryEngine]


def item(text: str, category: str = "", item_id: str = "") -> MemoryItem:
    return MemoryItem(text=text, category=category, type="note", id=item_id or text[:8], confidence="", source="t",
                      metadata={}, profile_id="p", character_id="c", library_id="l",
                      created_at="2025-11-01T00:00:00.000000Z", updated_at="2025-11-01T00:00:00.000000Z")  # fmt: skip


# The estimate


def test_empty_text_takes_no_tokens() -> None:
    assert estimate_tokens("") == 0


def test_chinese_counts_a_token_a_character_punctuation_included() -> None:
    assert estimate_tokens("我喜欢喝乌龙茶，不加糖") == 11
    assert estimate_tokens("東京に住んでいます。") == 10  # kana and CJK punctuation too
    assert estimate_tokens("저는 서울에 살아요") == 8 + 1  # Hangul; the two spaces take half a token, rounded up


def test_english_counts_four_letters_a_token_and_digits_and_punctuation_one_each() -> None:
    assert estimate_tokens("I prefer concise answers without emoji") == 10  # 38 characters
    assert estimate_tokens("a") == 1  # rounded up
    assert estimate_tokens("Rent is 1450.") == 2 + 5  # 8 letters and spaces, 4 digits and a full stop


def test_mixed_text_adds_the_parts() -> None:
    # 7 CJK characters (the full-width comma is one), 2 brackets, 20 letters and spaces: 7 + 2 + 5
    assert estimate_tokens("我喜欢 oolong tea，不加糖 (no sugar)") == 7 + 2 + 5
    assert estimate_tokens("Моя сестра") == 5  # other scripts: half a token a character


def test_more_text_never_takes_fewer_tokens() -> None:
    text = "My dog is called Biscuit, 我的狗叫饼干, Моя собака"
    assert [estimate_tokens(text[:n]) for n in range(len(text) + 1)] == sorted(
        estimate_tokens(text[:n]) for n in range(len(text) + 1)
    )


# The fit, in rank order


def test_budget_zero_keeps_every_memory() -> None:
    items = [item("x" * 4000, item_id="long"), item("likes tea", item_id="tea")]
    block, fitted = fit_block(items, memory_block, 0)
    assert block == memory_block(items)
    assert fitted == BlockBudget(estimate_tokens(block), 0, (), "")


def test_a_too_long_memory_is_left_out_whole_and_a_later_shorter_one_still_fits() -> None:
    items = [item("likes oolong tea", item_id="a"), item("word " * 40, item_id="long"), item("has a dog", item_id="c")]
    budget = estimate_tokens(memory_block([items[0], items[2]]))
    block, fitted = fit_block(items, memory_block, budget)
    assert block == "Relevant long-term memories:\n- likes oolong tea\n- has a dog"
    assert fitted.left_out == (LeftOut("long", estimate_tokens(("word " * 40).strip())),)
    assert fitted.tokens == budget and fitted.budget == budget
    assert fitted.note == f"1 of 3 memories left out to stay within {budget} tokens"


def test_a_lower_ranked_memory_never_displaces_a_higher_ranked_one() -> None:
    first, second = item("a fairly long first memory about tea", item_id="first"), item("short", item_id="second")
    budget = estimate_tokens(memory_block([first]))  # room for the first, or for the second, not for both
    block, fitted = fit_block([first, second], memory_block, budget)
    assert block == memory_block([first])
    assert [m.id for m in fitted.left_out] == ["second"]


def test_the_header_counts() -> None:
    memory = item("likes tea")
    whole = estimate_tokens(memory_block([memory]))
    assert whole > estimate_tokens("- likes tea")
    assert fit_block([memory], memory_block, whole)[0] == memory_block([memory])
    block, fitted = fit_block([memory], memory_block, whole - 1)
    assert block == "" and fitted.tokens == 0
    assert fitted.note == (
        f"nothing injected: no memory fits the budget of {whole - 1} tokens (the smallest block takes ≈ {whole})"
    )


def test_a_new_section_costs_its_label_too() -> None:
    tea = item("likes oolong tea", "user_preference", "tea")
    anna = item("sister Anna lives in Lisbon", "entity_relation", "anna")
    line_only = estimate_tokens(memory_block([tea])) + estimate_tokens("\n- sister Anna lives in Lisbon")
    block, fitted = fit_block([tea, anna], memory_block, line_only)
    assert block == memory_block([tea]) and [m.id for m in fitted.left_out] == ["anna"]
    with_label = estimate_tokens(memory_block([tea, anna]))
    assert fit_block([tea, anna], memory_block, with_label)[0] == memory_block([tea, anna])


def test_grouped_rank_order_holds_across_sections() -> None:
    tea = item("likes oolong tea", "user_preference", "tea")
    anna = item("sister Anna lives in Lisbon", "entity_relation", "anna")
    short = item("no sugar", "user_preference", "short")
    with_tea = estimate_tokens(memory_block([tea, short]))
    assert estimate_tokens(memory_block([tea, anna])) > with_tea
    block, fitted = fit_block([tea, anna, short], memory_block, with_tea)
    assert block == "Relevant user memories:\n\nPreferences:\n- likes oolong tea\n- no sugar"
    assert [m.id for m in fitted.left_out] == ["anna"]


def test_pipecat_style_counts_its_system_prompt_and_renumbers() -> None:
    items = [item("likes tea", item_id="a"), item("word " * 40, item_id="long"), item("has a dog", item_id="c")]
    budget = estimate_tokens("MEM: 1. likes tea\n\n2. has a dog\n\n")
    tuning = Tuning(injection_style="pipecat", pipecat_system_prompt="MEM: ", memory_token_budget=budget)
    block, fitted = tuned_block(items, tuning)
    assert block == pipecat_block([items[0], items[2]], "MEM: ") == "MEM: 1. likes tea\n\n2. has a dog\n\n"
    assert [m.id for m in fitted.left_out] == ["long"] and fitted.tokens == budget


def test_blank_memories_are_skipped_not_left_out_for_the_budget() -> None:
    block, fitted = fit_block([item("  "), item("likes tea")], memory_block, 600)
    assert block == "Relevant long-term memories:\n- likes tea" and fitted.left_out == ()


# The setting


def test_the_budget_is_a_tuning_variable_with_a_default_of_600() -> None:
    assert load_settings({}).tuning().memory_token_budget == 600
    assert load_settings({"MEMTUNE_MEMORY_TOKEN_BUDGET": "0"}).tuning().memory_token_budget == 0
    assert Tuning().with_changes(memory_token_budget=250).memory_token_budget == 250
    assert Tuning().as_env()["MEMTUNE_MEMORY_TOKEN_BUDGET"] == "600"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-1", "MEMTUNE_MEMORY_TOKEN_BUDGET must be between 0 and 100000, got '-1'"),
        ("600.5", "MEMTUNE_MEMORY_TOKEN_BUDGET must be an integer, got '600.5'"),
        ("lots", "MEMTUNE_MEMORY_TOKEN_BUDGET must be an integer, got 'lots'"),
    ],
)
def test_a_negative_or_non_integer_budget_is_rejected(raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"MEMTUNE_MEMORY_TOKEN_BUDGET": raw})
    assert str(caught.value) == message


def test_a_session_budget_is_validated_like_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"memory_token_budget \(MEMTUNE_MEMORY_TOKEN_BUDGET\) must be"):
        Tuning().with_changes(memory_token_budget=-5)


# A turn


LONG = "我喜欢喝什么茶？" + "我喜欢喝茶，特别是下午" * 6


def seed(store: SQLiteStore, scope: Scope) -> dict[str, str]:
    store.ensure_library(scope)
    written = store.add_items(
        scope,
        [
            NewItem(text, "preference", "user_preference")
            for text in ("我喜欢喝乌龙茶，不加糖", LONG, "我喜欢喝茶，也喜欢咖啡", "我喜欢喝咖啡")
        ],
    )
    return {item.text: item.id for item in written}


def test_a_turns_trace_records_what_the_budget_left_out(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    ids = seed(store, scope)
    model = ScriptedChatModel("乌龙茶，不加糖。")
    engine = engine_factory(chat_model=model, settings=load_settings({"MEMTUNE_MEMORY_TOKEN_BUDGET": "40"}))
    trace = engine.run_turn(engine.open_session(scope, enabled=True), "还记得我喜欢喝什么茶吗")
    fitted = trace.block_budget
    assert trace.hits[0].item.id == ids[LONG] and fitted.left_out[0] == LeftOut(ids[LONG], estimate_tokens(LONG))
    left_out = {m.id for m in fitted.left_out}
    kept = [h.item for h in trace.hits if h.item.id not in left_out]
    assert kept and trace.memory_block == memory_block(kept)  # later, shorter memories fit, in rank order
    assert fitted.budget == 40 and 0 < fitted.tokens <= 40 and fitted.tokens == estimate_tokens(trace.memory_block)
    assert "特别是下午" not in model.calls[0][-1].content  # the model never saw the long one
    assert trace.to_dict()["block_budget"]["left_out"][0] == {"id": ids[LONG], "tokens": estimate_tokens(LONG)}


def test_the_offline_reply_quotes_only_what_the_block_holds(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    seed(store, scope)
    engine = engine_factory(settings=load_settings({"MEMTUNE_MEMORY_TOKEN_BUDGET": "40"}))
    trace = engine.run_turn(engine.open_session(scope, enabled=True), "还记得我喜欢喝什么茶吗")
    left_out = {m.id for m in trace.block_budget.left_out}
    assert left_out and trace.reply_by == "offline"
    for hit in trace.hits:
        assert (restate(hit.item.text) in trace.reply) == (hit.item.id not in left_out), hit.item.text


def test_when_nothing_fits_nothing_is_injected_and_the_trace_says_why(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    seed(store, scope)
    engine = engine_factory(settings=load_settings({"MEMTUNE_MEMORY_TOKEN_BUDGET": "5"}))
    trace = engine.run_turn(engine.open_session(scope, enabled=True), "还记得我喜欢喝什么茶吗")
    assert trace.hits and trace.memory_block == "" and trace.block_index == -1
    assert trace.messages[-1].content == "还记得我喜欢喝什么茶吗"
    assert len(trace.block_budget.left_out) == len(trace.hits)
    assert trace.block_budget.note.startswith("nothing injected: no memory fits the budget of 5 tokens")
    first, *left_out = block_size(trace).split("\n")
    assert first == f"**Memory block** {trace.block_budget.note}" and len(left_out) == len(trace.hits)


# The inspector's view


def test_the_view_shows_the_size_and_each_memory_left_out_as_text(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    store.ensure_library(scope)
    markup = "likes tea <img src=x onerror=alert(1)> **bold** " + "x" * 200
    store.add_items(scope, [NewItem("likes tea, oolong", "preference"), NewItem(markup, "preference")])
    engine = engine_factory(settings=load_settings({"MEMTUNE_MEMORY_TOKEN_BUDGET": "60"}))
    trace = engine.run_turn(engine.open_session(scope, enabled=True), "do you remember which tea I like?")
    shown = block_size(trace)
    first, second = shown.split("\n")
    tokens = trace.block_budget.tokens
    assert first == f"**Memory block** ≈ {tokens} tokens of 60 · 1 of 2 memories left out to stay within 60 tokens"
    assert second.startswith(f"- left out for the budget: `{trace.block_budget.left_out[0].id}` ≈ ")
    assert "&lt;img src=x onerror=alert(1)&gt; \\*\\*bold\\*\\*" in second and second.endswith("…")


def test_the_view_says_nothing_extra_when_nothing_was_left_out(
    engine_factory: Factory, store: SQLiteStore, scope: Scope
) -> None:
    seed(store, scope)
    engine = engine_factory()
    trace = engine.run_turn(engine.open_session(scope, enabled=True), "还记得我喜欢喝什么茶吗")
    assert block_size(trace) == f"**Memory block** ≈ {trace.block_budget.tokens} tokens of 600"
    quiet = engine.run_turn(engine.open_session(scope, enabled=True), "hello")
    assert block_size(quiet) == ""  # nothing recalled: no block, no line
