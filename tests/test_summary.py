"""Summaries: the offline fallback, a model-written summary, and failures that keep the window."""

from __future__ import annotations

from fakes import ScriptedChatModel, failing, slow

from memory_core import fallback_summary, summarise_window

TURNS = [("我喜欢喝乌龙茶", "记住了"), ("我在准备雅思", "加油"), ("我妹妹叫安娜", "好名字"), ("周末去爬山", "好")]


def test_the_offline_summary_lists_the_first_n_facts() -> None:
    assert fallback_summary(TURNS, 3) == "我喜欢喝乌龙茶\n我在准备雅思\n我妹妹叫安娜"
    assert summarise_window(None, TURNS, 2).by == "fallback"


def test_the_offline_summary_holds_no_question_greeting_or_repeat() -> None:
    turns = [("hi", "hello"), ("What's the capital of Peru?", "Lima"), ("I'm allergic to shellfish.", "noted"),
             ("我喜欢喝什么茶？", "乌龙"), ("I'm allergic to shellfish!", "yes"), ("Can you tell me a joke?", "..."),
             ("My sister Anna lives in Lisbon.", "nice")]  # fmt: skip
    assert fallback_summary(turns, 3) == "I'm allergic to shellfish.\nMy sister Anna lives in Lisbon."


def test_a_window_with_nothing_lasting_has_no_summary() -> None:
    turns = [("What's the capital of Peru?", "Lima"), ("thanks!", "any time")]
    assert fallback_summary(turns, 3) == "" and summarise_window(None, turns, 3).text == ""


def test_model_summary_is_cut_to_max_items() -> None:
    model = ScriptedChatModel("- likes oolong\n- preparing IELTS\n- sister Anna\n- hiking")
    summary = summarise_window(model, TURNS, 3, name="Mia")
    assert (summary.by, summary.text, summary.dropped) == ("llm", "- likes oolong\n- preparing IELTS\n- sister Anna", 1)
    prompt = model.calls[0][-1].content
    assert "at most 3" in prompt
    assert "The user: 我喜欢喝乌龙茶\nMia: 记住了" in prompt  # both speakers named, the character by its name
    assert "never attribute the user's facts to Mia" in model.calls[0][0].content
    assert summary.call is not None and summary.call.purpose == "summary" and summary.call.ok


def test_failures_fall_back_and_say_why() -> None:
    broken = summarise_window(ScriptedChatModel(failing(ConnectionError("refused"))), TURNS, 3)
    assert broken.by == "fallback"
    assert broken.text == fallback_summary(TURNS, 3)
    assert "ConnectionError" in broken.error
    empty = summarise_window(ScriptedChatModel("   "), TURNS, 3)
    assert (empty.by, empty.error) == ("fallback", "empty summary")
    late = summarise_window(ScriptedChatModel(slow(1.0, "- too late")), TURNS, 3, timeout_ms=50)
    assert (late.by, late.error) == ("fallback", "timeout after 50 ms")


def test_points_about_the_character_are_left_out() -> None:
    turns = [("I moved to Porto last month", "Lovely! I adore jasmine tea myself")]
    answer = "- The user moved to Porto last month\n- Mia adores jasmine tea\n- The user adores jasmine tea"
    summary = summarise_window(ScriptedChatModel(answer), turns, 3, name="Mia")
    assert (summary.by, summary.text, summary.not_user) == ("llm", "- The user moved to Porto last month", 2)
    only_hers = summarise_window(ScriptedChatModel("- Mia adores jasmine tea"), turns, 3, name="Mia")
    assert (only_hers.by, only_hers.error) == ("fallback", "no point about the user")
    assert only_hers.text == "I moved to Porto last month"
